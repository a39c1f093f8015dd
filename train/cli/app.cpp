// The bnx program (see command.h): parsing, MPI start-up, dispatch, and the exit-code rule. Every
// error caused by the user's input (train::InputError, data::DataError, a usage error) exits 2 on
// every rank with the culprit named once; a failure during a run ends every rank through
// MPI_Abort (exit 1), a stop signal after its checkpoint exits 75.
#include <iostream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "data/dataset.h"
#include "dist/mpi_communicator.h"
#include "train/cli/command.h"
#include "train/errors.h"

namespace bnx::cli {
namespace {

// glibc hands large freed blocks back to the kernel (mmap/trim) and every training step then
// faults the same activation memory back in, zeroing each page: about 10% of CPU step time went
// to the kernel. Keeping freed memory in the heap makes the steady state allocation-free; peak
// memory stays about the same (617 vs 628 MB in an 80-step run), since every step needs the same
// blocks again. With tcmalloc linked in (CMakeLists.txt), which keeps freed memory itself, these
// calls reach its mallopt and do nothing.
void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

bool is_input_error(const std::exception& e) {
  return dynamic_cast<const train::InputError*>(&e) != nullptr || dynamic_cast<const data::DataError*>(&e) != nullptr;
}

std::string message_of(const std::exception& e) {
  if (auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

std::string kind_of(const std::exception& e) {
  if (dynamic_cast<const train::ConfigError*>(&e)) return "config error";
  if (dynamic_cast<const train::CheckpointError*>(&e)) return "checkpoint error";
  if (dynamic_cast<const data::DataError*>(&e)) return "data error";
  return "input error";
}

}  // namespace

int run(int argc, char** argv, const Hooks& hooks) {
  keep_freed_memory();
  dist::set_input_error_classifier(is_input_error);
  CLI::App app{"bnx: distributed training of BN-Inception and ResNet with synchronized batch normalization"};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 runtime failure, 2 usage/config/data/checkpoint error, 75 stopped by "
             "SIGTERM/SIGUSR1/SIGINT after a checkpoint.\nRun under mpirun -np N for N ranks.");
  std::vector<std::unique_ptr<Command>> commands;
  for (auto add : {add_train_command, add_eval_command, add_export_command, add_compare_command,
                   add_convert_command, add_bench_command}) {
    commands.push_back(add(app));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  Command* chosen = nullptr;
  for (auto& c : commands) {
    if (*c->app) chosen = c.get();
  }
  std::shared_ptr<dist::Communicator> world;
  try {
    world = dist::make_world_communicator();
    if (!chosen->distributed() && world->rank() != 0) return kExitOk;
    return chosen->run(world, hooks);
  } catch (const dist::AgreedFailure& e) {
    // Every rank stops the same way; the lowest failing rank names the culprit.
    if (e.report) {
      std::cerr << "bnx: " << (e.input_error ? "input error" : "error on rank " + std::to_string(e.failed_rank))
                << ": " << e.what() << std::endl;
    }
    return e.input_error ? kExitUsage : kExitError;
  } catch (const std::exception& e) {
    const int rank = world ? world->rank() : 0;
    if (is_input_error(e) && (!chosen->distributed() || !world || world->size() == 1)) {
      std::cerr << "bnx: " << kind_of(e) << ": " << message_of(e) << std::endl;
      return kExitUsage;
    }
    const std::string message = "bnx: error on rank " + std::to_string(rank) + ": " + message_of(e);
    if (world && world->size() > 1 && chosen->distributed()) world->abort(message);  // ends every rank within seconds
    std::cerr << message << std::endl;
    return kExitError;
  }
}

}  // namespace bnx::cli
