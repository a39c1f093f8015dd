// The Trainer (through run_training, as `bnx train` uses it) under mpiexec: W ranks and one rank
// with the same global batch give the same losses (relative 1e-5) on Fashion-MNIST with norm sync;
// evaluation counts every validation example once; metrics.jsonl has its fields; a non-finite loss
// stops every rank with the step named and no checkpoint; the early-stop callbacks end the run at
// the evaluation that meets them, with a checkpoint; a fresh start keeps an earlier record that no
// checkpoint continues; a failed setup on one rank ends every rank.
#include "train/trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/registry.h"
#include "train/cli/config.h"
#include "train/run.h"
#include "train/checkpoint.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

using test::metrics_rows;
using test::scratch_dir;
using test::world;

Config tiny_config() {
  return cli::parse_config(R"(
name: tiny
model: {name: mlp, norm: sync, mlp_layers: 2, mlp_hidden: 32}
data: {kind: idx, crop_size: 28, resize: 28, random_resized_crop: false, flip: true, mean: [0.286], std: [0.353], threads: 1}
train: {batch_size: 24, steps: 20, seed: 5, threads: 1}
optim: {lr: 0.05, momentum: 0.9, weight_decay: 1e-4}
eval: {every_steps: 0, batch_size: 1000}
log: {every_steps: 1}
)",
                      "tiny");
}

TEST(Trainer, SameLossesOnWRanksAndOneRank) {
  auto comm = world();
  Config config = tiny_config();
  const fs::path many = scratch_dir("trainer_many"), one = scratch_dir("trainer_one");
  ASSERT_EQ(run_training(config, comm, {many.string(), "", "", true, {}}).end, FitEnd::kFinished);
  // Rank 0 alone, in a world of its own, with the same global batch.
  auto alone = comm->split(1);
  if (comm->rank() == 0) {
    EXPECT_EQ(run_training(config, alone, {one.string(), "", "", true, {}}).end, FitEnd::kFinished);  // no ASSERT: rank 0 must reach the barrier
  }
  comm->barrier();
  if (comm->rank() != 0) return;
  auto a = metrics_rows(many), b = metrics_rows(one);
  ASSERT_EQ(a.size(), b.size());
  int train_records = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (const char* key : {"kind", "step", "epoch", "examples", "lr", "loss", "top1", "top5", "images_per_sec", "wall_time"}) {
      ASSERT_TRUE(a[i].contains(key)) << key;
    }
    EXPECT_EQ(a[i]["kind"], b[i]["kind"]);
    EXPECT_EQ(a[i]["step"], b[i]["step"]);
    const double la = a[i]["loss"], lb = b[i]["loss"];
    EXPECT_NEAR(la, lb, 1e-5 * std::abs(lb)) << "record " << i;
    if (a[i]["kind"] == "train") {
      ++train_records;
      const double wait = a[i]["data_wait"];
      EXPECT_TRUE(wait >= 0 && wait <= 1) << "record " << i << ": data_wait " << wait;
    }
    if (a[i]["kind"] == "eval") {
      EXPECT_EQ(a[i]["count"], 10000);  // every validation example exactly once
      EXPECT_EQ(b[i]["count"], 10000);
    }
  }
  EXPECT_EQ(train_records, 20);
  EXPECT_EQ(a.back()["kind"], "eval");
  EXPECT_TRUE(fs::exists(many / "config.yaml"));
  EXPECT_TRUE(fs::exists(many / "run.json"));
  EXPECT_EQ(list_checkpoints(many.string()).size(), 1u);
}

TEST(Trainer, NonFiniteLossStopsEveryRankWithoutCheckpoint) {
  auto comm = world();
  Config config = tiny_config();
  config.optim.lr = 1e12;
  config.checkpoint.every_steps = 1;
  const fs::path dir = scratch_dir("trainer_nan");
  int64_t failed_step = 0;
  try {
    run_training(config, comm, {dir.string(), "", "", true, {}});
    FAIL() << "expected a non-finite loss";
  } catch (const TrainingError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("non-finite loss"), std::string::npos) << what;
    auto at = what.find("at step ");
    ASSERT_NE(at, std::string::npos) << what;
    failed_step = std::stoll(what.substr(at + 8));
  }
  EXPECT_GT(failed_step, 1);
  // Every rank stopped at the same step.
  EXPECT_EQ(comm->allreduce_scalar(failed_step, dist::ReduceOp::kMax), failed_step);
  comm->barrier();
  // Checkpoints of the finite steps before may exist; none of the poisoned step.
  for (const auto& path : list_checkpoints(dir.string())) EXPECT_LT(read_checkpoint(path).meta.step, failed_step);
  // run.json records the divergence (tools/reproduce.sh counts such a run as ended).
  if (comm->rank() == 0) {
    std::ifstream in(dir / "run.json");
    const auto run = nlohmann::json::parse(in);
    EXPECT_EQ(run.value("ended", "").rfind("diverged: non-finite loss", 0), 0u) << run.dump();
    EXPECT_EQ(run.value("ended_at_step", int64_t{-1}), failed_step - 1);
  }
}

