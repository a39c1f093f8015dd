// The plain options of a run: what the engine is built from. Each struct has its defaults here;
// the command line fills them from YAML (train/cli/config.h), tests and benchmarks fill them in code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "models/model.h"
#include "train/device.h"
#include "train/eval_schedule.h"
#include "train/precision.h"

namespace bnx::train {

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
  EvalSchedule schedule;         // when to evaluate (besides the end)
  bool stop_at_plateau = false;  // end the run when the plateau rule holds
  PlateauRule plateau;
  double stop_at_top1 = 0;       // > 0: end the run at the first evaluation reaching this accuracy
  int64_t batch_size = 256;      // per rank
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

/// Everything a run is built from.
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

}  // namespace bnx::train
