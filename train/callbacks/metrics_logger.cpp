// The run's record on disk (see metrics_logger.h).
#include "train/callbacks/metrics_logger.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "models/model.h"
#include "train/build_info.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

// Now as UTC ISO 8601, e.g. 2026-11-29T16:39:05Z.
std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// The segments recorded by an earlier run.json in `dir` (none if absent, unreadable or older).
nlohmann::json earlier_segments(const fs::path& dir) {
  std::ifstream in(dir / "run.json");
  if (!in) return nlohmann::json::array();
  nlohmann::json old = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (old.is_object() && old.contains("segments") && old["segments"].is_array()) return old["segments"];
  return nlohmann::json::array();
}

// A fresh run in a folder that holds an earlier run's record but no checkpoint to continue it
// (deleted, or a snapshot without one): that record is renamed, never overwritten, e.g. to
// metrics.20261130T191500Z.jsonl, run.20261130T191500Z.json and config.20261130T191500Z.yaml.
void set_aside_earlier_run(const fs::path& dir) {
  std::ifstream in(dir / "metrics.jsonl");
  int64_t last_step = -1;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) last_step = std::max(last_step, j.value("step", int64_t{0}));
  }
  if (last_step < 0) return;
  std::string stamp = utc_now();  // 2026-11-30T19:15:00Z -> 20261130T191500Z
  stamp.erase(std::remove_if(stamp.begin(), stamp.end(), [](char c) { return c == '-' || c == ':'; }), stamp.end());
  std::string kept;
  for (const auto& [stem, ext] : {std::pair{"metrics", ".jsonl"}, {"run", ".json"}, {"config", ".yaml"}}) {
    const fs::path from = dir / (std::string(stem) + ext), to = dir / (std::string(stem) + "." + stamp + ext);
    if (!fs::exists(from)) continue;
    if (fs::exists(to)) throw std::runtime_error(to.string() + ": exists; cannot set the earlier run's record aside");
    fs::rename(from, to);
    kept += (kept.empty() ? "" : ", ") + to.filename().string();
  }
  std::cerr << dir.string() << ": no checkpoint continues the run recorded there (through step " << last_step
            << "); its record is kept as " << kept << " and this run starts at step 0" << std::endl;
}

}  // namespace

MetricsLogger::MetricsLogger(std::string out_dir, std::string config_text, int64_t every_steps,
                             int64_t resumed_from_step)
    : out_dir_(std::move(out_dir)),
      config_text_(std::move(config_text)),
      every_steps_(every_steps),
      resumed_from_step_(resumed_from_step) {}

double MetricsLogger::wall_time() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void MetricsLogger::on_fit_start(Trainer& t) {
  start_ = std::chrono::steady_clock::now();
  window_ = ThroughputWindow();
  if (!t.lead()) return;
  fs::create_directories(out_dir_);
  if (resumed_from_step_ < 0) set_aside_earlier_run(out_dir_);
  write_text(fs::path(out_dir_) / "config.yaml", config_text_);
  const Session& s = t.session();
  nlohmann::json segments = resumed_from_step_ > 0 ? earlier_segments(out_dir_) : nlohmann::json::array();
  segments.push_back({{"from_step", std::max<int64_t>(0, resumed_from_step_)},
                      {"started", utc_now()},
                      {"bnx_commit", bnx_commit()},
                      {"malloc", malloc_name()},
                      {"world_size", t.world().size()},
                      {"threads_per_rank", torch::get_num_threads()}});
  header_ = {{"bnx_version", BNX_VERSION},
             {"bnx_commit", bnx_commit()},
             {"torch_version", TORCH_VERSION},
             {"world_size", t.world().size()},
             {"threads_per_rank", torch::get_num_threads()},
             {"model", t.config().model.name},
             {"parameters", models::parameter_count(t.model())},
             {"train_examples", s.train_set->size()},
             {"val_examples", s.val_set->size()},
             {"steps_per_epoch", t.steps_per_epoch()},
             {"total_steps", t.total_steps()},
             {"resumed_from_step", resumed_from_step_},
             {"segments", segments}};
  write_text(fs::path(out_dir_) / "run.json", header_.dump(2) + "\n");
  log_ = std::make_unique<MetricsLog>((fs::path(out_dir_) / "metrics.jsonl").string(),
                                      std::max<int64_t>(0, resumed_from_step_));
}

void MetricsLogger::on_step_end(Trainer& t, const StepStats& stats) {
  window_.add(stats);
  if (!log_ || (stats.step % every_steps_ != 0 && stats.step != t.total_steps())) return;
  MetricsRecord r = window_.take().first;
  r.epoch = t.epoch_at(r.step);
  r.examples = t.examples_at(r.step);
  r.wall_time = wall_time();
  log_->write(r);
}

void MetricsLogger::on_eval_end(Trainer& t, const EvalResult& result) {
  window_.pause(result.seconds);  // images/s counts training time only
  if (!log_) return;
  const int64_t step = t.steps_done();
  MetricsRecord r{"eval", step, t.epoch_at(step), t.examples_at(step), t.learning_rate_at(std::max<int64_t>(0, step - 1)),
                  result.loss, result.top1, result.top5, result.count / std::max(1e-9, result.seconds), wall_time(),
                  result.count};
  log_->write(r);
}

void MetricsLogger::on_fit_end(Trainer& t, FitEnd end) {
  write_end(t, end == FitEnd::kFinished  ? std::string("finished: train.steps")
               : t.stop_reason().empty() ? std::string("stopped")
                                         : t.stop_reason());
}

void MetricsLogger::on_fit_failed(Trainer& t, const std::string& what) { write_end(t, "diverged: " + what); }

void MetricsLogger::write_end(Trainer& t, const std::string& how) {
  if (!log_) return;
  header_["ended"] = how;
  header_["ended_at_step"] = t.steps_done();
  nlohmann::json& segment = header_["segments"].back();
  segment["ended"] = how;
  segment["ended_at_step"] = t.steps_done();
  segment["ended_at"] = utc_now();
  write_text(fs::path(out_dir_) / "run.json", header_.dump(2) + "\n");
}

}  // namespace bnx::train
