// Options shared by every bnx model, the Model base class the registry returns, and its state dict.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "dist/communicator.h"

namespace bnx::models {

enum class Norm { kNone, kBatch, kSync };
enum class Activation { kRelu, kSigmoid };
enum class Init { kKaiming, kXavier };

struct ModelOptions {
  std::string name = "resnet18";
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  /// none | batch (per-rank statistics) | sync (statistics over the BN group of ranks)
  Norm norm = Norm::kBatch;
  Activation activation = Activation::kRelu;
  /// Dropout before the classifier (the original Inception used 0.4; the BN variants remove it).
  double dropout = 0.0;
  /// Local response normalization in the stem (original Inception; removed by the BN variants).
  bool lrn = false;
  /// Channel multiplier for BN-Inception and the MLP's hidden width factor.
  double width = 1.0;
  /// Stem for 28-64 px inputs: no stride-2 7x7 conv and no first max pool.
  bool small_input = false;
  /// BN-Inception: depthwise-separable 7x7 stem (depth multiplier 8), as the paper.
  bool separable_stem = true;
  /// ResNet: zero-init the last BN scale of each residual block.
  bool zero_init_residual = false;
  /// Conv/linear initialization: kaiming (He, fan-out, as torchvision) or xavier (Caffe's
  /// "xavier" filler as in GoogLeNet: uniform with variance 1/fan_in, conv biases 0.2).
  Init init = Init::kKaiming;
  double bn_eps = 1e-5;
  double bn_momentum = 0.1;
  /// Convolutional models: weights and activations in channels-last (NHWC) memory layout, which
  /// oneDNN (CPU) and cuDNN run faster; the values, names and shapes are the same.
  bool channels_last = true;
  /// Ranks per SyncBatchNorm statistics group (0 = all). Models do not read it: the engine's setup
  /// splits the world into these groups once and hands this rank's group over as `comm`.
  int bn_group_size = 0;
  /// MLP: hidden layers and units (the paper's MNIST net: 3 x 100 sigmoid).
  int64_t mlp_layers = 3;
  int64_t mlp_hidden = 100;
  /// MLP: std of the Gaussian initial weights ("small random Gaussian values", value not stated).
  double mlp_init_std = 0.1;
  /// norm sync: the statistics group every SyncBatchNorm layer reduces over (required then;
  /// ignored otherwise). Building a model makes no collective call.
  std::shared_ptr<dist::Communicator> comm;
};

/// A classifier: images (N, C, H, W) or features (N, D) -> logits (N, num_classes).
class Model : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  /// Puts every 4-D parameter, and from then on every 4-D input, in channels-last layout. The
  /// weights are restrided even when already "contiguous" in it: a (O, 1, kH, kW) weight (a
  /// 1-channel input's first conv) is both, and oneDNN would then keep that conv's output NCHW.
  void use_channels_last() {
    torch::NoGradGuard no_grad;
    for (auto& p : parameters()) {
      if (p.dim() == 4) {
        p.set_data(torch::empty_like(p.data(), at::MemoryFormat::ChannelsLast).copy_(p.data()));
      }
    }
    channels_last_ = true;
  }

 protected:
  /// The input in the model's memory layout.
  torch::Tensor layout(const torch::Tensor& x) const {
    return channels_last_ && x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
  }

 private:
  bool channels_last_ = false;
};

/// State dict in PyTorch's order and names: for each module in pre-order, its parameters then
/// its buffers ("layer1.0.bn1.running_mean"). The tensors are the module's own (not copies).
NamedTensors state_dict(const torch::nn::Module& model);

/// Number of trainable parameters.
int64_t parameter_count(const torch::nn::Module& model);

}  // namespace bnx::models
