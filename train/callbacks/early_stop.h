// Callbacks that end a run early, after an evaluation (every rank agrees, see Trainer::evaluate):
// PlateauStop when the validation accuracy has stopped improving (eval_schedule.h's rule; the
// reproduction's "trained to convergence"), TargetStop when it reaches a given accuracy (the
// reproduction's extra seeds only need to cross the baseline's best).
#pragma once

#include <string>

#include "train/callback.h"
#include "train/eval_schedule.h"

namespace bnx::train {

class PlateauStop : public Callback {
 public:
  /// `history`: the evaluations before a resume (from the run's metrics.jsonl). Only rank 0
  /// decides (the other ranks may not see the file); the ranks agree through the Trainer.
  PlateauStop(PlateauRule rule, AccuracyCurve history) : rule_(rule), curve_(std::move(history)) {}
  /// A resumed run whose history already ends on a plateau at the resumed step stops at once.
  void on_fit_start(Trainer& trainer) override;
  void on_eval_end(Trainer& trainer, const EvalResult& result) override;

 private:
  PlateauRule rule_;
  AccuracyCurve curve_;
};

class TargetStop : public Callback {
 public:
  explicit TargetStop(double top1) : top1_(top1) {}
  void on_eval_end(Trainer& trainer, const EvalResult& result) override;

 private:
  double top1_;
};

}  // namespace bnx::train