// With per-rank BN, evaluation and checkpoints use the running statistics averaged over ranks.
TEST(Trainer, PerRankBnStatisticsAreAveragedForSaving) {
  auto comm = world();
  Config config = tiny_config();
  config.model.norm = models::Norm::kBatch;
  models::ModelOptions o = config.model;
  o.in_channels = 1;
  o.num_classes = 10;
  auto model = models::make_model(o, 28);
  model->forward(torch::randn({8, 1, 28, 28}) * (comm->rank() + 1) + comm->rank());  // rank-specific statistics
  torch::Tensor mean;
  for (const auto& [name, tensor] : models::state_dict(*model)) {
    if (name == "bn1.running_mean") mean = tensor;
  }
  ASSERT_TRUE(mean.defined());
  torch::Tensor expected = mean.clone();
  comm->allreduce(expected, dist::ReduceOp::kAvg);
  average_bn_statistics(*model, config, *comm);
  EXPECT_ALL_CLOSE(mean, expected, 1e-6, 1e-7);
  torch::Tensor first = mean.clone();
  comm->broadcast(first, 0);
  EXPECT_TRUE(torch::equal(first, mean));  // identical on every rank
}

TEST(Trainer, TargetStopEndsTheRunAtThatEvaluationWithACheckpoint) {
  auto comm = world();
  Config config = tiny_config();
  config.eval.schedule.every_steps = 4;
  config.eval.stop_at_top1 = 0.05;  // reached at the first evaluation
  const fs::path dir = scratch_dir("trainer_target");
  const RunResult r = run_training(config, comm, {dir.string(), "", "", true, {}});
  EXPECT_EQ(r.end, FitEnd::kStopped);
  EXPECT_FALSE(r.by_signal);
  EXPECT_EQ(r.steps, 4);
  comm->barrier();
  if (comm->rank() != 0) return;
  auto rows = metrics_rows(dir);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back()["kind"], "eval");
  EXPECT_EQ(rows.back()["step"], 4);
  ASSERT_EQ(list_checkpoints(dir.string()).size(), 1u);
  EXPECT_EQ(read_checkpoint(list_checkpoints(dir.string())[0]).meta.step, 4);
  // run.json says why, with the accuracies as numbers, not fixed six decimals.
  std::ifstream in(dir / "run.json");
  const std::string ended = nlohmann::json::parse(in).value("ended", "");
  const double top1 = rows.back()["top1"];
  std::ostringstream expected;
  expected << "top-1 " << top1 << " reached the target 0.05";
  EXPECT_EQ(ended, expected.str());
}

// A run started again at step 0 (no checkpoint left to continue it) keeps the earlier run's record
// under a dated name instead of overwriting it.
TEST(Trainer, AFreshStartKeepsAnEarlierRecordThatNoCheckpointContinues) {
  auto comm = world();
  Config config = tiny_config();
  config.train.steps = 8;
  const fs::path dir = scratch_dir("trainer_set_aside");
  ASSERT_EQ(run_training(config, comm, {dir.string(), "", "", true, {}}).end, FitEnd::kFinished);
  comm->barrier();
  if (comm->rank() == 0) {
    for (const auto& path : list_checkpoints(dir.string())) fs::remove(path);
  }
  comm->barrier();
  config.train.steps = 6;
  ASSERT_EQ(run_training(config, comm, {dir.string(), "auto", "", true, {}}).end, FitEnd::kFinished);
  comm->barrier();
  if (comm->rank() != 0) return;
  EXPECT_EQ(metrics_rows(dir).back()["step"], 6);
  std::vector<fs::path> kept;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name != "metrics.jsonl" && name != "run.json" && name != "config.yaml" && name != ".bnx.lock" &&
        name.rfind("ckpt_", 0) != 0) {
      kept.push_back(name);
    }
  }
  std::sort(kept.begin(), kept.end());
  ASSERT_EQ(kept.size(), 3u);  // config.<stamp>.yaml, metrics.<stamp>.jsonl, run.<stamp>.json
  const std::string stamp = kept[0].string().substr(7, 16);  // config.20261130T191500Z.yaml
  EXPECT_EQ(kept[1], "metrics." + stamp + ".jsonl");
  EXPECT_EQ(kept[2], "run." + stamp + ".json");
  std::ifstream in(dir / kept[1]);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  EXPECT_EQ(nlohmann::json::parse(last)["step"], 8);
}

// A bad data root on one rank only: every rank ends with an error (none waits in a collective),
// the others told which rank failed, and nothing is written.
TEST(Trainer, SetupFailureOnOneRankEndsEveryRank) {
  auto comm = world();
  Config config = tiny_config();
  if (comm->rank() == comm->size() - 1) config.data.root = "/nonexistent/fashion";
  dist::set_input_error_classifier([](const std::exception& e) { return dynamic_cast<const data::DataError*>(&e); });
  const fs::path dir = scratch_dir("trainer_setup") / "run";  // not to be created
  try {
    run_training(config, comm, {dir.string(), "", "", true, {}});
    FAIL() << "expected a setup failure";
  } catch (const dist::AgreedFailure& e) {
    EXPECT_EQ(e.failed_rank, comm->size() - 1);
    EXPECT_TRUE(e.input_error);
    EXPECT_EQ(e.report, comm->rank() == comm->size() - 1);
    if (e.report) {
      EXPECT_NE(std::string(e.what()).find("/nonexistent/fashion"), std::string::npos) << e.what();
    }
  }
  comm->barrier();
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace bnx::train
