// bnx: the command-line program. Subcommands: train, eval, export, compare, convert.
// Exit codes: 0 success, 1 runtime failure, 2 usage/config/checkpoint error, 75 stopped by a
// preemption signal after writing a checkpoint. Only this file turns exceptions into exit codes.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "data/convert.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "dist/mpi_communicator.h"
#include "models/registry.h"
#include "train/bench.h"
#include "train/checkpoint.h"
#include "train/compare.h"
#include "train/config.h"
#include "train/device.h"
#include "train/evaluate.h"
#include "train/export.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace bnx;

namespace {

// glibc hands large freed blocks back to the kernel (mmap/trim) and every training step then
// faults the same activation memory back in, zeroing each page: about 10% of CPU step time went
// to the kernel. Keeping freed memory in the heap makes the steady state allocation-free; peak
// memory stays about the same (617 vs 628 MB in an 80-step run), since every step needs the same
// blocks again.
void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

struct TrainArgs {
  std::string config, out, resume;
  std::vector<std::string> set;
  bool print_config = false;
};

struct EvalArgs {
  std::string checkpoint, data, save;
  std::vector<std::string> set;
  int64_t recompute_bn = 0;
  bool ten_crop = false;
};

struct ExportArgs {
  std::string checkpoint, out;
  bool fold_bn = false;
};

struct CompareArgs {
  std::vector<std::string> runs;
  std::string baseline, markdown, svg;
  double target = -1;
  bool log_x = false;
};

struct ConvertArgs {
  std::string idx = "/usr/share/datasets/fashion-mnist", out;
  int64_t limit = 0, size = 0;
};

int run_train(const TrainArgs& a, dist::Communicator& comm, std::shared_ptr<dist::Communicator> world) {
  train::Config config = train::load_config(a.config, a.set);
  if (a.print_config) {
    if (comm.rank() == 0) std::cout << train::to_yaml(config);
    return 0;
  }
  train::RunOptions run{a.out.empty() ? "runs/" + config.name : a.out, a.resume};
  return train::train(config, std::move(world), run);
}

int run_eval(const EvalArgs& a, std::shared_ptr<dist::Communicator> world) {
  train::Checkpoint ckpt = train::read_checkpoint(a.checkpoint);
  std::vector<std::string> overrides = a.set;
  if (!a.data.empty()) overrides.push_back("data.root=" + a.data);
  train::Config config = train::parse_config(ckpt.meta.config_yaml, a.checkpoint + " (its config)", overrides);
  torch::set_num_threads(train::threads_for(config, *world));
  const torch::Device device = train::select_device(config.train.device, *world);
  world = train::communicator_for(device, world, config.dist.nccl_timeout_s);
  auto data = train::make_data(config);
  auto model = train::make_model_for(config, data, world);
  train::load_state(ckpt, models::state_dict(*model));
  model->to(device);
  if (a.recompute_bn > 0) {
    data::DistributedSampler sampler(data.train->size(), config.train.batch_size, world->rank(), world->size(),
                                     config.train.seed, config.train.shuffle);
    auto batches = sampler.local_epoch(0, 0);
    if (static_cast<int64_t>(batches.size()) < a.recompute_bn) {
      throw train::ConfigError("--recompute-bn " + std::to_string(a.recompute_bn) + ": the training set has only " +
                               std::to_string(batches.size()) + " batches");
    }
    batches.resize(a.recompute_bn);
    data::Loader loader(data.train, data.train_transform, config.loader, batches, config.train.seed, 0);
    int layers = train::recompute_bn_statistics(*model, loader);
    if (world->rank() == 0) std::cout << "re-estimated " << layers << " BN layers from " << a.recompute_bn << " batches\n";
    if (!a.save.empty() && world->rank() == 0) {
      train::CheckpointMeta meta = ckpt.meta;
      train::write_checkpoint(a.save, models::state_dict(*model), nullptr, meta);
      std::cout << "saved " << a.save << "\n";
    }
  }
  data::LoaderOptions loader = config.loader;
  loader.ten_crop = a.ten_crop;
  if (device.is_cuda()) loader.uint8_output = loader.pin_memory = true;  // normalized on the GPU
  train::EvalResult r = train::evaluate(*model, data.val, data.eval_transform, loader, config.eval.batch_size, *world);
  if (world->rank() == 0) {
    nlohmann::json j = {{"checkpoint", a.checkpoint}, {"step", ckpt.meta.step}, {"loss", r.loss},
                        {"top1", r.top1},            {"top5", r.top5},          {"top1_error", 1 - r.top1},
                        {"top5_error", 1 - r.top5},  {"count", r.count},
                        {"crops", a.ten_crop ? 10 : 1}};
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

int run_export(const ExportArgs& a) {
  train::Checkpoint ckpt = train::read_checkpoint(a.checkpoint);
  train::Config config = train::parse_config(ckpt.meta.config_yaml, a.checkpoint + " (its config)");
  auto state = a.fold_bn ? train::fold_batch_norm(ckpt.state, config.model.bn_eps) : ckpt.state;
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"model", ckpt.meta.model_name},
                                                 {"step", std::to_string(ckpt.meta.step)},
                                                 {"bn_folded", a.fold_bn ? "true" : "false"},
                                                 {"config", ckpt.meta.config_yaml},
                                                 {"bnx_version", ckpt.meta.bnx_version}};
  train::write_safetensors(a.out, state, metadata);
  std::cout << "wrote " << state.size() << " tensors to " << a.out << std::endl;
  return 0;
}

int run_compare(const CompareArgs& a) {
  std::vector<train::RunCurve> runs;
  for (const auto& r : a.runs) {
    try {
      runs.push_back(train::read_run(r));
    } catch (const std::runtime_error& e) {
      throw train::ConfigError(e.what());  // a bad metrics file on the command line is a usage error
    }
  }
  size_t baseline = 0;
  if (!a.baseline.empty()) {
    auto it = std::find_if(runs.begin(), runs.end(), [&](const auto& r) { return r.name == a.baseline || r.path == a.baseline; });
    if (it == runs.end()) throw train::ConfigError("--baseline " + a.baseline + ": not one of the runs given");
    baseline = static_cast<size_t>(it - runs.begin());
  }
  auto result = train::compare_runs(runs, baseline, a.target >= 0 ? std::optional<double>(a.target) : std::nullopt);
  std::cout << train::format_comparison(result, false);
  if (!a.markdown.empty()) std::ofstream(a.markdown) << train::format_comparison(result, true);
  if (!a.svg.empty()) {
    std::ofstream(a.svg) << train::plot_svg(runs, result.target, a.log_x);
    std::cout << "plot: " << a.svg << std::endl;
  }
  return 0;
}

int run_convert(const ConvertArgs& a) {
  auto train_set = data::IdxDataset::from_folder(a.idx, true);
  auto val_set = data::IdxDataset::from_folder(a.idx, false);
  data::ConvertOptions o;
  o.limit = a.limit;
  o.size = a.size;
  std::cout << "wrote " << data::write_image_folder(*train_set, *val_set, a.out, o) << " images to " << a.out << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  CLI::App app{"bnx: distributed training of BN-Inception and ResNet with synchronized batch normalization"};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 runtime failure, 2 usage/config/checkpoint error, 75 stopped by SIGTERM/SIGUSR1/SIGINT "
             "after a checkpoint.\nRun under mpirun -np N for N ranks.");

