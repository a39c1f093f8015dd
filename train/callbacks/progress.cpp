// Progress display (see progress.h).
#include "train/callbacks/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "models/model.h"
#include "train/build_info.h"
#include "train/trainer.h"

namespace bnx::train {

ProgressPrinter::ProgressPrinter(int64_t every_steps, std::string out_dir, std::string resumed_from)
    : every_steps_(every_steps),
      out_dir_(std::move(out_dir)),
      resumed_from_(std::move(resumed_from)),
      terminal_(::isatty(STDOUT_FILENO)) {}

void ProgressPrinter::line(const std::string& text) {
  if (live_) std::cout << "\n";
  live_ = false;
  std::cout << text << std::endl;
}

void ProgressPrinter::on_fit_start(Trainer& t) {
  start_ = std::chrono::steady_clock::now();
  window_ = ThroughputWindow();
  if (!t.lead()) return;
  const Config& c = t.config();
  std::string shards;  // the global batch's split over the ranks
  for (int r = 0; r < t.world().size() && r < 8 && t.world().size() > 1; ++r) {
    const auto [begin, end] = t.sampler().shard(r);
    shards += (r ? ", " : " (shards ") + std::to_string(end - begin);
  }
  if (t.world().size() > 8) shards += ", ...";
  if (!shards.empty()) shards += ")";
  line("bnx " BNX_VERSION " (" + std::string(bnx_commit()) + ") | LibTorch " TORCH_VERSION ", " + malloc_name() + " | " + c.name + ": " + c.model.name + ", " +
       std::to_string(models::parameter_count(t.model())) + " parameters | " + std::to_string(t.world().size()) +
       " rank(s) x " + std::to_string(torch::get_num_threads()) + " threads | " + std::to_string(t.total_steps()) +
       " steps of " + std::to_string(c.train.batch_size) + shards + (resumed_from_.empty() ? "" : " | resumed from " + resumed_from_));
}

void ProgressPrinter::on_step_end(Trainer& t, const StepStats& stats) {
  window_.add(stats);
  if (!t.lead() || (stats.step % every_steps_ != 0 && stats.step != t.total_steps())) return;
  auto [r, steps] = window_.take();
  const double elapsed = r.count / std::max(r.images_per_sec, 1e-9);
  const double eta = static_cast<double>(t.total_steps() - r.step) * elapsed / static_cast<double>(std::max<int64_t>(1, steps));
  char text[256];
  std::snprintf(text, sizeof(text), "step %lld/%lld  epoch %.2f  loss %.4f  lr %.4g  %.0f img/s  data wait %.0f%%  ETA %02d:%02d:%02d",
                static_cast<long long>(r.step), static_cast<long long>(t.total_steps()), t.epoch_at(r.step), r.loss,
                r.lr, r.images_per_sec, 100 * r.data_wait, static_cast<int>(eta / 3600), static_cast<int>(eta / 60) % 60,
                static_cast<int>(eta) % 60);
  if (terminal_) {
    std::cout << "\r\033[K" << text << std::flush;
    live_ = true;
  } else {
    std::cout << text << std::endl;
  }
}

void ProgressPrinter::on_eval_end(Trainer& t, const EvalResult& r) {
  window_.pause(r.seconds);
  if (!t.lead()) return;
  char text[200];
  std::snprintf(text, sizeof(text), "eval  step %lld  loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%lld examples)",
                static_cast<long long>(t.steps_done()), r.loss, 100 * r.top1, 100 * r.top5,
                static_cast<long long>(r.count));
  line(text);
}

void ProgressPrinter::on_fit_end(Trainer& t, FitEnd end) {
  if (!t.lead()) return;
  const std::string step = std::to_string(t.steps_done());
  if (end == FitEnd::kStopped) {
    line("stopped at step " + step + " (" + t.stop_reason() + "); checkpoint written; " + out_dir_);
  } else {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    line("done: " + step + " steps in " + std::to_string(seconds) + " s; " + out_dir_);
  }
}

}  // namespace bnx::train
