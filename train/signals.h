// Preemption signals: SIGTERM, SIGUSR1 (what SLURM sends before preemption) and SIGINT set a flag
// that the training loop reads once per step; ranks agree on it through their per-step allreduce.
#pragma once

namespace bnx::train {

/// Installs the handlers (idempotent).
void install_stop_handlers();
/// The signal received, or 0.
int stop_signal();
/// Clears the flag (tests).
void reset_stop_signal();

}  // namespace bnx::train
