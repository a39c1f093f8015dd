// metrics.jsonl: records round-trip with their fields, a resume drops the lines written after the
// checkpoint's step, the eval curve reader, and the throughput window's means and data wait.
#include "train/metrics.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

TEST(Metrics, ResumeDropsLinesAfterTheCheckpointAndReadsTheEvalCurve) {
  const fs::path dir = test::scratch_dir("metrics_resume"), path = dir / "metrics.jsonl";
  {
    MetricsLog log(path.string(), -1);
    for (int64_t step : {10, 20, 30}) log.write({"train", step, 0.1, step * 8, 0.5, 1.0, 0.5, 0.9, 100, 1, 8});
    log.write({"eval", 20, 0.1, 160, 0.5, 0.7, 0.75, 0.95, 1000, 2, 100});
    log.write({"eval", 30, 0.1, 240, 0.5, 0.6, 0.8, 0.97, 1000, 3, 100});
  }
  EXPECT_EQ(read_eval_curve(path.string()), (std::vector<std::pair<int64_t, double>>{{20, 0.75}, {30, 0.8}}));
  { MetricsLog resumed(path.string(), 20); }  // resumed from a checkpoint at step 20
  std::ifstream in(path);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u);  // train 10, train 20, eval 20
  EXPECT_EQ(rows[2]["kind"], "eval");
  EXPECT_EQ(rows[2]["step"], 20);
  EXPECT_DOUBLE_EQ(rows[2]["top1"].get<double>(), 0.75);
  for (const char* key : {"kind", "step", "epoch", "examples", "lr", "loss", "top1", "top5", "images_per_sec", "wall_time",
                          "count"}) {
    EXPECT_TRUE(rows[0].contains(key)) << key;
  }
  EXPECT_TRUE(read_eval_curve((dir / "missing").string()).empty());
}

TEST(Metrics, WindowMeansAreOverExamplesAndRestart) {
  ThroughputWindow w;
  w.add({1, 0.1, 2.0 * 10, 5, 9, 10});  // mean loss 2.0 over 10 examples
  w.add({2, 0.2, 1.0 * 30, 21, 29, 30});
  auto [r, steps] = w.take();
  EXPECT_EQ(steps, 2);
  EXPECT_EQ(r.step, 2);
  EXPECT_DOUBLE_EQ(r.lr, 0.2);
  EXPECT_DOUBLE_EQ(r.loss, 50.0 / 40.0);
  EXPECT_DOUBLE_EQ(r.top1, 26.0 / 40.0);
  EXPECT_DOUBLE_EQ(r.top5, 38.0 / 40.0);
  EXPECT_EQ(r.count, 40);
  EXPECT_GT(r.images_per_sec, 0);
  w.add({3, 0.3, 4.0, 1, 2, 2});
  auto [next, n] = w.take();
  EXPECT_EQ(n, 1);
  EXPECT_DOUBLE_EQ(next.loss, 2.0);
}

TEST(Metrics, DataWaitIsTheWaitedShareOfTheWindowsTime) {
  ThroughputWindow w;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  StepStats s{1, 0.1, 1.0, 1, 1, 1};
  s.data_wait_s = 0.04;
  w.add(s);
  s.step = 2;
  w.add(s);  // 0.08 s waited in a window of at least 0.1 s
  auto [r, steps] = w.take();
  EXPECT_GT(r.data_wait, 0.0);
  EXPECT_LE(r.data_wait, 0.8);
  s.data_wait_s = 0;
  w.add(s);
  EXPECT_EQ(w.take().first.data_wait, 0.0);
  s.data_wait_s = 1e6;  // more than the window's time (clock granularity): at most all of it
  w.add(s);
  EXPECT_EQ(w.take().first.data_wait, 1.0);
  const fs::path dir = test::scratch_dir("metrics_wait"), path = dir / "metrics.jsonl";
  {
    MetricsLog log(path.string(), -1);
    MetricsRecord train{"train", 1, 0.1, 8, 0.5, 1.0, 0.5, 0.9, 100, 1, 8};
    train.data_wait = 0.25;
    log.write(train);
    log.write({"eval", 1, 0.1, 8, 0.5, 0.7, 0.75, 0.95, 1000, 2, 100});
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(line)["data_wait"].get<double>(), 0.25);
  std::getline(in, line);
  EXPECT_FALSE(nlohmann::json::parse(line).contains("data_wait"));  // evaluations wait for nothing
}

}  // namespace
}  // namespace bnx::train
