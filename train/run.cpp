// A whole training run (see run.h).
#include "train/run.h"

#include <filesystem>
#include <iostream>

#include "train/callbacks/checkpointer.h"
#include "train/callbacks/early_stop.h"
#include "train/callbacks/evaluator.h"
#include "train/callbacks/metrics_logger.h"
#include "train/callbacks/progress.h"
#include "train/run_lock.h"
#include "train/signals.h"

namespace bnx::train {

RunResult run_training(const Config& config, std::shared_ptr<dist::Communicator> world, const RunOptions& run) {
  if (run.stop_on_signals) install_stop_handlers();
  Session session = open_session(config, world);
  std::unique_ptr<Trainer> trainer;
  std::optional<Checkpoint> resumed;
  dist::agree_on_failure(*session.world, [&] {
    trainer = std::make_unique<Trainer>(std::move(session), run.config_text);
  });
  // Once the config and data have proved good (an error in them writes nothing), rank 0 holds the run
  // folder (run_lock.h) until the run ends: from before it reads a checkpoint there, so a duplicate
  // launch is refused even where that checkpoint says the run is complete.
  // A launch refused here (a bad --resume file) leaves no run folder it created behind.
  std::optional<RunLock> lock;
  try {
    dist::agree_on_failure(trainer->world(), [&] {
      if (trainer->lead()) lock.emplace(run.out_dir);
      resumed = resume_checkpoint(run.out_dir, run.resume, std::cerr);
      if (resumed) trainer->restore(*resumed);
    });
  } catch (...) {
    if (lock) lock->abandon();
    throw;
  }
  RunResult result;
  if (trainer->steps_done() >= trainer->total_steps()) {
    if (trainer->lead()) std::cout << resumed->path << ": the run is already complete (" << trainer->steps_done() << " steps)" << std::endl;
    result.steps = trainer->steps_done();
    return result;
  }
  const std::string metrics = (std::filesystem::path(run.out_dir) / "metrics.jsonl").string();
  const int64_t resumed_step = resumed ? resumed->meta.step : -1;
  trainer->add_callback(std::make_shared<MetricsLogger>(run.out_dir, run.config_text, config.log.every_steps, resumed_step));
  trainer->add_callback(std::make_shared<ProgressPrinter>(config.log.every_steps, run.out_dir, resumed ? resumed->path : ""));
  trainer->add_callback(std::make_shared<Evaluator>(config.eval.schedule));
  if (config.eval.stop_at_plateau) {
    AccuracyCurve history;
    if (resumed && trainer->lead()) history = read_eval_curve(metrics);
    while (!history.empty() && history.back().first > resumed_step) history.pop_back();
    trainer->add_callback(std::make_shared<PlateauStop>(config.eval.plateau, std::move(history)));
  }
  if (config.eval.stop_at_top1 > 0) trainer->add_callback(std::make_shared<TargetStop>(config.eval.stop_at_top1));
  trainer->add_callback(std::make_shared<Checkpointer>(run.out_dir, config.checkpoint.every_steps, config.checkpoint.keep));
  if (run.stop_on_signals) trainer->set_stop_source(stop_signal);
  if (run.customize) run.customize(*trainer);
  result.end = trainer->fit();
  result.steps = trainer->steps_done();
  result.by_signal = trainer->stopped_by_signal();
  return result;
}

}  // namespace bnx::train
