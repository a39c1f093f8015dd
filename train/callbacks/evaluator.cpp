// Evaluation cadence (see evaluator.h).
#include "train/callbacks/evaluator.h"

#include "train/trainer.h"

namespace bnx::train {

void Evaluator::on_step_end(Trainer& t, const StepStats& stats) {
  if (!eval_due(schedule_, stats.step)) return;
  t.evaluate();
  last_evaluated_ = stats.step;
}

void Evaluator::on_fit_end(Trainer& t, FitEnd end) {
  if (end == FitEnd::kFinished && last_evaluated_ != t.steps_done()) t.evaluate();
}

}  // namespace bnx::train
