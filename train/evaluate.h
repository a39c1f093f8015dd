// Evaluation with the model's running statistics (eval mode): loss, top-1 and top-5 over a
// validation set split across ranks so that every example counts exactly once.
#pragma once

#include <memory>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "dist/communicator.h"
#include "models/model.h"

namespace bnx::train {

struct EvalResult {
  double loss = 0;
  double top1 = 0;  // accuracy in [0, 1]
  double top5 = 0;
  int64_t count = 0;  // examples evaluated over all ranks
  double seconds = 0;  // wall time of the evaluation
};

/// Top-1/top-5 correct counts of logits (N, K) against labels (N,): returns {top1, top5}.
std::pair<int64_t, int64_t> correct_counts(const torch::Tensor& logits, const torch::Tensor& labels);

/// Evaluates `model` on this rank's shard of `dataset`; the result is the same on every rank.
/// With `loader.ten_crop` the logits of an example's 10 crops are averaged.
EvalResult evaluate(models::Model& model, std::shared_ptr<const data::Dataset> dataset,
                    std::shared_ptr<const data::Transform> transform, const data::LoaderOptions& loader,
                    int64_t batch_size, dist::Communicator& comm);

/// Re-estimates every BN layer's population statistics from `batches` (normalized as `transform`'s
/// options say when they are uint8) as the paper's Algorithm 2:
/// E[x] = mean of the batch means, Var[x] = m/(m-1) x mean of the batch variances (a cumulative
/// average over the batches, BN layers in training mode, everything else in eval mode, no
/// gradients). With SyncBatchNorm the batch statistics are those of the global batch. Collective.
/// Returns the number of BN layers re-estimated.
int recompute_bn_statistics(models::Model& model, data::Loader& batches, const data::TransformOptions& transform);

}  // namespace bnx::train
