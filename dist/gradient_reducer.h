// GradientReducer: data-parallel gradient averaging. Parameters are grouped into buckets of about
// `bucket_bytes` (in reverse registration order, roughly the order backward produces them); a
// bucket's allreduce starts from a gradient hook as soon as all its gradients exist, in bucket
// order on every rank, and finish() waits for all of them before the optimizer step. The hooks are
// removed when the reducer is destroyed.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dist/communicator.h"

namespace bnx::dist {

struct GradientReducerOptions {
  /// Target bucket size in bytes (25 MB as PyTorch DDP).
  int64_t bucket_bytes = 25LL << 20;
  /// Start bucket allreduces from gradient hooks during backward.
  bool overlap = true;
};

class GradientReducer {
 public:
  /// Checks that every rank has the same parameter names and shapes (error names the first
  /// difference), broadcasts parameters and buffers from rank 0, and registers gradient hooks.
  GradientReducer(std::shared_ptr<Communicator> comm, NamedTensors parameters, const NamedTensors& buffers,
                  GradientReducerOptions options = {});
  /// The same for every parameter and buffer of `model`.
  GradientReducer(std::shared_ptr<Communicator> comm, const torch::nn::Module& model,
                  GradientReducerOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// After backward: waits for every bucket and replaces each parameter's .grad with the
  /// average over ranks of this backward's gradient. Parameters without a gradient on every
  /// rank count as zero.
  void finish();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  /// Collectives and bytes sent by the last finish() (per rank).
  int64_t collectives_last_step() const { return collectives_; }
  int64_t bytes_last_step() const { return bytes_; }

 private:
  struct Bucket {
    std::vector<size_t> params;     // indices into params_
    std::vector<int64_t> offsets;   // element offset of each param in `buffer`
    torch::Tensor buffer;           // (total numel,) flat gradients
    size_t pending = 0;             // gradients not yet copied in this step
    std::unique_ptr<Work> work;     // in-flight allreduce
  };
  void on_gradient(size_t param, const torch::Tensor& grad);
  void launch_ready_buckets();
  void launch(Bucket& bucket);
  void reset_step();

  std::shared_ptr<Communicator> comm_;
  NamedTensors params_;
  GradientReducerOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> slot_;  // param -> (bucket, position in bucket)
  std::vector<bool> seen_;                       // param's gradient arrived this step
  std::vector<std::pair<size_t, unsigned>> hooks_;  // (param, hook handle) to remove
  size_t next_launch_ = 0;
  int64_t collectives_ = 0, bytes_ = 0, collectives_pending_ = 0, bytes_pending_ = 0;
};

}  // namespace bnx::dist
