// metrics.jsonl and the throughput window (see metrics.h).
#include "train/metrics.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <vector>

namespace bnx::train {

std::vector<std::pair<int64_t, double>> read_eval_curve(const std::string& path) {
  std::vector<std::pair<int64_t, double>> curve;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("kind", "") == "eval") curve.emplace_back(j.value("step", int64_t{0}), j.value("top1", 0.0));
  }
  return curve;
}

MetricsLog::MetricsLog(const std::string& path, int64_t keep_through_step) {
  if (keep_through_step >= 0) {
    std::vector<std::string> kept;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("step", int64_t{0}) <= keep_through_step) kept.push_back(line);
    }
    in.close();
    std::ofstream rewrite(path, std::ios::trunc);
    for (const auto& line : kept) rewrite << line << "\n";
  }
  out_.open(path, std::ios::app);
  if (!out_) throw std::runtime_error(path + ": cannot write metrics");
}

void MetricsLog::write(const MetricsRecord& r) {
  nlohmann::json j = {{"kind", r.kind},   {"step", r.step}, {"epoch", r.epoch},   {"examples", r.examples},
                      {"lr", r.lr},       {"loss", r.loss}, {"top1", r.top1},     {"top5", r.top5},
                      {"images_per_sec", r.images_per_sec}, {"wall_time", r.wall_time}, {"count", r.count}};
  if (r.kind == "train") j["data_wait"] = r.data_wait;
  out_ << j.dump() << "\n";
  out_.flush();
}

ThroughputWindow::ThroughputWindow() : start_(std::chrono::steady_clock::now()) {}

void ThroughputWindow::add(const StepStats& s) {
  ++steps_;
  last_step_ = s.step;
  last_lr_ = s.lr;
  loss_ += s.loss_sum;
  top1_ += s.top1;
  top5_ += s.top5;
  count_ += s.count;
  wait_ += s.data_wait_s;
}

void ThroughputWindow::pause(double seconds) {
  start_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

std::pair<MetricsRecord, int64_t> ThroughputWindow::take() {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  MetricsRecord r;
  r.kind = "train";
  r.step = last_step_;
  r.lr = last_lr_;
  r.loss = loss_ / count_;
  r.top1 = top1_ / count_;
  r.top5 = top5_ / count_;
  r.images_per_sec = count_ / std::max(elapsed, 1e-9);
  r.count = static_cast<int64_t>(count_);
  r.data_wait = std::min(1.0, wait_ / std::max(elapsed, 1e-9));
  std::pair<MetricsRecord, int64_t> out{r, steps_};
  start_ = now;
  steps_ = 0;
  loss_ = top1_ = top5_ = count_ = wait_ = 0;
  return out;
}

}  // namespace bnx::train
