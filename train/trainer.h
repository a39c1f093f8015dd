// The training run: config -> data -> model -> optimizer -> loop, with evaluation, metrics,
// checkpoints and preemption. The loop does not know YAML or MPI: it gets a Config and a
// dist::Communicator.
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/transforms.h"
#include "dist/communicator.h"
#include "models/model.h"
#include "train/config.h"

namespace bnx::train {

/// Process exit codes of bnx (documented in the README).
enum ExitCode : int { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitPreempted = 75 };

/// A training failure that is not a bug: non-finite loss, and the like.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DataBundle {
  std::shared_ptr<data::Dataset> train, val;
  std::shared_ptr<data::Transform> train_transform, eval_transform;
};

/// Opens both splits and their transforms; checks mean/std against the images' channels.
DataBundle make_data(const Config& config);
/// The model the config names, for `data`'s channels and classes, synchronized over `comm`.
std::shared_ptr<models::Model> make_model_for(const Config& config, const DataBundle& data,
                                              std::shared_ptr<dist::Communicator> comm);
/// Intra-op threads for this rank: the config's, or cores / ranks on this node.
int threads_for(const Config& config, const dist::Communicator& comm);
/// With per-rank BN on several ranks: replaces every BN running statistic by its average over ranks
/// (so evaluation and checkpoints use one set of statistics). Collective; no-op otherwise.
void average_bn_statistics(models::Model& model, const Config& config, dist::Communicator& comm);

struct RunOptions {
  std::string out_dir;
  /// "" (fresh run; an existing checkpoint in out_dir is an error), "auto" or a checkpoint path.
  std::string resume;
};

/// Trains; returns kExitOk, or kExitPreempted after a signal-triggered checkpoint.
int train(const Config& config, std::shared_ptr<dist::Communicator> world, const RunOptions& run);

}  // namespace bnx::train
