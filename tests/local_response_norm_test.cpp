// bnx's LRN (models/local_response_norm.h) against PyTorch's definition, ATen's composite
// (torch::nn::functional::local_response_norm) evaluated in float64 on the same float32 values:
// output and input gradient, over channel counts below, at and above the window, odd and even
// window sizes, the paper's beta (0.75, the sqrt path) and another (pow), and the layouts the
// kernel takes (channels-last, a channel slice of it) and one it leaves to ATen (NCHW).
#include "models/local_response_norm.h"

#include "tests/test_support.h"

namespace bnx::models {
namespace {

struct LrnCase {
  int64_t channels, size;
  double alpha, beta, k;
  std::string layout;  // channels_last | slice | nchw
};

void PrintTo(const LrnCase& c, std::ostream* os) {
  *os << c.layout << " C=" << c.channels << " size=" << c.size << " alpha=" << c.alpha << " beta=" << c.beta
      << " k=" << c.k;
}

torch::Tensor in_layout(const torch::Tensor& v, const std::string& layout) {
  if (layout == "channels_last") return v.contiguous(torch::MemoryFormat::ChannelsLast);
  if (layout == "slice") return test::channel_slice(v, 3, 3);  // channels 3 .. 3 + C of a wider tensor
  return v.contiguous();
}

class LocalResponseNormTest : public ::testing::TestWithParam<LrnCase> {};

TEST_P(LocalResponseNormTest, MatchesPyTorchDefinitionInFloat64) {
  const LrnCase c = GetParam();
  torch::manual_seed(7);
  // Values of a few units: with alpha up to 0.5 the normalization and its gradient term matter.
  torch::Tensor values = torch::randn({3, c.channels, 5, 7}) * 3;  // (N, C, H, W) float32
  torch::Tensor weights = torch::randn({3, c.channels, 5, 7});     // dL/dy = weights
  const auto options = torch::nn::LocalResponseNormOptions(c.size).alpha(c.alpha).beta(c.beta).k(c.k);

  torch::Tensor ref_x = values.to(torch::kFloat64).requires_grad_();
  torch::Tensor ref_y = torch::nn::functional::local_response_norm(
      ref_x, torch::nn::functional::LocalResponseNormFuncOptions(c.size).alpha(c.alpha).beta(c.beta).k(c.k));
  (ref_y * weights.to(torch::kFloat64)).sum().backward();

  torch::Tensor x = in_layout(values, c.layout).requires_grad_();
  torch::Tensor y = local_response_norm(x, options);
  (y * in_layout(weights, c.layout)).sum().backward();
  EXPECT_EQ(y.sizes(), values.sizes());
  EXPECT_ALL_CLOSE(y.to(torch::kFloat64), ref_y, 1e-5, 1e-6);
  EXPECT_ALL_CLOSE(x.grad().to(torch::kFloat64), ref_x.grad(), 1e-5, 1e-6);

  torch::NoGradGuard no_grad;  // evaluation takes the forward without saving for backward
  EXPECT_ALL_CLOSE(local_response_norm(in_layout(values, c.layout), options).to(torch::kFloat64), ref_y, 1e-5, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, LocalResponseNormTest,
    ::testing::Values(LrnCase{8, 5, 1e-4, 0.75, 1.0, "channels_last"},   // the baseline's stem
                      LrnCase{24, 5, 0.5, 0.75, 1.0, "channels_last"},   // strong normalization
                      LrnCase{24, 5, 0.5, 0.75, 2.0, "slice"},           // strided rows
                      LrnCase{3, 5, 0.5, 0.75, 1.0, "channels_last"},    // fewer channels than the window
                      LrnCase{1, 5, 0.5, 0.75, 1.0, "channels_last"},    // one channel
                      LrnCase{17, 4, 0.3, 0.5, 1.0, "channels_last"},    // even window, pow path
                      LrnCase{17, 1, 0.3, 1.3, 0.5, "slice"},            // window of one
                      LrnCase{24, 5, 0.5, 0.75, 1.0, "nchw"}),           // ATen's path
    [](const ::testing::TestParamInfo<LrnCase>& info) { return "case" + std::to_string(info.index); });

TEST(LocalResponseNorm, ResultsDoNotDependOnThreads) {
  torch::manual_seed(3);
  torch::Tensor x = (torch::randn({16, 24, 14, 14}) * 3).contiguous(torch::MemoryFormat::ChannelsLast);
  const auto options = torch::nn::LocalResponseNormOptions(5).alpha(0.5).beta(0.75).k(1.0);
  std::vector<torch::Tensor> results;
  const int threads = torch::get_num_threads();
  for (int t : {1, 2, 4}) {
    torch::set_num_threads(t);
    torch::Tensor in = x.clone().requires_grad_();
    torch::Tensor y = local_response_norm(in, options);
    y.sum().backward();
    results.push_back(torch::cat({y.flatten(), in.grad().flatten()}));
  }
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(results[0], results[1]));
  EXPECT_TRUE(torch::equal(results[0], results[2]));
}

}  // namespace
}  // namespace bnx::models
