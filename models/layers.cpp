// Shared model blocks (see layers.h).
#include "models/layers.h"

#include <cmath>

namespace bnx::models {

SyncBatchNorm make_norm(const ModelOptions& options, int64_t channels) {
  if (options.norm == Norm::kNone) return SyncBatchNorm(nullptr);
  TORCH_CHECK(options.norm != Norm::kSync || options.comm, "norm sync needs a communicator (its statistics group)");
  SyncBatchNormOptions bn(channels);
  bn.eps(options.bn_eps).momentum(options.bn_momentum);
  return SyncBatchNorm(bn, options.norm == Norm::kSync ? options.comm : nullptr);
}

torch::Tensor activate(torch::Tensor x, Activation activation) {
  // In place, as torchvision's ReLU(inplace=True): every caller passes a fresh intermediate that
  // no backward needs (conv, BN and additions do not save their outputs).
  return activation == Activation::kRelu ? torch::relu_(x) : torch::sigmoid_(x);
}

torch::Tensor norm_activate(SyncBatchNorm& bn, const torch::Tensor& x, Activation activation) {
  if (bn && activation == Activation::kRelu) return bn->forward_relu(x);
  return activate(bn ? bn->forward(x) : x, activation);
}

torch::Tensor Conv2dImpl::forward(const torch::Tensor& x) {
  if (x.size(0) > 0) return torch::nn::Conv2dImpl::forward(x);
  return _conv_forward(x.contiguous(), weight.contiguous());  // (0, out, H', W'); zero gradients
}

ConvNormActImpl::ConvNormActImpl(const ModelOptions& options, int64_t in, int64_t out, int64_t kernel,
                                 int64_t stride, int64_t padding, int64_t groups)
    : activation(options.activation) {
  const bool has_norm = options.norm != Norm::kNone;
  conv = register_module("conv", Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                            .stride(stride)
                                            .padding(padding < 0 ? kernel / 2 : padding)
                                            .groups(groups)
                                            .bias(!has_norm)));
  if (has_norm) bn = register_module("bn", make_norm(options, out));
}

torch::Tensor ConvNormActImpl::forward(const torch::Tensor& x) {
  return norm_activate(bn, conv->forward(x), activation);
}

void init_weights(torch::nn::Module& model, Init init) {
  torch::NoGradGuard no_grad;
  for (auto& module : model.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      if (init == Init::kKaiming) {
        torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
        if (conv->bias.defined()) conv->bias.zero_();
      } else {
        // Caffe "xavier": U(-a, a) with a = sqrt(3 / fan_in); GoogLeNet's conv biases are 0.2.
        const double fan_in = static_cast<double>(conv->weight[0].numel());
        const double a = std::sqrt(3.0 / fan_in);
        conv->weight.uniform_(-a, a);
        if (conv->bias.defined()) conv->bias.fill_(0.2);
      }
    } else if (auto* bn = module->as<SyncBatchNormImpl>()) {
      if (bn->weight.defined()) bn->weight.fill_(1.0);
      if (bn->bias.defined()) bn->bias.zero_();
    } else if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      if (init == Init::kXavier) {
        torch::nn::init::xavier_uniform_(linear->weight);
        if (linear->bias.defined()) linear->bias.zero_();
      }  // kaiming: keep torch's Linear default (as torchvision's fc)
    }
  }
}

}  // namespace bnx::models
