// `bnx eval`: a checkpoint through the training run's setup (train/session.h) and evaluation:
// loss, top-1/top-5 with the BN running statistics, optionally 10 crops, optionally after
// re-estimating the BN statistics (the paper's Algorithm 2).
#include <nlohmann/json.hpp>

#include <iostream>

#include "data/sampler.h"
#include "train/checkpoint.h"
#include "train/cli/command.h"
#include "train/cli/config.h"
#include "train/evaluate.h"
#include "train/session.h"

namespace bnx::cli {
namespace {

class EvalCommand : public Command {
 public:
  explicit EvalCommand(CLI::App& parent) {
    app = parent.add_subcommand("eval", "evaluate a checkpoint (loss, top-1/top-5) with its BN running statistics");
    app->add_option("--checkpoint", checkpoint_, "checkpoint file")->required();
    app->add_option("--data", data_, "data set root (default: the checkpoint config's)");
    app->add_option("--set", set_, "override a config key");
    app->add_option("--recompute-bn", recompute_bn_, "re-estimate BN statistics from N training batches first")
        ->check(CLI::NonNegativeNumber);
    app->add_option("--save", save_, "with --recompute-bn: write the recalibrated checkpoint here");
    app->add_flag("--ten-crop", ten_crop_, "average the logits of 10 crops (corners, center, and their mirrors)");
  }
  bool distributed() const override { return true; }

  int run(std::shared_ptr<dist::Communicator> world, const Hooks&) override {
    train::Checkpoint ckpt;
    train::Config config;
    dist::agree_on_failure(*world, [&] {
      ckpt = train::read_checkpoint(checkpoint_);
      std::vector<std::string> overrides = set_;
      if (!data_.empty()) overrides.push_back("data.root=" + data_);
      config = parse_config(ckpt.meta.config_yaml, checkpoint_ + " (its config)", overrides);
    });
    train::Session s = train::open_session(config, world);
    dist::agree_on_failure(*s.world, [&] { train::load_state(ckpt, models::state_dict(*s.model)); });
    if (recompute_bn_ > 0) recompute_bn(s, ckpt);
    data::LoaderOptions loader = s.loader;
    loader.ten_crop = ten_crop_;
    const train::EvalResult r =
        train::evaluate(*s.model, s.val_set, s.eval_transform, loader, config.eval.batch_size, *s.world);
    if (s.world->rank() == 0) {
      nlohmann::json j = {{"checkpoint", checkpoint_}, {"step", ckpt.meta.step}, {"loss", r.loss},
                          {"top1", r.top1},            {"top5", r.top5},          {"top1_error", 1 - r.top1},
                          {"top5_error", 1 - r.top5},  {"count", r.count},        {"crops", ten_crop_ ? 10 : 1}};
      std::cout << j.dump() << std::endl;
    }
    return kExitOk;
  }

 private:
  void recompute_bn(train::Session& s, const train::Checkpoint& ckpt) {
    const train::Config& c = s.config;
    data::DistributedSampler sampler(s.train_set->size(), c.train.batch_size, s.world->rank(), s.world->size(),
                                     c.train.seed, c.train.shuffle);
    auto batches = sampler.local_epoch(0, 0);
    if (static_cast<int64_t>(batches.size()) < recompute_bn_) {
      throw train::ConfigError("--recompute-bn " + std::to_string(recompute_bn_) + ": the training set has only " +
                               std::to_string(batches.size()) + " batches");
    }
    batches.resize(recompute_bn_);
    data::Loader loader(s.train_set, s.train_transform, s.loader, batches, c.train.seed, 0);
    const int layers = train::recompute_bn_statistics(*s.model, loader, c.transform);
    if (s.world->rank() != 0) return;
    std::cout << "re-estimated " << layers << " BN layers from " << recompute_bn_ << " batches\n";
    if (!save_.empty()) {
      train::write_checkpoint(save_, models::state_dict(*s.model), nullptr, ckpt.meta);
      std::cout << "saved " << save_ << "\n";
    }
  }

  std::string checkpoint_, data_, save_;
  std::vector<std::string> set_;
  int64_t recompute_bn_ = 0;
  bool ten_crop_ = false;
};

}  // namespace

std::unique_ptr<Command> add_eval_command(CLI::App& app) { return std::make_unique<EvalCommand>(app); }

}  // namespace bnx::cli
