// What happens around the training loop, added from outside (as Caffe's Solver callbacks): the
// metrics log, the progress line, evaluation cadence, checkpoints, early stopping. The Trainer
// calls every callback in the order they were added; a callback may call back into the Trainer
// (evaluate, save, request_stop).
#pragma once

#include <cstdint>
#include <string>

namespace bnx::train {

class Trainer;
struct EvalResult;

/// One update's numbers, global over ranks (sums over the global batch).
struct StepStats {
  int64_t step = 0;  // updates done, this one included
  double lr = 0;
  double loss_sum = 0, top1 = 0, top5 = 0, count = 0;
  double data_wait_s = 0;  // seconds this rank waited for the loader before the update (rank-local)
};

enum class FitEnd {
  kFinished,  // train.steps reached
  kStopped,   // a stop request (signal or early-stop rule), agreed by every rank
};

class Callback {
 public:
  virtual ~Callback() = default;
  /// Before the first update (after a restore).
  virtual void on_fit_start(Trainer&) {}
  /// After each update, on every rank.
  virtual void on_step_end(Trainer&, const StepStats&) {}
  /// After each evaluation (Trainer::evaluate), on every rank.
  virtual void on_eval_end(Trainer&, const EvalResult&) {}
  /// After the last update.
  virtual void on_fit_end(Trainer&, FitEnd) {}
  /// When a TrainingError (a non-finite loss) ends the run, on every rank, before it propagates;
  /// nothing of the failed update is kept.
  virtual void on_fit_failed(Trainer&, const std::string& /*what*/) {}
};

}  // namespace bnx::train
