// Builds the optimizer from OptimOptions: SGD (momentum, Nesterov, weight decay) or RMSProp, with
// BN parameters and biases (every 1-D parameter) optionally in a group without weight decay.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "train/options.h"

namespace bnx::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimOptions& options, torch::nn::Module& model);

/// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace bnx::train
