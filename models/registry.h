// The model registry: one table maps names to builders; an unknown name lists the valid ones.
#pragma once

#include <string>
#include <vector>

#include "models/model.h"

namespace bnx::models {

/// Builds `options.name` for inputs of (in_channels, input_size, input_size).
std::shared_ptr<Model> make_model(const ModelOptions& options, int64_t input_size);

std::vector<std::string> model_names();

}  // namespace bnx::models
