// Evaluation schedule and plateau rule (see eval_schedule.h).
#include "train/eval_schedule.h"

#include <algorithm>

namespace bnx::train {

int64_t eval_interval(const EvalSchedule& s, int64_t step) {
  if (s.every_steps <= 0) return 0;
  if (s.per_doubling <= 0) return s.every_steps;
  // Double the interval while the run is at least per_doubling intervals past the doubled one.
  int64_t interval = s.every_steps;
  while (step >= 2 * interval * s.per_doubling && (s.max_every_steps <= 0 || 2 * interval <= s.max_every_steps)) {
    interval *= 2;
  }
  if (s.max_every_steps > 0 && step >= 2 * interval * s.per_doubling) interval = std::max(interval, s.max_every_steps);
  return interval;
}

bool eval_due(const EvalSchedule& s, int64_t step) {
  const int64_t interval = eval_interval(s, step);
  return interval > 0 && step % interval == 0;
}

bool plateau_reached(const AccuracyCurve& curve, const PlateauRule& rule) {
  if (curve.empty()) return false;
  const int64_t s = curve.back().first;
  if (s < rule.min_steps) return false;
  double best = -1, middle_sum = 0, last_sum = 0;
  int64_t best_step = 0, middle_n = 0, last_n = 0;
  for (const auto& [step, top1] : curve) {
    if (top1 > best) best = top1, best_step = step;
    if (3 * step > 2 * s) {
      last_sum += top1, ++last_n;
    } else if (3 * step > s) {
      middle_sum += top1, ++middle_n;
    }
  }
  if (middle_n < rule.min_evals || last_n < rule.min_evals) return false;
  if (3 * best_step > 2 * s) return false;  // a new best in the last third
  return last_sum / last_n - middle_sum / middle_n < rule.min_gain;
}

int64_t first_plateau_step(const AccuracyCurve& curve, const PlateauRule& rule) {
  for (size_t n = 1; n <= curve.size(); ++n) {
    if (plateau_reached(AccuracyCurve(curve.begin(), curve.begin() + static_cast<std::ptrdiff_t>(n)), rule)) {
      return curve[n - 1].first;
    }
  }
  return -1;
}

}  // namespace bnx::train
