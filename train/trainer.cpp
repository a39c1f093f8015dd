// The training loop (see trainer.h).
#include "train/trainer.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "data/loader.h"
#include "data/sampler.h"
#include "dist/gradient_reducer.h"
#include "models/registry.h"
#include "models/sync_batch_norm.h"
#include "train/checkpoint.h"
#include "train/device.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/signals.h"

namespace fs = std::filesystem;

namespace bnx::train {

DataBundle make_data(const Config& c) {
  DataBundle d;
  d.train = data::make_dataset(c.data, true);
  d.val = data::make_dataset(c.data, false);
  const int64_t channels = d.train->channels();
  if (static_cast<int64_t>(c.transform.mean.size()) != channels) {
    throw ConfigError("data.mean/data.std have " + std::to_string(c.transform.mean.size()) + " values but the " +
                      "images have " + std::to_string(channels) + " channel(s)");
  }
  d.train_transform = std::make_shared<data::Transform>(c.transform, true, channels);
  d.eval_transform = std::make_shared<data::Transform>(c.transform, false, channels);
  return d;
}

std::shared_ptr<models::Model> make_model_for(const Config& c, const DataBundle& d,
                                              std::shared_ptr<dist::Communicator> comm) {
  models::ModelOptions o = c.model;
  o.in_channels = d.train->channels();
  if (o.num_classes == 0) o.num_classes = d.train->num_classes();
  o.comm = std::move(comm);
  return models::make_model(o, c.transform.crop_size);
}

int threads_for(const Config& c, const dist::Communicator& comm) {
  if (c.train.threads > 0) return c.train.threads;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, comm.local_size()));
}

void average_bn_statistics(models::Model& model, const Config& c, dist::Communicator& comm) {
  if (c.model.norm != models::Norm::kBatch || comm.size() == 1) return;
  std::vector<torch::Tensor> stats;
  for (auto& m : model.modules(false)) {
    if (auto* bn = m->as<models::SyncBatchNormImpl>()) {
      if (bn->running_mean.defined()) {
        stats.push_back(bn->running_mean);
        stats.push_back(bn->running_var);
      }
    }
  }
  torch::NoGradGuard no_grad;
  comm.allreduce_coalesced(stats, dist::ReduceOp::kAvg);
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

}  // namespace

