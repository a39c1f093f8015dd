// The training engine: a run as an object. `step` is one SGD update on the global batch (each rank
// its shard, gradients reduced over ranks), `evaluate` runs the validation set, `fit` is the loop
// (Algorithm 1's outer loop over mini-batches), `save` and `restore` are checkpoints. Everything
// around the loop (metrics, progress, evaluation cadence, checkpoints, early stopping) is a
// Callback; stop signals come from an injected stop source. Built from a Session (session.h).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/sampler.h"
#include "dist/gradient_reducer.h"
#include "train/callback.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/precision.h"
#include "train/schedule.h"
#include "train/session.h"

namespace bnx::train {

class Trainer {
 public:
  /// `config_text` is stored in checkpoints as the run's config (the command line's YAML).
  /// Collective (the gradient reducer broadcasts rank 0's parameters and checks the models agree).
  Trainer(Session session, std::string config_text);
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;
  ~Trainer();

  void add_callback(std::shared_ptr<Callback> callback);
  /// Polled once per update; a nonzero value on any rank stops every rank after that update (the
  /// ranks agree through the update's metrics allreduce). Typically train::stop_signal.
  void set_stop_source(std::function<int()> source) { stop_source_ = std::move(source); }

  /// Continues from `checkpoint`: parameters, buffers, optimizer, RNG, loss scale, step.
  void restore(Checkpoint& checkpoint);  // non-const: reading the optimizer archive advances it
  /// Trains to train.steps or to an agreed stop; runs the callbacks. Collective.
  FitEnd fit();
  /// One update on `batch` (this rank's shard of the global batch). Collective.
  StepStats step(const data::Batch& batch);
  /// Loss and accuracy on the validation set (every example once over the ranks), then the
  /// on_eval_end callbacks. Collective.
  EvalResult evaluate();
  /// Writes a checkpoint of the current state to `path` (rank 0; collective: per-rank BN
  /// statistics are averaged over ranks first).
  void save(const std::string& path);
  /// Asks to stop at the next agreement point (after an evaluation or an update).
  void request_stop(const std::string& reason);
  /// The reason of the agreed stop, "" if none (set on the rank that asked; others say "another rank").
  const std::string& stop_reason() const { return stop_reason_; }
  /// Whether the ranks agreed to stop (the loop ends after the current update's callbacks).
  bool stopping() const { return stopping_; }
  /// Whether a stop signal (on any rank) ended the run.
  bool stopped_by_signal() const { return by_signal_; }

  int64_t steps_done() const { return step_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return sampler_.steps_per_epoch(); }
  const data::DistributedSampler& sampler() const { return sampler_; }
  /// Learning rate of the update at 0-based `step`.
  double learning_rate_at(int64_t step) const;
  /// Epochs done after `step` updates (examples seen / training set size).
  double epoch_at(int64_t step) const;
  int64_t examples_at(int64_t step) const { return step * session_.config.train.batch_size; }
  const Session& session() const { return session_; }
  const Config& config() const { return session_.config; }
  dist::Communicator& world() const { return *session_.world; }
  bool lead() const { return session_.world->rank() == 0; }
  models::Model& model() const { return *session_.model; }
  /// The gradient reducer (null on one rank).
  const dist::GradientReducer* reducer() const { return reducer_.get(); }

 private:
  void run_epoch();
  bool agree_to_stop(bool local);
  template <class F>
  void for_each_callback(F f) {
    for (auto& c : callbacks_) f(*c);
  }

  Session session_;
  std::string config_text_;
  data::DistributedSampler sampler_;
  int64_t total_steps_ = 0;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<torch::Tensor> parameters_;
  std::optional<LossScaler> scaler_;
  std::unique_ptr<dist::GradientReducer> reducer_;
  ScheduleContext schedule_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::function<int()> stop_source_;
  int64_t step_ = 0;
  bool stop_requested_ = false, stopping_ = false;
  bool by_signal_ = false;
  std::string stop_reason_;
};

/// With per-rank BN on several ranks: replaces every BN running statistic by its average over ranks
/// (so evaluation and checkpoints use one set of statistics). Collective; no-op otherwise.
void average_bn_statistics(models::Model& model, const Config& config, dist::Communicator& comm);

}  // namespace bnx::train
