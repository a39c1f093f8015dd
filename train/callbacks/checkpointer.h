// Callback: checkpoints in the run's folder: every `every_steps` updates (0 = none), and at the end
// of the run whatever ended it (finished, a signal, an early stop); keeps the newest `keep`.
#pragma once

#include <string>

#include "train/callback.h"

namespace bnx::train {

class Checkpointer : public Callback {
 public:
  Checkpointer(std::string out_dir, int64_t every_steps, int64_t keep)
      : out_dir_(std::move(out_dir)), every_steps_(every_steps), keep_(keep) {}
  void on_step_end(Trainer& trainer, const StepStats& stats) override;
  void on_fit_end(Trainer& trainer, FitEnd end) override;

 private:
  void save(Trainer& trainer);

  std::string out_dir_;
  int64_t every_steps_, keep_;
};

}  // namespace bnx::train