  TrainArgs ta;
  auto* train_cmd = app.add_subcommand("train", "train a model from a YAML config");
  train_cmd->add_option("--config,-c", ta.config, "YAML config file")->required()->check(CLI::ExistingFile);
  train_cmd->add_option("--set", ta.set, "override a key: section.key=value (repeatable)");
  train_cmd->add_option("--out,-o", ta.out, "output folder (default runs/<name>)");
  train_cmd->add_option("--resume", ta.resume, "'auto' (newest valid checkpoint in --out) or a checkpoint path");
  train_cmd->add_flag("--print-config", ta.print_config, "print the fully resolved config and exit");
  train_cmd->footer("Config keys:\n" + train::describe_keys());

  EvalArgs ea;
  auto* eval_cmd = app.add_subcommand("eval", "evaluate a checkpoint (loss, top-1/top-5) with its BN running statistics");
  eval_cmd->add_option("--checkpoint", ea.checkpoint, "checkpoint file")->required();
  eval_cmd->add_option("--data", ea.data, "data set root (default: the checkpoint config's)");
  eval_cmd->add_option("--set", ea.set, "override a config key");
  eval_cmd->add_option("--recompute-bn", ea.recompute_bn, "re-estimate BN statistics from N training batches first")
      ->check(CLI::NonNegativeNumber);
  eval_cmd->add_option("--save", ea.save, "with --recompute-bn: write the recalibrated checkpoint here");
  eval_cmd->add_flag("--ten-crop", ea.ten_crop, "average the logits of 10 crops (corners, center, and their mirrors)");

  ExportArgs xa;
  auto* export_cmd = app.add_subcommand("export", "export a checkpoint as safetensors with PyTorch names");
  export_cmd->add_option("--checkpoint", xa.checkpoint, "checkpoint file")->required();
  export_cmd->add_option("--out", xa.out, "output .safetensors file")->required();
  export_cmd->add_flag("--fold-bn", xa.fold_bn, "fold BN into the preceding convolution (inference)");

