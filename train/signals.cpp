// Signal flag (see signals.h).
#include "train/signals.h"

#include <csignal>

namespace bnx::train {
namespace {
volatile std::sig_atomic_t received = 0;
void on_signal(int signal) { received = signal; }
}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  for (int s : {SIGTERM, SIGUSR1, SIGINT}) sigaction(s, &action, nullptr);
}

int stop_signal() { return received; }

}  // namespace bnx::train
