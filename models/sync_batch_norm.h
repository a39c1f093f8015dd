// SyncBatchNorm: batch normalization whose training statistics are those of the global
// mini-batch over a group of ranks (Ioffe & Szegedy 2015, Algorithm 1 with the mini-batch being
// the union of every rank's shard). On the CPU, forward sends one allreduce of 2C+1 float64 values
// (count, per-channel sums and sums of squares, shifted by the running mean for stability); on
// CUDA, ATen's SyncBatchNorm kernels with one allgather of 2C+1 values per rank (mean, invstd,
// count; half-precision inputs are read directly). Backward sends one allreduce of 2C values (sum
// of dy, sum of dy * (x - mean)).
// Float32 CPU inputs whose channels are adjacent in memory (channels-last, (N, C)) are normalized
// by bnx's own kernels (models/batch_norm_cpu.h: 3-7x faster than ATen's at small channel counts,
// with the following ReLU fused through forward_relu), on one rank or many. Without a
// communicator, or with a group of one rank, any other input goes through ATen's batch-norm kernel
// as torch::nn::BatchNorm{1,2}d. The "batch" (per-rank) and "sync" norms of bnx share one module
// type and one state-dict layout.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>

#include "dist/communicator.h"

namespace bnx::models {

struct SyncBatchNormOptions {
  /* implicit */ SyncBatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  /// Running-statistics momentum; nullopt = cumulative moving average (as PyTorch's None).
  TORCH_ARG(std::optional<double>, momentum) = 0.1;
  TORCH_ARG(bool, affine) = true;
  TORCH_ARG(bool, track_running_stats) = true;
};

class SyncBatchNormImpl : public torch::nn::Module {
 public:
  /// `group`: the ranks whose batches are normalized together (dist::statistics_group makes one
  /// per run); null = per-rank batch norm. Construction makes no collective call.
  explicit SyncBatchNormImpl(SyncBatchNormOptions options, std::shared_ptr<dist::Communicator> group = nullptr);

  /// x: (N, C), (N, C, L) or (N, C, H, W), any memory format. N may be 0 on some ranks in training.
  torch::Tensor forward(const torch::Tensor& x);
  /// relu(forward(x)), in one pass over the data for float32 CPU inputs with adjacent channels.
  torch::Tensor forward_relu(const torch::Tensor& x);

  /// Synchronizes statistics over `group` (nullptr = per-rank). Collective over `group`: the running
  /// statistics become their average over it (forward needs them equal across the group).
  void set_group(std::shared_ptr<dist::Communicator> group);
  /// Changes the running-statistics momentum (nullopt = cumulative average).
  void set_momentum(std::optional<double> momentum) { options_.momentum(momentum); }
  /// Running mean 0, variance 1, num_batches_tracked 0.
  void reset_running_stats();
  /// The communicator statistics are reduced over (nullptr when local).
  const std::shared_ptr<dist::Communicator>& group() const { return group_; }
  const SyncBatchNormOptions& options() const { return options_; }
  void pretty_print(std::ostream& stream) const override;

  torch::Tensor weight, bias;                                   // (C,) when affine
  torch::Tensor running_mean, running_var, num_batches_tracked;  // (C,), (C,), () int64

 private:
  torch::Tensor normalize(const torch::Tensor& x, bool relu);
  /// Float32 CPU inputs of rows of adjacent channels: models/batch_norm_cpu.h (training, and
  /// inference without autograd).
  bool uses_row_kernels(const torch::Tensor& x) const;

  SyncBatchNormOptions options_;
  std::shared_ptr<dist::Communicator> group_;
};
TORCH_MODULE(SyncBatchNorm);

/// Puts every SyncBatchNorm of `model` into synchronized mode over `group` (see
/// dist::statistics_group), keeping parameters and averaging running statistics over the group;
/// `group` null makes them per-rank again. Collective over `group`. Returns the layers switched.
int convert_sync_batchnorm(torch::nn::Module& model, const std::shared_ptr<dist::Communicator>& group);

}  // namespace bnx::models
