// `bnx compare`: the Figure 3 table (steps to the baseline's best accuracy) and the accuracy plot
// from runs' metrics.jsonl (train/offline/compare.h).
#include <algorithm>
#include <fstream>
#include <iostream>

#include "train/cli/command.h"
#include "train/errors.h"
#include "train/offline/compare.h"

namespace bnx::cli {
namespace {

class CompareCommand : public Command {
 public:
  explicit CompareCommand(CLI::App& parent) {
    app = parent.add_subcommand("compare", "steps to reach the baseline's accuracy, per run (paper Figure 3)");
    app->add_option("runs", runs_, "run folders or metrics.jsonl files (the first is the baseline)")->required();
    app->add_option("--baseline", baseline_, "baseline run (name or path)");
    app->add_option("--target", target_, "target accuracy in [0,1] (default: the baseline's maximum)")
        ->check(CLI::Range(0.0, 1.0));
    app->add_option("--markdown", markdown_, "also write the table as Markdown here");
    app->add_option("--svg", svg_, "write the accuracy-vs-steps plot here");
    app->add_flag("--log-x", plot_.log_steps, "log-scale steps axis");
    app->add_option("--y-from", plot_.y_from, "lower end of the plot's accuracy axis in [0,1), to zoom on the crossings")
        ->check(CLI::Range(0.0, 0.99));
    app->add_flag("--seeds", seeds_,
                  "group runs by variant (folder name without _s<seed>): median and min-max of the steps to the "
                  "baseline's best accuracy, of the speed-up, and of the same to within 0.5 points");
  }

  int run(std::shared_ptr<dist::Communicator>, const Hooks&) override {
    std::vector<train::RunCurve> runs;
    for (const auto& r : runs_) {
      try {
        runs.push_back(train::read_run(r));
      } catch (const std::runtime_error& e) {
        throw train::ConfigError(e.what());  // a bad metrics file on the command line is a usage error
      }
    }
    if (seeds_) {
      const auto result =
          train::compare_seeds(runs, baseline_, target_ >= 0 ? std::optional<double>(target_) : std::nullopt);
      std::cout << train::format_seeds(result, false);
      if (!markdown_.empty()) std::ofstream(markdown_) << train::format_seeds(result, true);
      if (!svg_.empty()) {
        std::ofstream(svg_) << train::plot_seeds_svg(runs, result, plot_);
        std::cout << "plot: " << svg_ << std::endl;
      }
      return kExitOk;
    }
    size_t baseline = 0;
    if (!baseline_.empty()) {
      auto it = std::find_if(runs.begin(), runs.end(),
                             [&](const auto& r) { return r.name == baseline_ || r.path == baseline_; });
      if (it == runs.end()) throw train::ConfigError("--baseline " + baseline_ + ": not one of the runs given");
      baseline = static_cast<size_t>(it - runs.begin());
    }
    auto result = train::compare_runs(runs, baseline, target_ >= 0 ? std::optional<double>(target_) : std::nullopt);
    std::cout << train::format_comparison(result, false);
    if (!markdown_.empty()) std::ofstream(markdown_) << train::format_comparison(result, true);
    if (!svg_.empty()) {
      std::ofstream(svg_) << train::plot_svg(runs, result.target, plot_);
      std::cout << "plot: " << svg_ << std::endl;
    }
    return kExitOk;
  }

 private:
  std::vector<std::string> runs_;
  std::string baseline_, markdown_, svg_;
  double target_ = -1;
  train::PlotOptions plot_;
  bool seeds_ = false;
};

}  // namespace

std::unique_ptr<Command> add_compare_command(CLI::App& app) { return std::make_unique<CompareCommand>(app); }

}  // namespace bnx::cli
