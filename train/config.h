// Config: the typed run configuration, read from YAML (the only code that includes yaml-cpp).
// One table of fields drives parsing, validation, --set overrides, defaults and --print-config:
// an unknown key names the file, line and nearest valid key; a bad value names the key, the value
// and what is allowed; a missing required key is named. Errors are ConfigError (exit code 2).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "models/model.h"
#include "train/device.h"
#include "train/precision.h"

namespace bnx::train {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How configs (and the command line) spell the enum choices.
const std::vector<std::pair<std::string, models::Norm>>& norm_names();
const std::vector<std::pair<std::string, DeviceKind>>& device_names();
const std::vector<std::pair<std::string, Precision>>& precision_names();

enum class OptimizerKind { kSgd, kRmsprop };
enum class ScheduleKind { kConstant, kStep, kExponential, kCosine };

struct OptimOptions {
  OptimizerKind kind = OptimizerKind::kSgd;
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 1e-4;
  /// Exempt BN parameters and biases (every 1-D parameter) from weight decay.
  bool no_decay_bn_bias = false;
  double rmsprop_alpha = 0.9;
  double rmsprop_eps = 1.0;
};

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kConstant;
  /// Linear warm-up from 0 over this many epochs, before any schedule.
  double warmup_epochs = 0;
  /// Exponential: lr * decay_rate ^ (epoch / decay_epochs) (floored when staircase).
  double decay_rate = 0.96;
  double decay_epochs = 8;
  bool staircase = true;
  /// Step: lr * gamma ^ (number of milestones passed), milestones in epochs.
  std::vector<double> milestones{30, 60, 80};
  double gamma = 0.1;
  /// Cosine: from lr down to final_lr over the run.
  double final_lr = 0;
  /// Multiply the base rate by global_batch / 256.
  bool scale_with_batch = false;
};

struct TrainOptions {
  /// Global mini-batch (all ranks together).
  int64_t batch_size = 0;
  /// Length: exactly one of steps and epochs.
  int64_t steps = 0;
  double epochs = 0;
  uint64_t seed = 1;
  double label_smoothing = 0;
  bool shuffle = true;
  /// Intra-op threads per rank (0 = cores / ranks on this node).
  int threads = 0;
  /// cpu, cuda (GPU local_rank % count) or auto (cuda when available).
  DeviceKind device = DeviceKind::kAuto;
  /// Activations in float32, or under bf16/fp16 autocast (fp16 with dynamic loss scaling).
  Precision precision = Precision::kFloat32;
};

struct EvalOptions {
  int64_t every_steps = 0;  // 0 = only at the end
  int64_t batch_size = 256;  // per rank
};

struct LogOptions {
  int64_t every_steps = 50;
};

struct CheckpointOptions {
  int64_t every_steps = 0;  // 0 = only at the end (and on preemption)
  int64_t keep = 3;
};

struct DistOptions {
  /// Gradient bucket size in MB (25 as PyTorch DDP).
  double bucket_mb = 25;
  /// Start bucket allreduces from gradient hooks during backward.
  bool overlap = true;
  /// NCCL: a collective unfinished after this many seconds aborts the job.
  double nccl_timeout_s = 600;
};

struct Config {
  Config() { model.num_classes = 0; }  // from the data set unless set
  std::string name = "run";
  models::ModelOptions model;
  data::DatasetOptions data;
  data::TransformOptions transform;
  data::LoaderOptions loader;
  OptimOptions optim;
  ScheduleOptions schedule;
  TrainOptions train;
  EvalOptions eval;
  LogOptions log;
  CheckpointOptions checkpoint;
  DistOptions dist;
};

/// Reads `path` (YAML) and applies `overrides` ("section.key=value", YAML values).
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});
/// Parses YAML text (named `source` in messages).
Config parse_config(const std::string& text, const std::string& source, const std::vector<std::string>& overrides = {});
/// The fully resolved config as YAML; parse_config(to_yaml(c)) gives c back.
std::string to_yaml(const Config& config);
/// Every valid key with its help text (for --help).
std::string describe_keys();

}  // namespace bnx::train
