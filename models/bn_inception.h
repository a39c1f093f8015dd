// BN-Inception (Ioffe & Szegedy 2015, Figure 5 and Appendix): GoogLeNet with every 5x5 conv
// replaced by two stacked 3x3, BN on the input of every nonlinearity, 3 modules at 28x28 and
// stride-2 modules 3c/4e instead of pooling between stages. With norm none, LRN and dropout 0.4
// it is the paper's "Inception" baseline.
//
// Depths follow the table's filter counts, not its printed output depths: 4c and 4d give
// 160+160+160+128 = 608 and 96+192+192+128 = 608 channels (printed 576), and 4e gives
// 192+256+608 = 1056 (printed 1024), as Caffe-derived BN-Inception ports do.
#pragma once

#include <vector>

#include "models/layers.h"

namespace bnx::models {

namespace detail {

/// One row of the Figure 5 table.
struct InceptionSpec {
  const char* name;
  int64_t n1x1, n3x3_reduce, n3x3, dbl_reduce, dbl_3x3, pool_proj;  // pool_proj 0 = pass through
  bool max_pool;                                                    // pool branch: max (else avg)
  int64_t stride;                                                   // 2 for 3c and 4e
};

struct InceptionModuleImpl : torch::nn::Module {
  InceptionModuleImpl(const ModelOptions& options, int64_t in, const InceptionSpec& spec);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, out_channels, H/stride, W/stride)
  int64_t out_channels = 0;

  ConvNormAct b1x1{nullptr}, b3x3_reduce{nullptr}, b3x3{nullptr}, dbl_reduce{nullptr}, dbl_3x3a{nullptr},
      dbl_3x3b{nullptr}, pool_proj{nullptr};
  bool max_pool;
  int64_t stride;
};
TORCH_MODULE(InceptionModule);

/// The Figure 5 table, modules 3a..5b.
const std::vector<InceptionSpec>& inception_table();

}  // namespace detail

class BNInception : public Model {
 public:
  explicit BNInception(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;  // (N, C, H >= 28, W >= 28) -> (N, num_classes)

 private:
  torch::nn::Sequential stem{nullptr}, blocks{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace bnx::models
