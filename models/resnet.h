// ResNet-18/34/50/101/152 (He et al. 2015) as torchvision defines it: v1.5 bottlenecks (stride on
// the 3x3 conv), BN after every convolution, and module names identical to torchvision's
// state_dict keys (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0/1, fc), so weights move
// between bnx and torchvision unchanged.
#pragma once

#include <vector>

#include "models/layers.h"

namespace bnx::models {

namespace detail {

/// Basic (2 x 3x3) or bottleneck (1x1, 3x3, 1x1 with 4x expansion) residual block.
struct ResidualBlockImpl : torch::nn::Module {
  ResidualBlockImpl(const ModelOptions& options, bool bottleneck, int64_t in, int64_t width, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, width * expansion, H/stride, W/stride)

  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  SyncBatchNorm bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
  Activation activation;
};
TORCH_MODULE(ResidualBlock);

}  // namespace detail

class ResNet : public Model {
 public:
  /// depth: 18, 34, 50, 101 or 152.
  ResNet(int depth, const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;  // (N, C, H, W) -> (N, num_classes)

 private:
  Conv2d conv1{nullptr};
  SyncBatchNorm bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};
  Activation activation_;
  bool small_input_;
};

}  // namespace bnx::models
