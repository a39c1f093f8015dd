// The CPU batch-norm kernels (models/batch_norm_cpu.h), through SyncBatchNorm on one process,
// against ATen's batch norm and ReLU in float64 on the same float32 values: output, running
// statistics, input and parameter gradients. Over the layouts the kernels take (channels-last,
// channel slices of it as an Inception concatenation hands its gradient back, (N, C), (N, C, L))
// and one they do not (NCHW, ATen's path), channel counts below and above the widening threshold
// (128 values a row) and row counts that leave a remainder after it.
#include "models/batch_norm_cpu.h"

#include "models/sync_batch_norm.h"
#include "tests/test_support.h"

namespace bnx::models {
namespace {

struct BnCase {
  std::string name;
  std::string layout;  // channels_last | slice | matrix | sequence | nchw
  int64_t channels;
  bool relu;
};

// A float32 tensor of `layout` holding the values of `values` (N, C, H, W), (N, C) or (N, C, L).
torch::Tensor bn_in_layout(const torch::Tensor& values, const std::string& layout) {
  torch::Tensor v = values.to(torch::kFloat32);
  if (layout == "channels_last") return v.contiguous(torch::MemoryFormat::ChannelsLast);
  if (layout == "slice") return test::channel_slice(v, 2, 3);  // channels 2 .. 2 + C of a wider tensor
  if (layout == "sequence") return v.transpose(1, 2).contiguous().transpose(1, 2);  // (N, C, L), channels adjacent
  return v.contiguous();  // matrix, nchw
}

std::vector<int64_t> shape_of(const BnCase& c) {
  if (c.layout == "matrix") return {37, c.channels};
  if (c.layout == "sequence") return {3, c.channels, 13};
  return {5, c.channels, 3, 7};  // 105 rows: a remainder after every widening
}

class BatchNormCpuTest : public ::testing::TestWithParam<BnCase> {};

TEST_P(BatchNormCpuTest, MatchesAtenInFloat64) {
  const BnCase& c = GetParam();
  auto gen = at::detail::createCPUGenerator(11);
  const auto shape = shape_of(c);
  torch::Tensor values = torch::randn(shape, gen, torch::kFloat64) * 1.5 + 0.7;
  torch::Tensor grads = torch::randn(shape, gen, torch::kFloat64);
  torch::Tensor gamma = torch::rand({c.channels}, gen, torch::kFloat64) + 0.5;
  torch::Tensor beta = torch::randn({c.channels}, gen, torch::kFloat64) * 0.3;

  SyncBatchNorm bn(SyncBatchNormOptions(c.channels).momentum(0.2));
  {
    torch::NoGradGuard no_grad;
    bn->weight.copy_(gamma);
    bn->bias.copy_(beta);
  }
  torch::Tensor x = bn_in_layout(values, c.layout).requires_grad_(true);
  EXPECT_EQ(cpu_bn::row_stride(x).has_value(), c.layout != "nchw");
  torch::Tensor y = c.relu ? bn->forward_relu(x) : bn->forward(x);
  torch::Tensor dy = bn_in_layout(grads, c.layout);  // the slice case: a gradient with strided rows
  auto g = torch::autograd::grad({y}, {x, bn->weight, bn->bias}, {dy});

  // Reference: float64 on the float32 values.
  torch::Tensor x64 = x.detach().to(torch::kFloat64).requires_grad_(true);
  torch::Tensor w64 = bn->weight.detach().to(torch::kFloat64).requires_grad_(true);
  torch::Tensor b64 = torch::zeros_like(w64).copy_(bn->bias.detach()).requires_grad_(true);
  torch::Tensor rm = torch::zeros({c.channels}, torch::kFloat64), rv = torch::ones({c.channels}, torch::kFloat64);
  torch::Tensor yr = torch::batch_norm(x64, w64, b64, rm, rv, true, 0.2, 1e-5, false);
  if (c.relu) yr = torch::relu(yr);
  auto gr = torch::autograd::grad({yr}, {x64, w64, b64}, {dy.to(torch::kFloat64)});

  EXPECT_ALL_CLOSE(y, yr, 1e-5, 1e-5);
  EXPECT_ALL_CLOSE(g[0], gr[0], 1e-4, 1e-5);
  EXPECT_ALL_CLOSE(g[1], gr[1], 1e-4, 1e-4);
  EXPECT_ALL_CLOSE(g[2], gr[2], 1e-4, 1e-4);
  EXPECT_ALL_CLOSE(bn->running_mean, rm, 1e-6, 1e-6);
  EXPECT_ALL_CLOSE(bn->running_var, rv, 1e-6, 1e-6);
  if (c.layout != "nchw") {  // the kernels' outputs have contiguous rows
    EXPECT_EQ(cpu_bn::row_stride(y), c.channels);
    EXPECT_EQ(cpu_bn::row_stride(g[0]), c.channels);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BatchNormCpuTest,
                         ::testing::Values(BnCase{"channels_last_c3_relu", "channels_last", 3, true},
                                           BnCase{"channels_last_c8", "channels_last", 8, false},
                                           BnCase{"channels_last_c130_relu", "channels_last", 130, true},
                                           BnCase{"slice_c12_relu", "slice", 12, true},
                                           BnCase{"slice_c5", "slice", 5, false},
                                           BnCase{"matrix_c20_relu", "matrix", 20, true},
                                           BnCase{"sequence_c7", "sequence", 7, false},
                                           BnCase{"nchw_c6_relu", "nchw", 6, true}),
                         [](const ::testing::TestParamInfo<BnCase>& info) { return info.param.name; });

TEST(BatchNormCpu, RowStrideOfLayouts) {
  torch::Tensor cl = torch::zeros({2, 6, 3, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_EQ(cpu_bn::row_stride(cl), 6);
  EXPECT_EQ(cpu_bn::row_stride(cl.narrow(1, 1, 3)), 6);
  EXPECT_FALSE(cpu_bn::row_stride(torch::zeros({2, 6, 3, 4})).has_value());    // NCHW
  EXPECT_FALSE(cpu_bn::row_stride(cl.narrow(2, 0, 2)).has_value());            // rows not uniformly strided
  EXPECT_EQ(cpu_bn::row_stride(torch::zeros({5, 6})), 6);
  EXPECT_FALSE(cpu_bn::row_stride(torch::zeros({6, 5}).t()).has_value());      // channels 5 apart
  EXPECT_EQ(cpu_bn::row_stride(torch::zeros({1, 6, 1, 1})), 6);                // one row
  EXPECT_EQ(cpu_bn::row_stride(torch::zeros({0, 6, 3, 3})), 6);                // empty
  torch::Tensor nchw = torch::randn({2, 6, 3, 4});
  torch::Tensor rows = cpu_bn::as_rows(nchw);
  EXPECT_EQ(cpu_bn::row_stride(rows), 6);
  EXPECT_TRUE(torch::equal(rows, nchw));
}

// Chunks of rows run on the intra-op threads and their sums are added in a fixed order: 1 and 3
// threads give identical bits (contiguous rows, and strided rows of a channel slice).
TEST(BatchNormCpu, ResultsDoNotDependOnTheThreadCount) {
  auto gen = at::detail::createCPUGenerator(3);
  torch::Tensor wide = torch::randn({16, 11, 64, 64}, gen).contiguous(torch::MemoryFormat::ChannelsLast);
  for (torch::Tensor x : {wide.narrow(1, 0, 8).contiguous(torch::MemoryFormat::ChannelsLast), wide.narrow(1, 2, 8)}) {
    std::vector<torch::Tensor> results;
    const int threads = at::get_num_threads();
    for (int t : {1, 3}) {
      at::set_num_threads(t);
      SyncBatchNorm bn(SyncBatchNormOptions(8));
      torch::Tensor xi = x.detach().requires_grad_(true);
      torch::Tensor y = bn->forward_relu(xi);
      auto g = torch::autograd::grad({y}, {xi, bn->weight}, {x.detach()});
      results.insert(results.end(), {y, g[0], g[1], bn->running_var.clone()});
    }
    at::set_num_threads(threads);
    for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(torch::equal(results[i], results[4 + i])) << "output " << i;
  }
}

// Eval mode normalizes with the running statistics: bnx's kernel without autograd (evaluation),
// ATen's with it; ReLU or not.
TEST(BatchNormCpu, EvalModeUsesRunningStatistics) {
  SyncBatchNorm bn(SyncBatchNormOptions(4));
  {
    torch::NoGradGuard no_grad;
    bn->running_mean.copy_(torch::tensor({0.5, -1.0, 2.0, 0.0}));
    bn->running_var.copy_(torch::tensor({4.0, 1.0, 0.25, 9.0}));
    bn->weight.copy_(torch::tensor({1.0, 2.0, -1.0, 0.5}));
    bn->bias.copy_(torch::tensor({0.1, 0.0, -0.2, 0.3}));
  }
  bn->eval();
  auto channel = [](const torch::Tensor& t) { return t.detach().view({1, 4, 1, 1}); };
  torch::Tensor x = torch::randn({3, 4, 2, 2}).contiguous(torch::MemoryFormat::ChannelsLast);
  torch::Tensor expected = (x - channel(bn->running_mean)) / (channel(bn->running_var) + 1e-5).sqrt() *
                               channel(bn->weight) + channel(bn->bias);
  EXPECT_ALL_CLOSE(bn->forward_relu(x), torch::relu(expected), 1e-5, 1e-6);  // autograd on: ATen
  torch::NoGradGuard no_grad;
  EXPECT_ALL_CLOSE(bn->forward_relu(x), torch::relu(expected), 1e-5, 1e-6);
  EXPECT_ALL_CLOSE(bn->forward(x), expected, 1e-5, 1e-6);
}

}  // namespace
}  // namespace bnx::models
