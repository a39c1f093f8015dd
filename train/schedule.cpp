// Learning-rate schedules (see schedule.h).
#include "train/schedule.h"

#include <cmath>

namespace bnx::train {

double learning_rate(const ScheduleOptions& o, const ScheduleContext& c, int64_t step) {
  double base = c.base_lr * (o.scale_with_batch ? static_cast<double>(c.global_batch) / 256.0 : 1.0);
  const double epoch = static_cast<double>(step) / static_cast<double>(c.steps_per_epoch);
  const double warmup_steps = o.warmup_epochs * static_cast<double>(c.steps_per_epoch);
  if (warmup_steps > 0 && step < warmup_steps) return base * (step + 1) / warmup_steps;

  switch (o.kind) {
    case ScheduleKind::kConstant:
      return base;
    case ScheduleKind::kStep: {
      int passed = 0;
      for (double m : o.milestones) passed += epoch >= m;
      return base * std::pow(o.gamma, passed);
    }
    case ScheduleKind::kExponential: {
      double periods = epoch / o.decay_epochs;
      // A small tolerance so that exact multiples (step * decay_epochs) land on their period.
      if (o.staircase) periods = std::floor(periods + 1e-9);
      return base * std::pow(o.decay_rate, periods);
    }
    case ScheduleKind::kCosine: {
      const double start = warmup_steps;
      const double span = std::max(1.0, static_cast<double>(c.total_steps) - start);
      const double t = std::min(1.0, (static_cast<double>(step) - start) / span);
      return o.final_lr + (base - o.final_lr) * 0.5 * (1 + std::cos(M_PI * t));
    }
  }
  return base;
}

}  // namespace bnx::train
