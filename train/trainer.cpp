// The training engine (see trainer.h).
#include "train/trainer.h"

#include <chrono>
#include <cmath>

#include "models/sync_batch_norm.h"
#include "train/device.h"
#include "train/errors.h"
#include "train/optimizer.h"

namespace bnx::train {
namespace {

using Clock = std::chrono::steady_clock;

int64_t total_steps_of(const Config& c, int64_t steps_per_epoch) {
  if (c.train.steps > 0) return c.train.steps;
  return std::max<int64_t>(1, std::llround(c.train.epochs * static_cast<double>(steps_per_epoch)));
}

}  // namespace

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

Trainer::Trainer(Session session, std::string config_text)
    : session_(std::move(session)),
      config_text_(std::move(config_text)),
      sampler_(session_.train_set->size(), session_.config.train.batch_size, session_.world->rank(),
               session_.world->size(), session_.config.train.seed, session_.config.train.shuffle) {
  const Config& c = session_.config;
  total_steps_ = total_steps_of(c, sampler_.steps_per_epoch());
  optimizer_ = make_optimizer(c.optim, *session_.model);
  parameters_ = session_.model->parameters();
  if (c.train.precision == Precision::kFloat16) scaler_.emplace();
  schedule_ = ScheduleContext{c.optim.lr, sampler_.steps_per_epoch(), total_steps_, c.train.batch_size};
  if (session_.world->size() > 1) {
    dist::GradientReducerOptions o;
    o.bucket_bytes = static_cast<int64_t>(c.dist.bucket_mb * (1 << 20));
    o.overlap = c.dist.overlap;
    reducer_ = std::make_unique<dist::GradientReducer>(session_.world, *session_.model, o);
  }
}

Trainer::~Trainer() = default;

void Trainer::add_callback(std::shared_ptr<Callback> callback) { callbacks_.push_back(std::move(callback)); }

double Trainer::learning_rate_at(int64_t step) const { return learning_rate(config().schedule, schedule_, step); }

double Trainer::epoch_at(int64_t step) const {
  return static_cast<double>(examples_at(step)) / static_cast<double>(session_.train_set->size());
}

void Trainer::restore(Checkpoint& ckpt) {
  if (ckpt.meta.model_name != config().model.name) {
    throw CheckpointError(ckpt.path + ": holds model '" + ckpt.meta.model_name + "' but the config asks for '" +
                          config().model.name + "'");
  }
  load_state(ckpt, models::state_dict(model()));
  if (ckpt.optimizer) optimizer_->load(*ckpt.optimizer);
  if (ckpt.rng_state.defined()) set_cpu_rng_state(ckpt.rng_state);
  set_cuda_rng_states(ckpt.cuda_rng_states);
  if (scaler_ && ckpt.meta.loss_scale > 0) scaler_->restore(ckpt.meta.loss_scale, ckpt.meta.loss_scale_clean_steps);
  step_ = ckpt.meta.step;
}

FitEnd Trainer::fit() {
  model().train();
  for_each_callback([&](Callback& c) { c.on_fit_start(*this); });
  if (agree_to_stop(stop_requested_)) stopping_ = true;  // e.g. a resumed run that already ended on a plateau
  try {
    while (step_ < total_steps_ && !stopping_) run_epoch();
  } catch (const TrainingError& e) {
    for_each_callback([&](Callback& c) { c.on_fit_failed(*this, e.what()); });
    throw;
  }
  const FitEnd end = stopping_ ? FitEnd::kStopped : FitEnd::kFinished;
  for_each_callback([&](Callback& c) { c.on_fit_end(*this, end); });
  return end;
}

void Trainer::run_epoch() {
  const int64_t spe = sampler_.steps_per_epoch();
  const int64_t epoch = step_ / spe;
  auto batches = sampler_.local_epoch(epoch, step_ % spe);
  batches.resize(static_cast<size_t>(std::min<int64_t>(total_steps_, (epoch + 1) * spe) - step_));
  data::Loader loader(session_.train_set, session_.train_transform, session_.loader, std::move(batches),
                      config().train.seed, epoch);
  auto waiting = Clock::now();
  while (auto batch = loader.next()) {
    const double wait = std::chrono::duration<double>(Clock::now() - waiting).count();
    StepStats stats = step(*batch);
    stats.data_wait_s = wait;
    for_each_callback([&](Callback& c) { c.on_step_end(*this, stats); });
    if (stopping_) return;
    waiting = Clock::now();  // evaluations and checkpoints in the callbacks are not waiting for data
  }
}

StepStats Trainer::step(const data::Batch& batch) {
  const Config& c = config();
  const torch::Device device = session_.device;
  StepStats s;
  s.lr = learning_rate_at(step_);
  set_learning_rate(*optimizer_, s.lr);
  optimizer_->zero_grad();
  torch::Tensor labels = batch.labels.to(device, /*non_blocking=*/true);                    // (n,)
  torch::Tensor images = images_to(batch.images, device, c.transform.mean, c.transform.std);  // (n, C, H, W)
  const double n = static_cast<double>(batch.labels.size(0));  // this rank's shard (may be 0)
  torch::Tensor logits, loss;
  {
    AutocastScope autocast(device, c.train.precision);
    logits = model().forward(images);  // (n, classes)
    // An empty shard still runs forward and backward: SyncBatchNorm's collectives need every rank.
    loss = n > 0 ? torch::nn::functional::cross_entropy(
                       logits, labels,
                       torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(c.train.label_smoothing))
                 : logits.sum() * 0.0;
  }
  // The update is the one-process update on the global batch of B: the reducer averages over the W
  // ranks, so this rank's mean loss is weighted by n W / B (exactly 1 for equal shards).
  const double weight = n * world().size() / static_cast<double>(c.train.batch_size);
  torch::Tensor objective = weight == 1.0 ? loss : loss * weight;
  (scaler_ ? scaler_->scale(objective) : objective).backward();
  if (reducer_) reducer_->finish();
  // fp16: gradients that overflowed (the same on every rank, after averaging) skip the update.
  const bool finite_grads = !scaler_ || scaler_->unscale_and_check(parameters_);
  if (scaler_) scaler_->update(finite_grads);

  // One small allreduce per update: loss, accuracy, and whether any rank must stop.
  auto [c1, c5] = correct_counts(logits.detach(), labels);
  const int signal = stop_source_ ? stop_source_() : 0;
  torch::Tensor totals =
      torch::tensor({loss.item<double>() * n, double(c1), double(c5), n, double(signal != 0)}, torch::kFloat64);
  world().allreduce(totals, dist::ReduceOp::kSum);
  s.loss_sum = totals[0].item<double>();
  s.top1 = totals[1].item<double>();
  s.top5 = totals[2].item<double>();
  s.count = totals[3].item<double>();
  const double global_loss = s.loss_sum / s.count;
  if (!std::isfinite(global_loss)) {
    throw TrainingError("non-finite loss (" + std::to_string(global_loss) + ") at step " + std::to_string(step_ + 1) +
                        "; stopping without a checkpoint of this state (lower optim.lr?)");
  }
  if (finite_grads) optimizer_->step();
  s.step = ++step_;
  if (totals[4].item<double>() > 0) {
    stopping_ = true;
    by_signal_ = true;
    stop_reason_ = signal != 0 ? "signal " + std::to_string(signal) : "a signal on another rank";
  }
  return s;
}

EvalResult Trainer::evaluate() {
  average_bn_statistics(model(), config(), world());
  const auto start = Clock::now();
  EvalResult r = train::evaluate(model(), session_.val_set, session_.eval_transform, session_.loader,
                                 config().eval.batch_size, world());
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for_each_callback([&](Callback& c) { c.on_eval_end(*this, r); });
  if (agree_to_stop(stop_requested_)) stopping_ = true;
  return r;
}

void Trainer::request_stop(const std::string& reason) {
  stop_requested_ = true;
  stop_reason_ = reason;
}

bool Trainer::agree_to_stop(bool local) {
  const bool any = world().allreduce_scalar(static_cast<int64_t>(local), dist::ReduceOp::kMax) > 0;
  if (any && stop_reason_.empty()) stop_reason_ = "a stop request on another rank";
  return any;
}

void Trainer::save(const std::string& path) {
  average_bn_statistics(model(), config(), world());
  if (!lead()) return;
  CheckpointMeta meta;
  meta.step = step_;
  meta.examples = examples_at(step_);
  meta.world_size = world().size();
  meta.model_name = config().model.name;
  meta.config_yaml = config_text_;
  meta.torch_version = TORCH_VERSION;
  meta.in_channels = session_.train_set->channels();
  meta.num_classes = config().model.num_classes > 0 ? config().model.num_classes : session_.train_set->num_classes();
  if (scaler_) {
    meta.loss_scale = scaler_->current_scale();
    meta.loss_scale_clean_steps = scaler_->clean_steps();
  }
  write_checkpoint(path, models::state_dict(model()), optimizer_.get(), meta);
}

}  // namespace bnx::train
