// The paper's MNIST MLP (see mlp.h).
#include "models/mlp.h"

namespace bnx::models {

Mlp::Mlp(const ModelOptions& options, int64_t input_features) : activation_(options.activation) {
  TORCH_CHECK(options.mlp_layers >= 1 && options.mlp_hidden >= 1, "mlp needs at least one hidden layer and unit");
  int64_t in = input_features;
  torch::NoGradGuard no_grad;
  for (int64_t i = 1; i <= options.mlp_layers; ++i) {
    const bool has_norm = options.norm != Norm::kNone;
    auto fc = register_module("fc" + std::to_string(i),
                              torch::nn::Linear(torch::nn::LinearOptions(in, options.mlp_hidden).bias(!has_norm)));
    fc->weight.normal_(0.0, options.mlp_init_std);
    if (fc->bias.defined()) fc->bias.zero_();
    hidden_.push_back(fc);
    norms_.push_back(has_norm ? register_module("bn" + std::to_string(i), make_norm(options, options.mlp_hidden))
                              : SyncBatchNorm(nullptr));
    in = options.mlp_hidden;
  }
  out_ = register_module("out", torch::nn::Linear(in, options.num_classes));
  out_->weight.normal_(0.0, options.mlp_init_std);
  out_->bias.zero_();
}

torch::Tensor Mlp::forward(torch::Tensor x) {
  x = x.flatten(1);  // (N, D)
  for (size_t i = 0; i < hidden_.size(); ++i) {
    x = norm_activate(norms_[i], hidden_[i]->forward(x), activation_);  // (N, hidden)
  }
  return out_->forward(x);
}

}  // namespace bnx::models
