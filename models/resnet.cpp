// ResNet family (see resnet.h).
#include "models/resnet.h"

namespace bnx::models {
namespace detail {

namespace {
Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool bias) {
  return Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(bias));
}
torch::Tensor norm(SyncBatchNorm& bn, const torch::Tensor& x) { return bn ? bn->forward(x) : x; }
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(const ModelOptions& options, bool bottleneck, int64_t in, int64_t width,
                                     int64_t stride)
    : activation(options.activation) {
  const bool bias = options.norm == Norm::kNone;
  const int64_t out = bottleneck ? width * 4 : width;
  // Registered in torchvision's order (conv1, bn1, conv2, bn2, conv3, bn3, downsample).
  auto add_norm = [&](const char* name, int64_t channels) {
    SyncBatchNorm bn = make_norm(options, channels);
    return bn ? register_module(name, bn) : bn;
  };
  if (bottleneck) {
    conv1 = register_module("conv1", conv(in, width, 1, 1, bias));
    bn1 = add_norm("bn1", width);
    conv2 = register_module("conv2", conv(width, width, 3, stride, bias));
    bn2 = add_norm("bn2", width);
    conv3 = register_module("conv3", conv(width, out, 1, 1, bias));
    bn3 = add_norm("bn3", out);
  } else {
    conv1 = register_module("conv1", conv(in, width, 3, stride, bias));
    bn1 = add_norm("bn1", width);
    conv2 = register_module("conv2", conv(width, width, 3, 1, bias));
    bn2 = add_norm("bn2", width);
  }
  if (stride != 1 || in != out) {
    downsample = torch::nn::Sequential();
    downsample->push_back("0", conv(in, out, 1, stride, bias));
    if (auto bn = make_norm(options, out)) downsample->push_back("1", bn);
    register_module("downsample", downsample);
  }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = norm_activate(bn1, conv1->forward(x), activation);
  if (conv3) {
    y = norm_activate(bn2, conv2->forward(y), activation);
    y = norm(bn3, conv3->forward(y));
  } else {
    y = norm(bn2, conv2->forward(y));
  }
  torch::Tensor identity = downsample ? downsample->forward(x) : x;
  return activate(y.add_(identity), activation);  // in place, as torchvision's out += identity
}

}  // namespace detail

ResNet::ResNet(int depth, const ModelOptions& options)
    : activation_(options.activation), small_input_(options.small_input) {
  std::vector<int> blocks;
  bool bottleneck = depth >= 50;
  switch (depth) {
    case 18: blocks = {2, 2, 2, 2}; break;
    case 34: blocks = {3, 4, 6, 3}; break;
    case 50: blocks = {3, 4, 6, 3}; break;
    case 101: blocks = {3, 4, 23, 3}; break;
    case 152: blocks = {3, 8, 36, 3}; break;
    default: TORCH_CHECK(false, "ResNet depth must be 18, 34, 50, 101 or 152, got ", depth);
  }
  const bool bias = options.norm == Norm::kNone;
  // The small-input stem (28-64 px) is a 3x3 stride-1 conv without the max pool.
  conv1 = register_module("conv1", small_input_ ? Conv2d(torch::nn::Conv2dOptions(options.in_channels, 64, 3)
                                                                       .padding(1)
                                                                       .bias(bias))
                                                : Conv2d(torch::nn::Conv2dOptions(options.in_channels, 64, 7)
                                                                       .stride(2)
                                                                       .padding(3)
                                                                       .bias(bias)));
  bn1 = make_norm(options, 64);
  if (bn1) register_module("bn1", bn1);
  int64_t in = 64;
  torch::nn::Sequential* layers[] = {&layer1, &layer2, &layer3, &layer4};
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t width = 64 << stage;
    torch::nn::Sequential layer;
    for (int b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      layer->push_back(std::to_string(b), detail::ResidualBlock(options, bottleneck, in, width, stride));
      in = bottleneck ? width * 4 : width;
    }
    *layers[stage] = register_module("layer" + std::to_string(stage + 1), layer);
  }
  fc = register_module("fc", torch::nn::Linear(in, options.num_classes));

  // torchvision: kaiming_normal_(fan_out, relu) convs, BN (1, 0), default Linear; then zero-init.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(false)) {
    if (auto* c = m->as<torch::nn::Conv2dImpl>()) {
      if (options.init == Init::kKaiming) {
        torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
        if (c->bias.defined()) c->bias.zero_();
      }
    }
  }
  if (options.init == Init::kXavier) init_weights(*this, Init::kXavier);
  if (options.zero_init_residual) {
    for (auto& m : modules(false)) {
      if (auto* block = m->as<detail::ResidualBlockImpl>()) {
        auto& last = block->conv3 ? block->bn3 : block->bn2;
        if (last) last->weight.zero_();
      }
    }
  }
}

torch::Tensor ResNet::forward(torch::Tensor x) {
  x = norm_activate(bn1, conv1->forward(layout(x)), activation_);
  if (!small_input_) x = torch::max_pool2d(x, 3, 2, 1);
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));  // (N, 512 * e, H/32, W/32)
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);                        // (N, 512 * e)
  return fc->forward(x);
}

}  // namespace bnx::models
