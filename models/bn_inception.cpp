// BN-Inception and the non-BN Inception baseline (see bn_inception.h).
#include "models/bn_inception.h"

#include "models/local_response_norm.h"

#include <algorithm>
#include <cmath>

namespace bnx::models {
namespace detail {

const std::vector<InceptionSpec>& inception_table() {
  // #1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3, pool proj (Figure 5).
  static const std::vector<InceptionSpec> table = {
      {"inception_3a", 64, 64, 64, 64, 96, 32, false, 1},
      {"inception_3b", 64, 64, 96, 64, 96, 64, false, 1},
      {"inception_3c", 0, 128, 160, 64, 96, 0, true, 2},
      {"inception_4a", 224, 64, 96, 96, 128, 128, false, 1},
      {"inception_4b", 192, 96, 128, 96, 128, 128, false, 1},
      {"inception_4c", 160, 128, 160, 128, 160, 128, false, 1},
      {"inception_4d", 96, 128, 192, 160, 192, 128, false, 1},
      {"inception_4e", 0, 128, 192, 192, 256, 0, true, 2},
      {"inception_5a", 352, 192, 320, 160, 224, 128, false, 1},
      {"inception_5b", 352, 192, 320, 192, 224, 128, true, 1},
  };
  return table;
}

namespace {
int64_t scaled(int64_t channels, double width) {
  return channels == 0 ? 0 : std::max<int64_t>(4, std::lround(channels * width));
}
}  // namespace

InceptionModuleImpl::InceptionModuleImpl(const ModelOptions& options, int64_t in, const InceptionSpec& spec)
    : max_pool(spec.max_pool), stride(spec.stride) {
  const double w = options.width;
  if (spec.n1x1 > 0) {
    b1x1 = register_module("b1x1", ConvNormAct(options, in, scaled(spec.n1x1, w), 1));
    out_channels += scaled(spec.n1x1, w);
  }
  b3x3_reduce = register_module("b3x3_reduce", ConvNormAct(options, in, scaled(spec.n3x3_reduce, w), 1));
  b3x3 = register_module("b3x3", ConvNormAct(options, scaled(spec.n3x3_reduce, w), scaled(spec.n3x3, w), 3,
                                             spec.stride));
  dbl_reduce = register_module("dbl_reduce", ConvNormAct(options, in, scaled(spec.dbl_reduce, w), 1));
  dbl_3x3a = register_module("dbl_3x3a", ConvNormAct(options, scaled(spec.dbl_reduce, w), scaled(spec.dbl_3x3, w), 3));
  dbl_3x3b = register_module("dbl_3x3b", ConvNormAct(options, scaled(spec.dbl_3x3, w), scaled(spec.dbl_3x3, w), 3,
                                                     spec.stride));
  out_channels += scaled(spec.n3x3, w) + scaled(spec.dbl_3x3, w);
  if (spec.pool_proj > 0) {
    pool_proj = register_module("pool_proj", ConvNormAct(options, in, scaled(spec.pool_proj, w), 1));
    out_channels += scaled(spec.pool_proj, w);
  } else {
    out_channels += in;  // max-pooled input passed through
  }
}

torch::Tensor InceptionModuleImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> branches;
  if (b1x1) branches.push_back(b1x1->forward(x));
  branches.push_back(b3x3->forward(b3x3_reduce->forward(x)));
  branches.push_back(dbl_3x3b->forward(dbl_3x3a->forward(dbl_reduce->forward(x))));
  torch::Tensor pooled = max_pool ? torch::max_pool2d(x, 3, stride, 1)
                                  : torch::avg_pool2d(x, 3, stride, 1, /*ceil_mode=*/false,
                                                      /*count_include_pad=*/false);
  branches.push_back(pool_proj ? pool_proj->forward(pooled) : pooled);
  return torch::cat(branches, 1);
}

}  // namespace detail

BNInception::BNInception(const ModelOptions& options) {
  const double w = options.width;
  const int64_t c1 = detail::scaled(64, w), c2 = detail::scaled(192, w);
  stem = torch::nn::Sequential();
  if (options.small_input) {
    // 28-64 px inputs: a plain 3x3 stride-1 conv and no first pool; one stride-2 pool below.
    stem->push_back("conv1", ConvNormAct(options, options.in_channels, c1, 3));
  } else if (options.separable_stem) {
    // The paper's separable 7x7/2: depthwise with depth multiplier 8, then pointwise to 64; BN and
    // the activation follow the pointwise conv only, as in TF-slim's inception_v2.
    stem->push_back("conv1_depthwise", Conv2d(torch::nn::Conv2dOptions(options.in_channels,
                                                                                  options.in_channels * 8, 7)
                                                             .stride(2)
                                                             .padding(3)
                                                             .groups(options.in_channels)
                                                             .bias(false)));
    stem->push_back("conv1", ConvNormAct(options, options.in_channels * 8, c1, 1));
  } else {
    stem->push_back("conv1", ConvNormAct(options, options.in_channels, c1, 7, 2));
  }
  if (!options.small_input) stem->push_back("pool1", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  const auto lrn_options = torch::nn::LocalResponseNormOptions(5).alpha(1e-4).beta(0.75).k(1.0);  // GoogLeNet's
  if (options.lrn) stem->push_back("lrn1", LocalResponseNorm(lrn_options));
  stem->push_back("conv2_reduce", ConvNormAct(options, c1, c1, 1));
  stem->push_back("conv2", ConvNormAct(options, c1, c2, 3));
  if (options.lrn) stem->push_back("lrn2", LocalResponseNorm(lrn_options));
  stem->push_back("pool2", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  register_module("stem", stem);

  blocks = torch::nn::Sequential();
  int64_t in = c2;
  for (const auto& spec : detail::inception_table()) {
    detail::InceptionModule module(options, in, spec);
    in = module->out_channels;
    blocks->push_back(spec.name, module);
  }
  register_module("blocks", blocks);
  if (options.dropout > 0) dropout = register_module("dropout", torch::nn::Dropout(options.dropout));
  fc = register_module("fc", torch::nn::Linear(in, options.num_classes));
  init_weights(*this, options.init);
}

torch::Tensor BNInception::forward(torch::Tensor x) {
  x = blocks->forward(stem->forward(layout(x)));          // (N, 1024 * width, H/32, W/32)
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);  // (N, 1024 * width)
  if (dropout) x = dropout->forward(x);
  return fc->forward(x);
}

}  // namespace bnx::models
