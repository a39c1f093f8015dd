// Building blocks shared by the models: a Conv2d that takes empty batches in channels-last, the
// norm factory (none | per-rank | synchronized BN), activations, conv -> BN -> activation, and
// initializers.
#pragma once

#include "models/model.h"
#include "models/sync_batch_norm.h"

namespace bnx::models {

/// torch::nn::Conv2d (same options, parameters and names) that also takes an empty batch with
/// channels-last weights, which LibTorch's oneDNN path rejects ("view size is not compatible"): a
/// rank whose shard of the global batch is empty still runs the forward and backward, for
/// SyncBatchNorm's collectives and the gradient allreduce. Such a batch goes through NCHW copies.
class Conv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, out, H', W')
};
TORCH_MODULE(Conv2d);

/// The BN layer `options` ask for over `channels` features, or an empty holder for norm none.
SyncBatchNorm make_norm(const ModelOptions& options, int64_t channels);

/// The activation, in place on `x` (which must be a fresh intermediate).
torch::Tensor activate(torch::Tensor x, Activation activation);

/// activate(bn(x)), or activate(x) when `bn` is empty; BN and ReLU run as one kernel where
/// SyncBatchNorm::forward_relu can.
torch::Tensor norm_activate(SyncBatchNorm& bn, const torch::Tensor& x, Activation activation);

/// conv (bias only without BN) -> BN -> activation; children "conv" and "bn".
struct ConvNormActImpl : torch::nn::Module {
  ConvNormActImpl(const ModelOptions& options, int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                  int64_t padding = -1, int64_t groups = 1);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, out, H', W')

  Conv2d conv{nullptr};
  SyncBatchNorm bn{nullptr};
  Activation activation;
};
TORCH_MODULE(ConvNormAct);

/// Initializes every Conv2d and Linear of `model` (BN: weight 1, bias 0).
void init_weights(torch::nn::Module& model, Init init);

}  // namespace bnx::models
