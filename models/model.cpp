// State dicts in PyTorch's order (see model.h).
#include "models/model.h"

namespace bnx::models {
namespace {

void collect(const torch::nn::Module& module, const std::string& prefix, NamedTensors& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/false)) out.emplace_back(prefix + b.key(), b.value());
  for (const auto& child : module.named_children()) collect(*child.value(), prefix + child.key() + ".", out);
}

}  // namespace

NamedTensors state_dict(const torch::nn::Module& model) {
  NamedTensors out;
  collect(model, "", out);
  return out;
}

int64_t parameter_count(const torch::nn::Module& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

}  // namespace bnx::models
