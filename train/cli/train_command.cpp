// `bnx train`: a YAML config (with --set overrides) into a training run (train/run.h).
#include <iostream>

#include "train/cli/command.h"
#include "train/cli/config.h"

namespace bnx::cli {
namespace {

class TrainCommand : public Command {
 public:
  explicit TrainCommand(CLI::App& parent) {
    app = parent.add_subcommand("train", "train a model from a YAML config");
    app->add_option("--config,-c", config_, "YAML config file")->required()->check(CLI::ExistingFile);
    app->add_option("--set", set_, "override a key: section.key=value (repeatable)");
    app->add_option("--out,-o", out_, "output folder (default runs/<name>)");
    app->add_option("--resume", resume_, "'auto' (newest valid checkpoint in --out) or a checkpoint path");
    app->add_flag("--print-config", print_config_, "print the fully resolved config and exit");
    app->footer("Config keys:\n" + describe_keys());
  }
  bool distributed() const override { return true; }

  int run(std::shared_ptr<dist::Communicator> world, const Hooks& hooks) override {
    train::Config config;
    dist::agree_on_failure(*world, [&] { config = load_config(config_, set_); });
    if (print_config_) {
      if (world->rank() == 0) std::cout << to_yaml(config);
      return kExitOk;
    }
    train::RunOptions run;
    run.out_dir = out_.empty() ? "runs/" + config.name : out_;
    run.resume = resume_;
    run.config_text = to_yaml(config);
    run.customize = hooks.customize_trainer;
    const train::RunResult result = train::run_training(config, std::move(world), run);
    return result.by_signal ? kExitPreempted : kExitOk;
  }

 private:
  std::string config_, out_, resume_;
  std::vector<std::string> set_;
  bool print_config_ = false;
};

}  // namespace

std::unique_ptr<Command> add_train_command(CLI::App& app) { return std::make_unique<TrainCommand>(app); }

}  // namespace bnx::cli
