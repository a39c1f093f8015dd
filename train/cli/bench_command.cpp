// `bnx bench`: the benchmarks behind docs/benchmarks.md (train/offline/bench.h; run them all with
// tools/bench/run.sh).
#include <map>

#include "train/cli/command.h"
#include "train/cli/config.h"
#include "train/offline/bench.h"

namespace bnx::cli {
namespace {

template <class Table, class Value>
std::string name_of(const Table& table, Value value) {
  for (const auto& [name, v] : table) {
    if (v == value) return name;
  }
  return "?";
}

class BenchCommand : public Command {
 public:
  explicit BenchCommand(CLI::App& parent) {
    app = parent.add_subcommand("bench", "benchmarks for docs/benchmarks.md (see tools/bench/run.sh)");
    app->add_option("what", what_, "syncbn (under mpirun) | bn_inception | resnet50 | loader | train")->required();
    app->add_option("--iterations", iterations_, "timed iterations");
    app->add_option("--threads", threads_, "threads (models: intra-op; loader: up to this many workers)");
    app->add_option("--batch", batch_, "syncbn, train: batch per rank");
    app->add_option("--folder", folder_, "loader: ImageNet-style folder of JPEGs");
    app->add_option("--images", images_, "loader: images to read");
    app->add_option("--model", model_, "train: bn_inception | resnet18..152");
    auto names = [](const auto& table) { return CLI::CheckedTransformer(std::map(table.begin(), table.end())); };
    app->add_option("--device", train_.device, "train: as train.device")->transform(names(device_names()));
    app->add_option("--precision", train_.precision, "train: as train.precision")->transform(names(precision_names()));
    app->add_option("--norm", train_.norm, "train: as model.norm")->transform(names(norm_names()));
    app->add_option("--size", train_.size, "train: input side in pixels");
    app->add_flag("--mirror", train_.mirror,
                  "train: SyncBatchNorm's distributed function over a simulated second rank (one device)");
    app->add_option("--config", config_, "train: take the model (and its input shape, classes) from this training config")
        ->check(CLI::ExistingFile);
    app->add_option("--set", overrides_, "train: override a key of --config, KEY=VALUE (repeatable)");
  }
  bool distributed() const override { return true; }

  int run(std::shared_ptr<dist::Communicator> world, const Hooks&) override {
    if (what_ == "syncbn") return train::bench_syncbn(world, iterations_, batch_);
    if (what_ == "train") {
      train_.batch = batch_;
      train_.iterations = iterations_;
      train_.precision_name = name_of(precision_names(), train_.precision);
      train_.norm_name = name_of(norm_names(), train_.norm) + (train_.mirror ? "-mirror" : "");
      if (app->count("--threads") > 0) train_.threads = threads_;
      if (!config_.empty()) train_.config = load_config(config_, overrides_);
      return train::bench_train(model_, train_, world);
    }
    if (world->rank() != 0) return kExitOk;  // the rest are single-process
    if (what_ == "loader") return train::bench_loader(folder_, images_, threads_);
    return train::bench_model(what_, iterations_, threads_);
  }

 private:
  std::string what_, folder_, model_ = "resnet50", config_;
  std::vector<std::string> overrides_;
  int iterations_ = 10, threads_ = 2, images_ = 512;
  int64_t batch_ = 32;
  train::BenchTrainOptions train_;
};

}  // namespace

std::unique_ptr<Command> add_bench_command(CLI::App& app) { return std::make_unique<BenchCommand>(app); }

}  // namespace bnx::cli
