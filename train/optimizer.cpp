// Optimizer construction (see optimizer.h).
#include "train/optimizer.h"

namespace bnx::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimOptions& o, torch::nn::Module& model) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : model.parameters()) {
    if (!p.requires_grad()) continue;
    (o.no_decay_bn_bias && p.dim() <= 1 ? no_decay : decay).push_back(p);
  }
  auto groups = [&](auto make_options) {
    std::vector<torch::optim::OptimizerParamGroup> g;
    if (!decay.empty()) g.emplace_back(decay, make_options(o.weight_decay));
    if (!no_decay.empty()) g.emplace_back(no_decay, make_options(0.0));
    return g;
  };
  if (o.kind == OptimizerKind::kSgd) {
    auto make = [&](double wd) {
      return std::make_unique<torch::optim::SGDOptions>(
          torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(wd));
    };
    return std::make_unique<torch::optim::SGD>(groups(make), torch::optim::SGDOptions(o.lr));
  }
  auto make = [&](double wd) {
    return std::make_unique<torch::optim::RMSpropOptions>(torch::optim::RMSpropOptions(o.lr)
                                                              .alpha(o.rmsprop_alpha)
                                                              .eps(o.rmsprop_eps)
                                                              .momentum(o.momentum)
                                                              .weight_decay(wd));
  };
  return std::make_unique<torch::optim::RMSprop>(groups(make), torch::optim::RMSpropOptions(o.lr));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&group.options())) {
      sgd->lr(lr);
    } else if (auto* rms = dynamic_cast<torch::optim::RMSpropOptions*>(&group.options())) {
      rms->lr(lr);
    }
  }
}

}  // namespace bnx::train
