// Preemption signals: SIGTERM, SIGUSR1 (what SLURM sends before preemption) and SIGINT set a flag
// that the Trainer polls once per update (its stop source); ranks agree on it through the update's
// metrics allreduce.
#pragma once

namespace bnx::train {

/// Installs the handlers (idempotent).
void install_stop_handlers();
/// The signal received, or 0 (a Trainer's stop source).
int stop_signal();

}  // namespace bnx::train