  CompareArgs ca;
  auto* compare_cmd = app.add_subcommand("compare", "steps to reach the baseline's accuracy, per run (paper Figure 3)");
  compare_cmd->add_option("runs", ca.runs, "run folders or metrics.jsonl files (the first is the baseline)")->required();
  compare_cmd->add_option("--baseline", ca.baseline, "baseline run (name or path)");
  compare_cmd->add_option("--target", ca.target, "target accuracy in [0,1] (default: the baseline's maximum)")
      ->check(CLI::Range(0.0, 1.0));
  compare_cmd->add_option("--markdown", ca.markdown, "also write the table as Markdown here");
  compare_cmd->add_option("--svg", ca.svg, "write the accuracy-vs-steps plot here");
  compare_cmd->add_flag("--log-x", ca.log_x, "log-scale steps axis");

  ConvertArgs va;
  auto* convert_cmd = app.add_subcommand("convert", "convert IDX (Fashion-MNIST) into an ImageNet-style JPEG folder");
  convert_cmd->add_option("--idx", va.idx, "IDX folder")->capture_default_str();
  convert_cmd->add_option("--out", va.out, "output folder")->required();
  convert_cmd->add_option("--limit", va.limit, "at most N images per split (0 = all)");
  convert_cmd->add_option("--size", va.size, "resize images to NxN (0 = keep)");

  std::string bench_what, bench_folder;
  int bench_iterations = 10, bench_threads = 2, bench_images = 512;
  int64_t bench_batch = 32;
  auto* bench_cmd = app.add_subcommand("bench", "benchmarks for docs/benchmarks.md (see tools/bench/run.sh)");
  bench_cmd->add_option("what", bench_what, "syncbn (under mpirun) | bn_inception | resnet50 | loader | train")->required();
  bench_cmd->add_option("--iterations", bench_iterations, "timed iterations");
  bench_cmd->add_option("--threads", bench_threads, "threads (models: intra-op; loader: up to this many workers)");
  bench_cmd->add_option("--batch", bench_batch, "syncbn: batch per rank");
  bench_cmd->add_option("--folder", bench_folder, "loader: ImageNet-style folder of JPEGs");
  bench_cmd->add_option("--images", bench_images, "loader: images to read");
  train::BenchTrainOptions bt;
  std::string bench_model = "resnet50";
  bench_cmd->add_option("--model", bench_model, "train: bn_inception | resnet18..152");
  auto names = [](const auto& table) { return CLI::CheckedTransformer(std::map(table.begin(), table.end())); };
  bench_cmd->add_option("--device", bt.device, "train: as train.device")->transform(names(train::device_names()));
  bench_cmd->add_option("--precision", bt.precision, "train: as train.precision")->transform(names(train::precision_names()));
  bench_cmd->add_option("--norm", bt.norm, "train: as model.norm")->transform(names(train::norm_names()));
  bench_cmd->add_option("--size", bt.size, "train: input side in pixels");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return train::kExitUsage;
  }

  std::shared_ptr<dist::Communicator> world;
  try {
    world = dist::make_world_communicator();
    if (*train_cmd) return run_train(ta, *world, world);
    if (*eval_cmd) return run_eval(ea, world);
    if (*bench_cmd && bench_what == "syncbn") return train::bench_syncbn(world, bench_iterations, bench_batch);
    if (*bench_cmd && bench_what == "train") {
      bt.batch = bench_batch;
      bt.iterations = bench_iterations;
      return train::bench_train(bench_model, bt, world);
    }
    if (world->rank() != 0) return 0;  // the rest are single-process tools
    if (*export_cmd) return run_export(xa);
    if (*compare_cmd) return run_compare(ca);
    if (*convert_cmd) return run_convert(va);
    if (*bench_cmd && bench_what == "loader") return train::bench_loader(bench_folder, bench_images, bench_threads);
    if (*bench_cmd) return train::bench_model(bench_what, bench_iterations, bench_threads);
  } catch (const train::ConfigError& e) {
    // Deterministic: every rank fails the same way, so no abort is needed.
    if (!world || world->rank() == 0) std::cerr << "bnx: config error: " << e.what() << std::endl;
    return train::kExitUsage;
  } catch (const train::CheckpointError& e) {
    if (!world || world->rank() == 0) std::cerr << "bnx: checkpoint error: " << e.what() << std::endl;
    return train::kExitUsage;
  } catch (const std::exception& e) {
    std::string message = "bnx: error on rank " + std::to_string(world ? world->rank() : 0) + ": " + e.what();
    if (auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
      message = "bnx: error on rank " + std::to_string(world ? world->rank() : 0) + ": " + c10->what_without_backtrace();
    }
    if (world && world->size() > 1) world->abort(message);  // ends every rank within seconds
    std::cerr << message << std::endl;
    return train::kExitError;
  }
  return 0;
}
