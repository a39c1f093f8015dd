// The paper's MNIST network (Section 4.1): fully connected hidden layers of sigmoid units (3 x 100
// by default), optional BN before each nonlinearity, a linear 10-way output; small Gaussian
// initial weights.
#pragma once

#include "models/layers.h"

namespace bnx::models {

class Mlp : public Model {
 public:
  /// Input features = in_channels * input_size * input_size (flattened).
  Mlp(const ModelOptions& options, int64_t input_features);
  torch::Tensor forward(torch::Tensor x) override;  // (N, *) -> (N, num_classes)

 private:
  std::vector<torch::nn::Linear> hidden_;
  std::vector<SyncBatchNorm> norms_;
  torch::nn::Linear out_{nullptr};
  Activation activation_;
};

}  // namespace bnx::models
