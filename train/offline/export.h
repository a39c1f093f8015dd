// Export for evaluation elsewhere: the safetensors format (8-byte little-endian header size, a JSON
// header of dtype/shape/data_offsets plus __metadata__, packed little-endian data) with PyTorch's
// state_dict names (torchvision's for ResNet), BN running statistics and num_batches_tracked
// (int64) included; optionally BN folded into the preceding convolution for inference.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dist/communicator.h"

namespace bnx::train {

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata);
/// Reads a safetensors file (any order of entries); throws std::runtime_error naming the problem.
NamedTensors read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

/// Folds every BN (prefix P with P.running_mean) into the conv or linear layer before it
/// (P = X.bn / X.bnK / X.downsample.1 -> X.conv / X.convK / X.fcK / X.downsample.0):
/// W' = W * gamma / sqrt(var + eps) per output channel, b' = beta + (b - mean) * gamma / sqrt(var + eps).
/// The BN entries disappear; the conv gains a bias. Throws when a BN has no such layer.
NamedTensors fold_batch_norm(const NamedTensors& state, double eps);

}  // namespace bnx::train
