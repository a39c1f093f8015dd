// A whole training run as `bnx train` does it: the session, the Trainer, the standard callbacks
// (metrics log, progress, evaluation cadence, early stops, checkpoints), the resume, the stop
// signals, fit. Used by the command line and by tests (which may add callbacks, e.g. faults).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "dist/communicator.h"
#include "train/options.h"
#include "train/trainer.h"

namespace bnx::train {

struct RunOptions {
  std::string out_dir;
  /// "" (fresh run; an existing checkpoint in out_dir is an error), "auto" or a checkpoint path.
  std::string resume;
  /// The resolved config as text, stored in config.yaml and in checkpoints.
  std::string config_text;
  /// Stop on SIGTERM, SIGUSR1 and SIGINT (after all ranks agree and a checkpoint is written).
  bool stop_on_signals = true;
  /// Called with the ready Trainer before fit (tests add callbacks here).
  std::function<void(Trainer&)> customize;
};

struct RunResult {
  FitEnd end = FitEnd::kFinished;
  int64_t steps = 0;
  bool by_signal = false;  // a stop signal ended the run (exit code 75)
};

/// Trains `config` into `run.out_dir`. Nothing is written before every rank has accepted the
/// config, the data and the checkpoint. Rank 0 holds the folder's lock (run_lock.h) while it trains:
/// a second run into the same folder is an input error on every rank. Collective over `world`.
RunResult run_training(const Config& config, std::shared_ptr<dist::Communicator> world, const RunOptions& run);

}  // namespace bnx::train
