// metrics.jsonl and progress output (see metrics.h).
#include "train/metrics.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <vector>

namespace bnx::train {

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
  out_ << j.dump() << "\n";
  out_.flush();
}

Progress::Progress(int64_t total_steps, bool terminal) : total_(total_steps), terminal_(terminal) {}

void Progress::update(int64_t step, double epoch, double loss, double lr, double ips, double eta) {
  char line[256];
  std::snprintf(line, sizeof(line), "step %lld/%lld  epoch %.2f  loss %.4f  lr %.4g  %.0f img/s  ETA %02d:%02d:%02d",
                static_cast<long long>(step), static_cast<long long>(total_), epoch, loss, lr, ips,
                static_cast<int>(eta / 3600), static_cast<int>(eta / 60) % 60, static_cast<int>(eta) % 60);
  if (terminal_) {
    std::cout << "\r\033[K" << line << std::flush;
    live_ = true;
  } else {
    std::cout << line << std::endl;
  }
}

void Progress::message(const std::string& text) {
  if (live_) std::cout << "\n";
  live_ = false;
  std::cout << text << std::endl;
}

}  // namespace bnx::train
