// Checkpoint cadence (see checkpointer.h).
#include "train/callbacks/checkpointer.h"

#include <filesystem>

#include "train/trainer.h"

namespace bnx::train {

void Checkpointer::save(Trainer& t) {
  t.save((std::filesystem::path(out_dir_) / checkpoint_name(t.steps_done())).string());
  if (t.lead()) prune_checkpoints(out_dir_, keep_);
}

void Checkpointer::on_step_end(Trainer& t, const StepStats& stats) {
  // A stopping run is saved once, at its end.
  if (every_steps_ > 0 && stats.step % every_steps_ == 0 && stats.step < t.total_steps() && !t.stopping()) save(t);
}

void Checkpointer::on_fit_end(Trainer& t, FitEnd) { save(t); }

}  // namespace bnx::train
