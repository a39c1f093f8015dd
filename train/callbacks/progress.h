// Callback: rank 0's progress display: the run's banner, a line every `every_steps` updates (live
// in place on a terminal, plain lines in batch logs), evaluations, and how the run ended.
#pragma once

#include <string>

#include "train/callback.h"
#include "train/metrics.h"

namespace bnx::train {

class ProgressPrinter : public Callback {
 public:
  /// `resumed_from`: the checkpoint path the run continues from ("" for a fresh run).
  ProgressPrinter(int64_t every_steps, std::string out_dir, std::string resumed_from);
  void on_fit_start(Trainer& trainer) override;
  void on_step_end(Trainer& trainer, const StepStats& stats) override;
  void on_eval_end(Trainer& trainer, const EvalResult& result) override;
  void on_fit_end(Trainer& trainer, FitEnd end) override;

 private:
  void line(const std::string& text);  // a full line (ends a live line first)

  int64_t every_steps_;
  std::string out_dir_, resumed_from_;
  bool terminal_, live_ = false;
  ThroughputWindow window_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace bnx::train
