// train::Config: every error class names what is wrong (key, file and line, nearest key, value and
// what is allowed, missing key); --set overrides with the same validation; a config round-trips
// through to_yaml (what --print-config prints); the shipped configs all parse.
#include "train/cli/config.h"
#include "train/errors.h"

#include <filesystem>

#include "tests/test_support.h"

namespace bnx::cli {
namespace {

using train::Config;
using train::ConfigError;

const std::string kMinimal = "model:\n  name: mlp\ntrain:\n  batch_size: 32\n  steps: 10\n";

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(text, "c.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Config, MinimalConfigHasDefaults) {
  Config c = parse_config(kMinimal, "c.yaml");
  EXPECT_EQ(c.model.name, "mlp");
  EXPECT_EQ(c.train.batch_size, 32);
  EXPECT_EQ(c.model.norm, models::Norm::kBatch);
  EXPECT_EQ(c.model.num_classes, 0);
  EXPECT_DOUBLE_EQ(c.optim.momentum, 0.9);
}

TEST(Config, UnknownKeyNamesFileLineAndNearestKey) {
  std::string msg = error_of(kMinimal + "optim:\n  momentun: 0.5\n");
  EXPECT_EQ(msg, "c.yaml:7: unknown key 'optim.momentun' (did you mean 'optim.momentum'?)");
  msg = error_of(kMinimal + "modle:\n  width: 2\n");
  EXPECT_NE(msg.find("c.yaml:7: unknown key 'modle.width' (did you mean 'model.width'?)"), std::string::npos) << msg;
}

TEST(Config, BadValuesNameKeyValueAndAllowed) {
  EXPECT_EQ(error_of(kMinimal + "optim:\n  lr: fast\n"), "c.yaml:7: optim.lr: got 'fast', expected a number >= 0");
  EXPECT_EQ(error_of("model:\n  name: mlp\n  norm: group\ntrain:\n  batch_size: 32\n  steps: 10\n"),
            "c.yaml:3: model.norm: got 'group', expected one of none, batch, sync");
  EXPECT_EQ(error_of(kMinimal, {"model.dropout=1.5"}),
            "--set model.dropout: model.dropout: got '1.5', expected a number in [0, 0.99]");
  EXPECT_EQ(error_of(kMinimal, {"train.batch_size=-4"}),
            "--set train.batch_size: train.batch_size: got '-4', expected an integer >= 1");
  EXPECT_EQ(error_of(kMinimal, {"data.flip=maybe"}), "--set data.flip: data.flip: got 'maybe', expected true or false");
  EXPECT_EQ(error_of(kMinimal + "data:\n  mean: [0.5, x]\n"),
            "c.yaml:7: data.mean: got a list, expected a list of numbers");
}

TEST(Config, MissingAndConflictingKeys) {
  EXPECT_EQ(error_of("train:\n  batch_size: 8\n  steps: 1\n"), "c.yaml: missing required key 'model.name'");
  EXPECT_EQ(error_of("model:\n  name: mlp\ntrain:\n  batch_size: 8\n"),
            "c.yaml: set exactly one of train.steps and train.epochs (got steps 0, epochs 0)");
  EXPECT_NE(error_of(kMinimal, {"train.epochs=2"}).find("set exactly one of train.steps and train.epochs"), std::string::npos);
  EXPECT_NE(error_of("model: [1, 2\n").find("invalid YAML"), std::string::npos);
  EXPECT_EQ(error_of(kMinimal, {"nonsense"}), "--set nonsense: expected section.key=value");
}

TEST(Config, OverridesApplyAndRoundTrip) {
  Config c = parse_config(kMinimal, "c.yaml",
                          {"model.norm=sync", "schedule.milestones=10,20", "optim.lr=0.045", "data.mean=[0.5]",
                           "data.std=[0.25]", "dist.bucket_mb=1.5"});
  EXPECT_EQ(c.model.norm, models::Norm::kSync);
  EXPECT_EQ(c.schedule.milestones, (std::vector<double>{10, 20}));
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.045);
  EXPECT_DOUBLE_EQ(c.dist.bucket_mb, 1.5);
  const std::string printed = to_yaml(c);
  Config again = parse_config(printed, "printed.yaml");
  EXPECT_EQ(to_yaml(again), printed);
  EXPECT_NE(printed.find("lr: 0.045"), std::string::npos) << printed;
}

TEST(Config, ShippedConfigsParse) {
  int n = 0;
  for (const auto& dir : {"configs/fashion_mnist", "configs/imagenet"}) {
    const auto path = std::filesystem::path(BNX_SOURCE_DIR) / dir;
    if (!std::filesystem::exists(path)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      if (entry.path().extension() != ".yaml") continue;
      EXPECT_NO_THROW(load_config(entry.path().string())) << entry.path();
      ++n;
    }
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace bnx::cli