int train(const Config& config, std::shared_ptr<dist::Communicator> world, const RunOptions& run) {
  const bool lead = world->rank() == 0;
  const int w = world->size();
  torch::set_num_threads(threads_for(config, *world));
  install_stop_handlers();

  // Everything that can reject the config happens before anything is written.
  const torch::Device device = select_device(config.train.device, *world);
  if (config.train.precision == Precision::kFloat16 && !device.is_cuda()) {
    throw ConfigError("train.precision: fp16 needs a CUDA device (LibTorch's CPU autocast runs bf16 only); use bf16");
  }
  world = communicator_for(device, std::move(world), config.dist.nccl_timeout_s);
  data::LoaderOptions loader_options = config.loader;
  if (device.is_cuda()) loader_options.uint8_output = loader_options.pin_memory = true;  // normalized on the GPU
  DataBundle data = make_data(config);
  data::DistributedSampler sampler(data.train->size(), config.train.batch_size, world->rank(), w, config.train.seed,
                                   config.train.shuffle);
  const int64_t spe = sampler.steps_per_epoch();
  const int64_t total_steps = config.train.steps > 0
                                  ? config.train.steps
                                  : std::max<int64_t>(1, std::llround(config.train.epochs * static_cast<double>(spe)));
  torch::manual_seed(config.train.seed);
  auto model = make_model_for(config, data, world);
  model->to(device);
  auto optimizer = make_optimizer(config.optim, *model);
  std::vector<torch::Tensor> parameters = model->parameters();
  std::optional<LossScaler> scaler;
  if (config.train.precision == Precision::kFloat16) scaler.emplace();
  const auto state = models::state_dict(*model);

  std::optional<Checkpoint> resumed;
  if (run.resume == "auto") {
    resumed = latest_checkpoint(run.out_dir, std::cerr);
  } else if (!run.resume.empty()) {
    resumed = read_checkpoint(run.resume);
  } else if (!list_checkpoints(run.out_dir).empty()) {
    throw ConfigError(run.out_dir + " already has checkpoints: pass --resume auto to continue, or another --out");
  }
  int64_t step = 0;
  if (resumed) {
    if (resumed->meta.model_name != config.model.name) {
      throw CheckpointError(resumed->path + ": holds model '" + resumed->meta.model_name + "' but the config asks for '" +
                            config.model.name + "'");
    }
    load_state(*resumed, state);
    if (resumed->optimizer) optimizer->load(*resumed->optimizer);
    if (resumed->rng_state.defined()) set_cpu_rng_state(resumed->rng_state);
    if (scaler && resumed->meta.loss_scale > 0) scaler->restore(resumed->meta.loss_scale, resumed->meta.loss_scale_clean_steps);
    step = resumed->meta.step;
    if (step >= total_steps) {
      if (lead) std::cout << resumed->path << ": the run is already complete (" << step << " steps)" << std::endl;
      return kExitOk;
    }
  }
  // Same parameters and buffers everywhere (rank 0's), and a check that the models agree.
  dist::GradientReducerOptions reducer_options;
  reducer_options.bucket_bytes = static_cast<int64_t>(config.dist.bucket_mb * (1 << 20));
  reducer_options.overlap = config.dist.overlap;
  dist::NamedTensors params, buffers;
  for (auto& p : model->named_parameters()) params.emplace_back(p.key(), p.value());
  for (auto& b : model->named_buffers()) buffers.emplace_back(b.key(), b.value());
  std::unique_ptr<dist::GradientReducer> reducer;
  if (w > 1) reducer = std::make_unique<dist::GradientReducer>(world, params, buffers, reducer_options);

  const std::string config_yaml = to_yaml(config);
  std::unique_ptr<MetricsLog> metrics;
  std::unique_ptr<Progress> progress;
  if (lead) {
    fs::create_directories(run.out_dir);
    write_text(fs::path(run.out_dir) / "config.yaml", config_yaml);
    nlohmann::json header = {{"bnx_version", BNX_VERSION},
                             {"torch_version", TORCH_VERSION},
                             {"world_size", w},
                             {"threads_per_rank", torch::get_num_threads()},
                             {"model", config.model.name},
                             {"parameters", models::parameter_count(*model)},
                             {"train_examples", data.train->size()},
                             {"val_examples", data.val->size()},
                             {"steps_per_epoch", spe},
                             {"total_steps", total_steps},
                             {"resumed_from_step", resumed ? resumed->meta.step : -1}};
    write_text(fs::path(run.out_dir) / "run.json", header.dump(2) + "\n");
    metrics = std::make_unique<MetricsLog>((fs::path(run.out_dir) / "metrics.jsonl").string(),
                                           resumed ? resumed->meta.step : 0);
    progress = std::make_unique<Progress>(total_steps, ::isatty(STDOUT_FILENO));
    progress->message("bnx " BNX_VERSION " | LibTorch " TORCH_VERSION " | " + config.name + ": " + config.model.name +
                      ", " + std::to_string(models::parameter_count(*model)) + " parameters | " + std::to_string(w) +
                      " rank(s) x " + std::to_string(torch::get_num_threads()) + " threads | " +
                      std::to_string(total_steps) + " steps of " + std::to_string(config.train.batch_size) +
                      (resumed ? " | resumed from " + resumed->path : ""));
  }

  const ScheduleContext schedule{config.optim.lr, spe, total_steps, config.train.batch_size};
  const auto start = Clock::now();
  auto window_start = Clock::now();
  int64_t window_steps = 0;
  double window_loss = 0, window_top1 = 0, window_top5 = 0, window_count = 0;
  const double train_size = static_cast<double>(data.train->size());
  auto examples_at = [&](int64_t s) { return s * config.train.batch_size; };

  auto save = [&](int64_t at_step) {
    average_bn_statistics(*model, config, *world);
    if (!lead) return;
    CheckpointMeta meta;
    meta.step = at_step;
    meta.examples = examples_at(at_step);
    meta.world_size = w;
    meta.model_name = config.model.name;
    meta.config_yaml = config_yaml;
    meta.torch_version = TORCH_VERSION;
    if (scaler) {
      meta.loss_scale = scaler->current_scale();
      meta.loss_scale_clean_steps = scaler->clean_steps();
    }
    write_checkpoint((fs::path(run.out_dir) / checkpoint_name(at_step)).string(), state, optimizer.get(), meta);
    prune_checkpoints(run.out_dir, config.checkpoint.keep);
  };
  auto run_eval = [&](int64_t at_step) {
    average_bn_statistics(*model, config, *world);
    auto t0 = Clock::now();
    EvalResult r = evaluate(*model, data.val, data.eval_transform, loader_options, config.eval.batch_size, *world);
    if (lead) {
      MetricsRecord rec{"eval", at_step, examples_at(at_step) / train_size, examples_at(at_step),
                        learning_rate(config.schedule, schedule, std::max<int64_t>(0, at_step - 1)),
                        r.loss, r.top1, r.top5, r.count / std::max(1e-9, seconds_since(t0)), seconds_since(start), r.count};
      metrics->write(rec);
      char line[200];
      std::snprintf(line, sizeof(line), "eval  step %lld  loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%lld examples)",
                    static_cast<long long>(at_step), r.loss, 100 * r.top1, 100 * r.top5, static_cast<long long>(r.count));
      progress->message(line);
    }
  };

  // Fault injection for the failure tests: BNX_FAULT_RANK=r BNX_FAULT_STEP=s throws on rank r at step s.
  const char* fault_rank = std::getenv("BNX_FAULT_RANK");
  const char* fault_step = std::getenv("BNX_FAULT_STEP");
  const int64_t fault_at = (fault_rank && fault_step && std::atoi(fault_rank) == world->rank()) ? std::atoll(fault_step) : -1;

  model->train();
  const auto smoothing = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(config.train.label_smoothing);
  bool last_evaluated = false;
  while (step < total_steps) {
    const int64_t epoch = step / spe;
    auto batches = sampler.local_epoch(epoch, step % spe);
    const int64_t epoch_end = std::min<int64_t>(total_steps, (epoch + 1) * spe);
    batches.resize(static_cast<size_t>(epoch_end - step));
    data::Loader loader(data.train, data.train_transform, loader_options, std::move(batches), config.train.seed, epoch);
    while (auto batch = loader.next()) {
      if (step + 1 == fault_at) throw std::runtime_error("injected fault at step " + std::to_string(fault_at) + " (BNX_FAULT_STEP)");
      const double lr = learning_rate(config.schedule, schedule, step);
      set_learning_rate(*optimizer, lr);
      optimizer->zero_grad();
      torch::Tensor labels = batch->labels.to(device, /*non_blocking=*/true);  // (B / W,)
      torch::Tensor images = images_to(batch->images, device, config.transform.mean, config.transform.std);
      torch::Tensor logits, loss;
      {
        AutocastScope autocast(device, config.train.precision);
        logits = model->forward(images);  // (B / W, classes)
        loss = torch::nn::functional::cross_entropy(logits, labels, smoothing);  // float32 under autocast
      }
      (scaler ? scaler->scale(loss) : loss).backward();
      if (reducer) reducer->finish();
      // fp16: gradients that overflowed (the same on every rank, after averaging) skip the update.
      const bool finite_grads = !scaler || scaler->unscale_and_check(parameters);
      if (scaler) scaler->update(finite_grads);

      // One small allreduce per step: loss, accuracy, and whether any rank must stop.
      auto [c1, c5] = correct_counts(logits.detach(), labels);
      const double n = static_cast<double>(batch->labels.size(0));
      torch::Tensor stats = torch::tensor({loss.item<double>() * n, double(c1), double(c5), n, double(stop_signal() != 0)},
                                          torch::kFloat64);
      world->allreduce(stats, dist::ReduceOp::kSum);
      const double global_loss = stats[0].item<double>() / stats[3].item<double>();
      if (!std::isfinite(global_loss)) {
        throw TrainingError("non-finite loss (" + std::to_string(global_loss) + ") at step " + std::to_string(step + 1) +
                            "; stopping without a checkpoint of this state (lower optim.lr?)");
      }
      if (finite_grads) optimizer->step();
      ++step;
      ++window_steps;
      window_loss += stats[0].item<double>();
      window_top1 += stats[1].item<double>();
      window_top5 += stats[2].item<double>();
      window_count += stats[3].item<double>();
      last_evaluated = false;

      if (lead && (step % config.log.every_steps == 0 || step == total_steps)) {
        const double elapsed = seconds_since(window_start);
        const double ips = window_count / std::max(elapsed, 1e-9);
        MetricsRecord rec{"train", step, examples_at(step) / train_size, examples_at(step), lr,
                          window_loss / window_count, window_top1 / window_count, window_top5 / window_count, ips,
                          seconds_since(start), static_cast<int64_t>(window_count)};
        metrics->write(rec);
        const double eta = (total_steps - step) * elapsed / std::max<int64_t>(1, window_steps);
        progress->update(step, rec.epoch, rec.loss, lr, ips, eta);
        window_start = Clock::now();
        window_steps = 0;
        window_loss = window_top1 = window_top5 = window_count = 0;
      }
      if (config.eval.every_steps > 0 && step % config.eval.every_steps == 0) {
        const auto eval_start = Clock::now();
        run_eval(step);
        window_start += Clock::now() - eval_start;  // images/s counts training time only
        last_evaluated = true;
      }
      if (stats[4].item<double>() > 0) {
        save(step);
        if (lead) {
          progress->message("stopping at step " + std::to_string(step) + " on signal " + std::to_string(stop_signal()) +
                            " (other ranks may have received it); checkpoint written; exit code " +
                            std::to_string(kExitPreempted));
        }
        return kExitPreempted;
      }
      if (config.checkpoint.every_steps > 0 && step % config.checkpoint.every_steps == 0 && step < total_steps) {
        save(step);
      }
    }
  }
  if (!last_evaluated) run_eval(step);
  save(step);
  if (lead) progress->message("done: " + std::to_string(step) + " steps in " + std::to_string(seconds_since(start)) + " s; " + run.out_dir);
  return kExitOk;
}

}  // namespace bnx::train
