// Callback: the run's record in its output folder, written by rank 0: config.yaml (the resolved
// config), run.json (versions, world size, threads, sizes) at the start, then metrics.jsonl: a
// "train" line every `every_steps` updates (means over them) and an "eval" line per evaluation.
// At the end run.json also says how the run ended ("ended": "finished: train.steps", the stop
// reason, e.g. a plateau or a signal, or "diverged: " and the error of a non-finite loss; absent
// while running or after a crash) and at which step. run.json's "segments" list every invocation
// that trained the run (a resume appends one, keeping those of the run.json it finds): the step it
// started from, when (UTC), the bnx commit, ranks and threads, and how and where it ended. A fresh
// run in a folder holding an earlier run's record without a checkpoint to continue it renames that
// record (metrics.<UTC time>.jsonl, run.<...>.json, config.<...>.yaml) and says so, never erasing it.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "train/callback.h"
#include "train/metrics.h"

namespace bnx::train {

class MetricsLogger : public Callback {
 public:
  /// `resumed_from_step` < 0 for a fresh run; on resume, lines after that step are dropped.
  MetricsLogger(std::string out_dir, std::string config_text, int64_t every_steps,
                int64_t resumed_from_step);
  void on_fit_start(Trainer& trainer) override;
  void on_step_end(Trainer& trainer, const StepStats& stats) override;
  void on_eval_end(Trainer& trainer, const EvalResult& result) override;
  void on_fit_end(Trainer& trainer, FitEnd end) override;
  void on_fit_failed(Trainer& trainer, const std::string& what) override;

 private:
  double wall_time() const;
  void write_end(Trainer& trainer, const std::string& how);

  std::string out_dir_, config_text_;
  int64_t every_steps_, resumed_from_step_;
  std::unique_ptr<MetricsLog> log_;
  ThroughputWindow window_;
  std::chrono::steady_clock::time_point start_;
  nlohmann::json header_;  // run.json
};

}  // namespace bnx::train
