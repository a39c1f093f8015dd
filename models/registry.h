// The model registry: one table maps names to builders; an unknown name lists the valid ones.
#pragma once

#include <string>
#include <vector>

#include "models/model.h"

namespace bnx::models {

/// Builds `options.name` for inputs of (in_channels, input_size, input_size).
std::shared_ptr<Model> make_model(const ModelOptions& options, int64_t input_size);

std::vector<std::string> model_names();

/// State dict in PyTorch's order and names: for each module in pre-order, its parameters then
/// its buffers ("layer1.0.bn1.running_mean").
std::vector<std::pair<std::string, torch::Tensor>> state_dict(const torch::nn::Module& model);

/// Number of trainable parameters.
int64_t parameter_count(const torch::nn::Module& model);

}  // namespace bnx::models
