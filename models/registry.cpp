// Model registry (see registry.h).
#include "models/registry.h"

#include <functional>
#include <map>

#include "models/bn_inception.h"
#include "models/mlp.h"
#include "models/resnet.h"

namespace bnx::models {
namespace {

using Builder = std::function<std::shared_ptr<Model>(const ModelOptions&, int64_t input_size)>;

const std::map<std::string, Builder>& registry() {
  static const std::map<std::string, Builder> table = {
      {"bn_inception", [](const ModelOptions& o, int64_t) { return std::make_shared<BNInception>(o); }},
      {"mlp", [](const ModelOptions& o, int64_t s) { return std::make_shared<Mlp>(o, o.in_channels * s * s); }},
      {"resnet18", [](const ModelOptions& o, int64_t) { return std::make_shared<ResNet>(18, o); }},
      {"resnet34", [](const ModelOptions& o, int64_t) { return std::make_shared<ResNet>(34, o); }},
      {"resnet50", [](const ModelOptions& o, int64_t) { return std::make_shared<ResNet>(50, o); }},
      {"resnet101", [](const ModelOptions& o, int64_t) { return std::make_shared<ResNet>(101, o); }},
      {"resnet152", [](const ModelOptions& o, int64_t) { return std::make_shared<ResNet>(152, o); }},
  };
  return table;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::shared_ptr<Model> make_model(const ModelOptions& options, int64_t input_size) {
  auto it = registry().find(options.name);
  if (it == registry().end()) {
    std::string valid;
    for (const auto& name : model_names()) valid += (valid.empty() ? "" : ", ") + name;
    TORCH_CHECK(false, "unknown model '", options.name, "'; valid models: ", valid);
  }
  TORCH_CHECK(options.num_classes >= 1, "num_classes must be >= 1, got ", options.num_classes);
  TORCH_CHECK(options.width > 0, "width must be positive, got ", options.width);
  auto model = it->second(options, input_size);
  if (options.channels_last) model->use_channels_last();
  return model;
}

}  // namespace bnx::models
