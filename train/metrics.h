// metrics.jsonl, the record of a run that `bnx compare` reads: one JSON object per line, written by
// rank 0. Also the throughput window that the metrics log and the progress line share.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "train/callback.h"

namespace bnx::train {

struct MetricsRecord {
  std::string kind;  // "train" or "eval"
  int64_t step = 0;
  double epoch = 0;  // examples seen / training set size
  int64_t examples = 0;
  double lr = 0;
  double loss = 0;
  double top1 = 0;   // accuracy in [0, 1]
  double top5 = 0;
  double images_per_sec = 0;
  double wall_time = 0;  // seconds since the run (or its resume) started
  int64_t count = 0;     // examples the numbers are over
  double data_wait = 0;  // "train": fraction of the training time rank 0 waited for the loader
};

/// The (step, top-1) pairs of the "eval" records of a metrics.jsonl (none when it does not exist).
std::vector<std::pair<int64_t, double>> read_eval_curve(const std::string& path);

class MetricsLog {
 public:
  /// Opens `path` for appending; when resuming from `keep_through_step` >= 0, earlier lines with
  /// a larger step (written after that checkpoint) are dropped first.
  MetricsLog(const std::string& path, int64_t keep_through_step);
  void write(const MetricsRecord& record);

 private:
  std::ofstream out_;
};

/// Training numbers since the last take(): mean loss and accuracy over the updates, and images per
/// second of training time (evaluations excluded).
class ThroughputWindow {
 public:
  ThroughputWindow();
  void add(const StepStats& stats);
  /// Excludes `seconds` (an evaluation) from the window's time.
  void pause(double seconds);
  /// The window as a "train" record at its last step (epoch, examples, wall_time left to fill),
  /// and how many updates it spans; starts the next window.
  std::pair<MetricsRecord, int64_t> take();

 private:
  std::chrono::steady_clock::time_point start_;
  int64_t steps_ = 0, last_step_ = 0;
  double last_lr_ = 0, loss_ = 0, top1_ = 0, top5_ = 0, count_ = 0, wait_ = 0;
};

}  // namespace bnx::train
