// When to evaluate, and when a run has stopped improving.
//
// Evaluation steps: every `every_steps`, or on a geometric schedule (`per_doubling` > 0): the
// interval starts at every_steps and doubles each time the step count doubles, so each doubling of
// the run gets `per_doubling` evaluations (capped at one every `max_every_steps`). Figure 3's
// crossings happen early for the BN variants and late for the baseline: this resolves both without
// letting evaluation dominate a long run.
//
// The plateau rule (the reproduction's stopping rule for "trained to convergence"): at an
// evaluation at step s, a curve has plateaued when its best accuracy is from the first two thirds
// of the run (no new best in (2s/3, s]) and the mean accuracy of the evaluations in (2s/3, s]
// exceeds the mean of those in (s/3, 2s/3] by less than `min_gain`.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace bnx::train {

struct EvalSchedule {
  int64_t every_steps = 0;      // 0 = only at the end
  int64_t per_doubling = 0;     // > 0: geometric schedule with this many evaluations per doubling
  int64_t max_every_steps = 0;  // geometric: largest interval (0 = no cap)
};

/// The interval in force at `step` (>= 1); 0 when the schedule never evaluates.
int64_t eval_interval(const EvalSchedule& schedule, int64_t step);
/// Whether to evaluate after `step` (>= 1) updates.
bool eval_due(const EvalSchedule& schedule, int64_t step);

struct PlateauRule {
  double min_gain = 0.003;  // accuracy gain (fraction) between the last two thirds
  int64_t min_steps = 0;    // never a plateau before this step
  int64_t min_evals = 6;    // evaluations needed in each of the last two thirds
};

/// (step, top-1) pairs of evaluations, in step order.
using AccuracyCurve = std::vector<std::pair<int64_t, double>>;

/// Whether `curve` has plateaued at its last evaluation (see the file comment).
bool plateau_reached(const AccuracyCurve& curve, const PlateauRule& rule);
/// The first evaluation step at which the curve has plateaued, or -1.
int64_t first_plateau_step(const AccuracyCurve& curve, const PlateauRule& rule);

}  // namespace bnx::train
