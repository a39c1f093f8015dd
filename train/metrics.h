// Run metrics: one JSON object per line in DIR/metrics.jsonl (what `bnx compare` reads), and rank
// 0's progress display (a live line on a terminal, plain lines in batch logs).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

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
};

class MetricsLog {
 public:
  /// Opens `path` for appending; when resuming from `keep_through_step` >= 0, earlier lines with
  /// a larger step (written after that checkpoint) are dropped first.
  MetricsLog(const std::string& path, int64_t keep_through_step);
  void write(const MetricsRecord& record);

 private:
  std::ofstream out_;
};

/// Progress of training on rank 0: live in place on a terminal, else one line per call.
class Progress {
 public:
  Progress(int64_t total_steps, bool terminal);
  void update(int64_t step, double epoch, double loss, double lr, double images_per_sec, double eta_seconds);
  void message(const std::string& text);  // a full line (ends a live line first)

 private:
  int64_t total_;
  bool terminal_;
  bool live_ = false;
};

}  // namespace bnx::train
