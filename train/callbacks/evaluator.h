// Callback: evaluation cadence. Evaluates after the updates that eval.every_steps (fixed or
// geometric, see eval_schedule.h) names, and once at the end of a finished run unless the last
// update was just evaluated.
#pragma once

#include "train/callback.h"
#include "train/eval_schedule.h"

namespace bnx::train {

class Evaluator : public Callback {
 public:
  explicit Evaluator(EvalSchedule schedule) : schedule_(schedule) {}
  void on_step_end(Trainer& trainer, const StepStats& stats) override;
  void on_fit_end(Trainer& trainer, FitEnd end) override;

 private:
  EvalSchedule schedule_;
  int64_t last_evaluated_ = -1;
};

}  // namespace bnx::train
