// A bnx subcommand: registers its options on the CLI11 app and runs. One file per subcommand
// (train_command.cpp, ...); app.cpp owns parsing, MPI start-up and exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

#include "dist/communicator.h"
#include "train/run.h"

namespace bnx::cli {

/// Process exit codes of bnx (documented in the README).
enum ExitCode : int { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitPreempted = 75 };

/// What a test program can change in an otherwise ordinary bnx (tests/fault_injection.cpp).
struct Hooks {
  /// Called with the Trainer of `bnx train` before it fits.
  std::function<void(train::Trainer&)> customize_trainer;
};

class Command {
 public:
  virtual ~Command() = default;
  /// True when every rank runs it (training, evaluation, benchmarks under mpirun); false for the
  /// single-process tools, which run on rank 0 only.
  virtual bool distributed() const { return false; }
  virtual int run(std::shared_ptr<dist::Communicator> world, const Hooks& hooks) = 0;
  CLI::App* app = nullptr;
};

std::unique_ptr<Command> add_train_command(CLI::App& app);
std::unique_ptr<Command> add_eval_command(CLI::App& app);
std::unique_ptr<Command> add_export_command(CLI::App& app);
std::unique_ptr<Command> add_compare_command(CLI::App& app);
std::unique_ptr<Command> add_convert_command(CLI::App& app);
std::unique_ptr<Command> add_bench_command(CLI::App& app);

/// The bnx program: parses `argv`, starts MPI, runs the chosen subcommand, and turns exceptions
/// into exit codes (the only place that does).
int run(int argc, char** argv, const Hooks& hooks = {});

}  // namespace bnx::cli
