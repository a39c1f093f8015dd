// CPU kernels of batch normalization (+ ReLU) for float32 tensors whose channels are adjacent in
// memory: channels-last images, (N, C) matrices, and channel slices of them (the gradient of an
// Inception concatenation). Such a tensor is M = N * H * W rows of C floats, `stride` floats apart.
// One pass gathers the statistics, one normalizes (and applies ReLU), backward takes two: about
// half the memory traffic of ATen's batch-norm and ReLU kernels, which at the small channel counts
// of scaled-down networks also run far below memory speed (docs/benchmarks.md). SyncBatchNorm
// uses them for every float32 CPU input of this layout, with or without a communicator.
#pragma once

#include <torch/torch.h>

#include <optional>

namespace bnx::models::cpu_bn {

/// Whether SyncBatchNorm uses these kernels (default true; false selects ATen's, for comparisons).
bool enabled();
void set_enabled(bool enabled);

/// The row stride of `x` (N, C, *) when it is rows of C adjacent floats at a uniform stride >= C
/// (channels-last, or a channel slice of such a tensor), else nullopt.
std::optional<int64_t> row_stride(const torch::Tensor& x);

/// `x` with row layout: itself when it has one, else a channels-last (row-contiguous) copy.
torch::Tensor as_rows(const torch::Tensor& x);

/// Per channel: the sum and sum of squares of x - shift, accumulated in float64. x: rows (N, C, *)
/// float32; shift: (C,) float32. Returns (2C,) float64: [sum (C), sum of squares (C)].
torch::Tensor shifted_sums(const torch::Tensor& x, const torch::Tensor& shift);

/// y = x * scale + offset per channel, then max(y, 0) when `relu`. x: rows (N, C, *) float32;
/// scale, offset: (C,) float32. y: x's shape, row-contiguous (channels-last for images).
torch::Tensor normalize(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& offset, bool relu);

/// Per channel, with dz = dy where y > 0 (0 elsewhere) when `y` is defined (the ReLU's output),
/// else dz = dy: sum(dz) and sum(dz * (x - mean)) in float64. Returns (2C,) float64.
torch::Tensor backward_sums(const torch::Tensor& dy, const torch::Tensor& y, const torch::Tensor& x,
                            const torch::Tensor& mean);

/// dx = a * (dz - mean_dz) + b * (x - mean) per channel (dz as in backward_sums). All (C,) float32;
/// dx: x's shape, row-contiguous.
torch::Tensor backward_input(const torch::Tensor& dy, const torch::Tensor& y, const torch::Tensor& x,
                             const torch::Tensor& mean, const torch::Tensor& a, const torch::Tensor& mean_dz,
                             const torch::Tensor& b);

}  // namespace bnx::models::cpu_bn
