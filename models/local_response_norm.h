// Local response normalization across channels (AlexNet's, used by GoogLeNet and the paper's
// non-BN Inception baseline), computed as PyTorch's LocalResponseNorm:
//   y_c = x_c / (k + alpha / size * sum of x_j^2 over j in [c - size/2, c + (size-1)/2])^beta.
// Float32 CPU inputs whose channels are adjacent in memory (channels-last, as bnx's models keep
// them) run bnx's kernels: one pass forward and one backward over rows of C channels. ATen's
// composite (square, pad, avg_pool3d, pow, divide, and their backward) cost 38% of the baseline's
// training step at batch 32 (docs/benchmarks.md). Other inputs (CUDA, NCHW, other dtypes) use ATen.
#pragma once

#include <torch/torch.h>

namespace bnx::models {

/// LRN of x (N, C, *) with PyTorch's parameters; differentiable once (no double backward on the
/// kernel path). Returns x's sizes (row-contiguous, i.e. channels-last, on the kernel path).
torch::Tensor local_response_norm(const torch::Tensor& x, const torch::nn::LocalResponseNormOptions& options);

/// The module form, a drop-in for torch::nn::LocalResponseNorm (no parameters or buffers).
struct LocalResponseNormImpl : torch::nn::Cloneable<LocalResponseNormImpl> {
  explicit LocalResponseNormImpl(const torch::nn::LocalResponseNormOptions& options) : options(options) {}
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& x) { return local_response_norm(x, options); }  // (N, C, *) -> same

  torch::nn::LocalResponseNormOptions options;
};
TORCH_MODULE(LocalResponseNorm);

}  // namespace bnx::models
