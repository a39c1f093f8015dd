// Learning-rate schedules, each a pure function of the global step: constant, step decay,
// exponential decay every E epochs (GoogLeNet: x0.96 every 8 epochs; the paper's BN-x5/BN-x30
// decay 6x faster, every 8/6 epochs), cosine; a linear warm-up before any of them; optional
// linear scaling of the base rate with the global batch (lr x B / 256).
#pragma once

#include <cstdint>

#include "train/options.h"

namespace bnx::train {

struct ScheduleContext {
  double base_lr;
  int64_t steps_per_epoch;  // global steps per epoch
  int64_t total_steps;
  int64_t global_batch;
};

/// Learning rate for global step `step` (0-based: the rate of the update made at that step).
double learning_rate(const ScheduleOptions& options, const ScheduleContext& context, int64_t step);

}  // namespace bnx::train
