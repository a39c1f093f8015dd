// bnx with fault injection, for the failure tests (tests/cli/cli_test.sh rank_failure): an ordinary
// bnx whose Trainer gets one more callback, which throws on rank BNX_FAULT_RANK after update
// BNX_FAULT_STEP. The production program has no such hook in its loop.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "train/cli/command.h"
#include "train/trainer.h"

namespace {

class FaultAt : public bnx::train::Callback {
 public:
  FaultAt(int rank, int64_t step) : rank_(rank), step_(step) {}
  void on_step_end(bnx::train::Trainer& t, const bnx::train::StepStats& stats) override {
    if (t.world().rank() == rank_ && stats.step == step_) {
      throw std::runtime_error("injected fault at step " + std::to_string(step_) + " (BNX_FAULT_STEP)");
    }
  }

 private:
  int rank_;
  int64_t step_;
};

}  // namespace

int main(int argc, char** argv) {
  bnx::cli::Hooks hooks;
  const char* rank = std::getenv("BNX_FAULT_RANK");
  const char* step = std::getenv("BNX_FAULT_STEP");
  if (rank && step) {
    hooks.customize_trainer = [r = std::atoi(rank), s = std::atoll(step)](bnx::train::Trainer& t) {
      t.add_callback(std::make_shared<FaultAt>(r, s));
    };
  }
  return bnx::cli::run(argc, argv, hooks);
}
