// SyncBatchNorm over W ranks, each holding a shard of a global batch, against
// torch::nn::BatchNorm{1,2}d on the whole batch in one process: outputs, running statistics,
// num_batches_tracked, and the gradients of input, weight and bias (after the GradientReducer),
// over several steps, in float64 and float32, with unequal and empty shards and large offsets.
#include "models/sync_batch_norm.h"

#include "dist/gradient_reducer.h"
#include "tests/test_support.h"

namespace bnx::models {
namespace {

using test::world;

struct Case {
  std::string name;
  torch::ScalarType dtype;
  bool image;          // (N, C, H, W) else (N, C)
  bool channels_last;
  std::string shards;  // equal | unequal | empty (last rank holds nothing)
  double offset;       // added to the data (stability)
  double tolerance;
};

std::vector<int64_t> shard_sizes(const std::string& kind, int w) {
  std::vector<int64_t> sizes(w, 4);
  for (int r = 0; r < w; ++r) {
    if (kind == "unequal") sizes[r] = 3 + 3 * r;  // at least 3: 2 values make BN's input gradient 0 up to rounding
    if (kind == "empty" && w > 1 && r == w - 1) sizes[r] = 0;
  }
  return sizes;
}

// Global batch of a step: the same on every rank.
torch::Tensor global_batch(int64_t n, bool image, int64_t step, double offset, torch::ScalarType dtype) {
  auto gen = at::detail::createCPUGenerator(100 + step);
  std::vector<int64_t> shape = image ? std::vector<int64_t>{n, 3, 5, 4} : std::vector<int64_t>{n, 3};
  torch::Tensor x = torch::randn(shape, gen, torch::kFloat64) * 2.0;
  x += torch::arange(3, torch::kFloat64).view(image ? std::vector<int64_t>{1, 3, 1, 1} : std::vector<int64_t>{1, 3});
  return (x + offset).to(dtype);
}

class SyncBatchNormTest : public ::testing::TestWithParam<Case> {};

TEST_P(SyncBatchNormTest, EqualsSingleProcessBatchNormOnTheGlobalBatch) {
  const Case& c = GetParam();
  auto comm = world();
  const int w = comm->size(), r = comm->rank();
  auto sizes = shard_sizes(c.shards, w);
  int64_t total = 0, begin = 0;
  for (int i = 0; i < w; ++i) {
    if (i < r) begin += sizes[i];
    total += sizes[i];
  }
  const auto options = torch::TensorOptions().dtype(c.dtype);

  SyncBatchNorm bn(SyncBatchNormOptions(3).momentum(0.3), comm);
  torch::nn::BatchNorm2d ref2(torch::nn::BatchNorm2dOptions(3).momentum(0.3));
  torch::nn::BatchNorm1d ref1(torch::nn::BatchNorm1dOptions(3).momentum(0.3));
  torch::nn::Module& ref_module = c.image ? static_cast<torch::nn::Module&>(*ref2) : *ref1;
  bn->to(c.dtype);
  ref_module.to(c.dtype);
  // Non-trivial affine parameters, identical in both.
  {
    torch::NoGradGuard no_grad;
    auto gamma = torch::tensor({1.5, -0.5, 2.0}, options), beta = torch::tensor({0.3, 0.0, -1.0}, options);
    bn->weight.copy_(gamma);
    bn->bias.copy_(beta);
    for (auto& p : ref_module.named_parameters()) p.value().copy_(p.key() == "weight" ? gamma : beta);
  }
  dist::GradientReducer reducer(comm, {{"weight", bn->weight}, {"bias", bn->bias}}, {});

  for (int64_t step = 0; step < 3; ++step) {
    torch::Tensor x_all = global_batch(total, c.image, step, c.offset, c.dtype);
    torch::Tensor g_all = global_batch(total, c.image, 1000 + step, 0.0, c.dtype);  // dL/dy
    torch::Tensor x = x_all.narrow(0, begin, sizes[r]).clone();
    if (c.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    x.requires_grad_(true);
    torch::Tensor y = bn->forward(x);
    // Loss on this rank: W * sum(y * g); the reducer's average then gives sum over the batch.
    (w * (y * g_all.narrow(0, begin, sizes[r])).sum()).backward();
    reducer.finish();

    torch::Tensor xr = x_all.clone().requires_grad_(true);
    torch::Tensor yr = c.image ? ref2->forward(xr) : ref1->forward(xr);
    (yr * g_all).sum().backward();

    const double tol = c.tolerance;
    SCOPED_TRACE("step " + std::to_string(step));
    EXPECT_ALL_CLOSE(y, yr.narrow(0, begin, sizes[r]), tol, tol);
    EXPECT_ALL_CLOSE(x.grad() / w, xr.grad().narrow(0, begin, sizes[r]), tol, tol);
    auto ref_params = ref_module.named_parameters();
    // Parameter gradients are sums over the whole batch, which ATen's channels-last backward
    // kernel accumulates in float32 (as PyTorch's own SyncBatchNorm): 10x the tolerance there.
    const double sum_tol = c.dtype == torch::kFloat32 ? 10 * tol : tol;
    EXPECT_ALL_CLOSE(bn->weight.grad(), ref_params["weight"].grad(), sum_tol, sum_tol);
    EXPECT_ALL_CLOSE(bn->bias.grad(), ref_params["bias"].grad(), sum_tol, sum_tol);
    auto ref_buffers = ref_module.named_buffers();
    EXPECT_ALL_CLOSE(bn->running_mean, ref_buffers["running_mean"], tol, tol);
    EXPECT_ALL_CLOSE(bn->running_var, ref_buffers["running_var"], tol, tol);
    EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), ref_buffers["num_batches_tracked"].item<int64_t>());
    bn->weight.mutable_grad().zero_();
    bn->bias.mutable_grad().zero_();
    for (auto& p : ref_module.parameters()) p.mutable_grad().zero_();
  }
  // Eval mode: running statistics, no communication, identical to the reference.
  bn->eval();
  ref_module.eval();
  torch::Tensor x = global_batch(5, c.image, 77, c.offset, c.dtype);
  EXPECT_ALL_CLOSE(bn->forward(x), c.image ? ref2->forward(x) : ref1->forward(x), c.tolerance, c.tolerance);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SyncBatchNormTest,
    ::testing::Values(Case{"f64_2d_equal", torch::kFloat64, false, false, "equal", 3.0, 1e-10},
                      Case{"f64_4d_unequal", torch::kFloat64, true, false, "unequal", 3.0, 1e-10},
                      Case{"f64_4d_empty_rank", torch::kFloat64, true, false, "empty", -2.0, 1e-10},
                      Case{"f64_4d_channels_last", torch::kFloat64, true, true, "unequal", 1.0, 1e-10},
                      Case{"f64_2d_offset_1e4", torch::kFloat64, false, false, "unequal", 1e4, 1e-7},
                      Case{"f32_4d_equal", torch::kFloat32, true, false, "equal", 0.5, 1e-5},
                      Case{"f32_4d_channels_last_empty", torch::kFloat32, true, true, "empty", 0.5, 1e-5},
                      Case{"f32_2d_unequal", torch::kFloat32, false, false, "unequal", 0.0, 1e-5}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// BN + ReLU in one kernel (float32, channels adjacent: models/batch_norm_cpu.h) over the ranks:
// input channels sliced out of a wider channels-last tensor and the gradient handed back the same
// way (strided rows, as in an Inception block), against relu(BN) on the global batch in float64.
TEST(SyncBatchNorm, ForwardReluOnStridedRowsEqualsTheGlobalBatch) {
  auto comm = world();
  const int w = comm->size(), r = comm->rank();
  auto sizes = shard_sizes("unequal", w);
  int64_t total = 0, begin = 0;
  for (int i = 0; i < w; ++i) {
    if (i < r) begin += sizes[i];
    total += sizes[i];
  }
  auto slice = [](const torch::Tensor& t) {  // (N, 3, H, W) float32 with rows 7 floats apart
    torch::Tensor wide = torch::zeros({t.size(0), 7, t.size(2), t.size(3)}).contiguous(torch::MemoryFormat::ChannelsLast);
    wide.narrow(1, 4, 3).copy_(t);
    return wide.narrow(1, 4, 3);
  };
  SyncBatchNorm bn(SyncBatchNormOptions(3).momentum(0.3), comm);
  torch::Tensor rm = torch::zeros({3}, torch::kFloat64), rv = torch::ones({3}, torch::kFloat64);
  for (int64_t step = 0; step < 2; ++step) {
    torch::Tensor x_all = global_batch(total, true, step, 0.5, torch::kFloat32);
    torch::Tensor g_all = global_batch(total, true, 1000 + step, 0.0, torch::kFloat32);
    torch::Tensor x = slice(x_all.narrow(0, begin, sizes[r])).requires_grad_(true);
    torch::Tensor y = bn->forward_relu(x);
    auto grads = torch::autograd::grad({y}, {x, bn->weight, bn->bias}, {slice(g_all.narrow(0, begin, sizes[r]))});
    comm->allreduce(grads[1], dist::ReduceOp::kSum);
    comm->allreduce(grads[2], dist::ReduceOp::kSum);

    torch::Tensor xr = x_all.to(torch::kFloat64).requires_grad_(true);
    torch::Tensor wr = torch::ones({3}, torch::kFloat64).requires_grad_(true);
    torch::Tensor br = torch::zeros({3}, torch::kFloat64).requires_grad_(true);
    torch::Tensor yr = torch::relu(torch::batch_norm(xr, wr, br, rm, rv, true, 0.3, 1e-5, false));
    auto ref = torch::autograd::grad({yr}, {xr, wr, br}, {g_all.to(torch::kFloat64)});
    SCOPED_TRACE("step " + std::to_string(step));
    EXPECT_ALL_CLOSE(y, yr.narrow(0, begin, sizes[r]), 1e-5, 1e-5);
    EXPECT_ALL_CLOSE(grads[0], ref[0].narrow(0, begin, sizes[r]), 1e-4, 1e-5);
    EXPECT_ALL_CLOSE(grads[1], ref[1], 1e-4, 1e-4);
    EXPECT_ALL_CLOSE(grads[2], ref[2], 1e-4, 1e-4);
    EXPECT_ALL_CLOSE(bn->running_mean, rm, 1e-6, 1e-6);
    EXPECT_ALL_CLOSE(bn->running_var, rv, 1e-6, 1e-6);
  }
}

// Autocast's half-precision activations: bf16 inputs, float32 parameters and running statistics.
// Statistics and math run in float32 (float64 sums), so the output is the float64 reference
// rounded to bf16, the input gradient likewise, and the parameter gradients and running statistics
// are float32-accurate.
TEST(SyncBatchNorm, Bfloat16InputsUseFloat32Statistics) {
  auto comm = world();
  const int w = comm->size(), r = comm->rank();
  SyncBatchNorm bn(SyncBatchNormOptions(3).momentum(0.3), comm);
  torch::nn::BatchNorm2d ref(torch::nn::BatchNorm2dOptions(3).momentum(0.3));
  ref->to(torch::kFloat64);
  torch::Tensor x_all = global_batch(4 * w, true, 5, 2.0, torch::kBFloat16);
  torch::Tensor g_all = global_batch(4 * w, true, 6, 0.0, torch::kBFloat16);
  torch::Tensor x = x_all.narrow(0, 4 * r, 4).clone().requires_grad_(true);
  torch::Tensor y = bn->forward(x);
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  (y * g_all.narrow(0, 4 * r, 4)).sum().backward();  // dL/dy = g, exact in bf16
  comm->allreduce(bn->weight.mutable_grad(), dist::ReduceOp::kSum);
  comm->allreduce(bn->bias.mutable_grad(), dist::ReduceOp::kSum);

  torch::Tensor xr = x_all.to(torch::kFloat64).requires_grad_(true);
  torch::Tensor yr = ref->forward(xr);
  (yr * g_all.to(torch::kFloat64)).sum().backward();
  const double bf16 = 1.0 / 128;  // bf16 keeps 8 significant bits
  EXPECT_ALL_CLOSE(y.to(torch::kFloat64), yr.narrow(0, 4 * r, 4), bf16, bf16);
  EXPECT_ALL_CLOSE(x.grad().to(torch::kFloat64), xr.grad().narrow(0, 4 * r, 4), 2 * bf16, 2 * bf16);
  EXPECT_EQ(bn->weight.grad().scalar_type(), torch::kFloat32);
  EXPECT_ALL_CLOSE(bn->weight.grad().to(torch::kFloat64), ref->weight.grad(), 1e-4, 1e-4);
  EXPECT_ALL_CLOSE(bn->bias.grad().to(torch::kFloat64), ref->bias.grad(), 1e-4, 1e-4);
  EXPECT_ALL_CLOSE(bn->running_mean.to(torch::kFloat64), ref->running_mean, 1e-6, 1e-6);
  EXPECT_ALL_CLOSE(bn->running_var.to(torch::kFloat64), ref->running_var, 1e-6, 1e-6);
}

// Mean 1e4, std 1 in float32: every element is within float32's resolution at 1e4 (~1e-3) of the
// float64 reference; the naive E[x^2] - E[x]^2 in float32 would be off by units.
TEST(SyncBatchNorm, StableForLargeMeanInFloat32) {
  auto comm = world();
  const int64_t per_rank = 16;
  auto gen = at::detail::createCPUGenerator(5);
  torch::Tensor x_all = (torch::randn({per_rank * comm->size(), 4, 3, 3}, gen, torch::kFloat64) + 1e4).to(torch::kFloat32);
  SyncBatchNorm bn(SyncBatchNormOptions(4), comm);
  torch::Tensor y = bn->forward(x_all.narrow(0, comm->rank() * per_rank, per_rank));
  torch::Tensor x64 = x_all.to(torch::kFloat64);
  torch::Tensor ref = torch::batch_norm(x64, {}, {}, {}, {}, true, 0.1, 1e-5, false);
  EXPECT_ALL_CLOSE(y, ref.narrow(0, comm->rank() * per_rank, per_rank), 0.0, 2e-3);
  EXPECT_ALL_CLOSE(bn->running_mean, 0.1 * x64.mean({0, 2, 3}), 1e-6, 0.0);
}

// Central differences of the global loss sum(y * g) against the analytical input gradient.
TEST(SyncBatchNorm, FiniteDifferenceGradientFloat64) {
  auto comm = world();
  const int w = comm->size(), r = comm->rank();
  const int64_t per_rank = 2;
  auto gen = at::detail::createCPUGenerator(9);
  torch::Tensor x_all = torch::randn({per_rank * w, 2, 2, 2}, gen, torch::kFloat64);
  torch::Tensor g_all = torch::randn({per_rank * w, 2, 2, 2}, gen, torch::kFloat64);
  SyncBatchNorm bn(SyncBatchNormOptions(2).track_running_stats(false), comm);
  bn->to(torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    bn->weight.copy_(torch::tensor({0.7, -1.3}, torch::kFloat64));
  }
  auto mine = [&](const torch::Tensor& t) { return t.narrow(0, r * per_rank, per_rank); };
  auto global_loss = [&](const torch::Tensor& xs) {
    torch::NoGradGuard no_grad;
    return comm->allreduce_scalar((bn->forward(mine(xs)) * mine(g_all)).sum().item<double>(), dist::ReduceOp::kSum);
  };
  torch::Tensor x = mine(x_all).clone().requires_grad_(true);
  (bn->forward(x) * mine(g_all)).sum().backward();
  torch::Tensor analytic = comm->allgather(x.grad().contiguous()).flatten(0, 1);  // (W * per_rank, 2, 2, 2)
  const double h = 1e-6;
  auto flat = x_all.view({-1});
  torch::Tensor numeric = torch::empty_like(flat);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    double v = flat[i].item<double>();
    flat[i] = v + h;
    double up = global_loss(x_all);
    flat[i] = v - h;
    double down = global_loss(x_all);
    flat[i] = v;
    numeric[i] = (up - down) / (2 * h);
  }
  EXPECT_ALL_CLOSE(analytic.flatten(), numeric, 1e-6, 1e-7);
}

// group_size 2: each pair of consecutive ranks normalizes with its own statistics.
TEST(SyncBatchNorm, GroupsOfTwoAreIndependent) {
  auto comm = world();
  const int w = comm->size(), r = comm->rank();
  if (w % 2 != 0) {
    EXPECT_THROW(dist::statistics_group(comm, 2), std::exception);
    return;
  }
  SyncBatchNorm bn(SyncBatchNormOptions(3), dist::statistics_group(comm, 2));
  EXPECT_EQ(bn->group()->size(), 2);
  const int64_t per_rank = 3;
  torch::Tensor x_all = global_batch(per_rank * w, true, 4, 1.0, torch::kFloat64);
  torch::Tensor y = bn->forward(x_all.narrow(0, r * per_rank, per_rank).to(torch::kFloat32));
  int first = r / 2 * 2;
  torch::Tensor pair = x_all.narrow(0, first * per_rank, 2 * per_rank);
  torch::Tensor ref = torch::batch_norm(pair, {}, {}, {}, {}, true, 0.1, 1e-5, false);
  EXPECT_ALL_CLOSE(y, ref.narrow(0, (r - first) * per_rank, per_rank), 1e-5, 1e-5);
  EXPECT_ALL_CLOSE(bn->running_mean, 0.1 * pair.mean({0, 2, 3}), 1e-5, 1e-6);
}

TEST(SyncBatchNorm, GlobalCountOfOneIsAnError) {
  auto comm = world();
  SyncBatchNorm bn(SyncBatchNormOptions(3), comm);
  torch::Tensor x = torch::randn({comm->rank() == 0 ? 1 : 0, 3});
  try {
    bn->forward(x);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("more than 1 value per channel"), std::string::npos) << e.what();
  }
}

TEST(SyncBatchNorm, CumulativeMomentumAndNoAffine) {
  auto comm = world();
  SyncBatchNorm bn(SyncBatchNormOptions(3).momentum(std::nullopt).affine(false), comm);
  torch::nn::BatchNorm1d ref(torch::nn::BatchNorm1dOptions(3).momentum(c10::nullopt).affine(false));
  EXPECT_EQ(bn->named_parameters().size(), 0u);
  for (int step = 0; step < 3; ++step) {
    torch::Tensor x_all = global_batch(2 * comm->size(), false, step, 0.5, torch::kFloat32);
    bn->forward(x_all.narrow(0, 2 * comm->rank(), 2));
    ref->forward(x_all);
  }
  EXPECT_ALL_CLOSE(bn->running_mean, ref->running_mean, 1e-5, 1e-6);
  EXPECT_ALL_CLOSE(bn->running_var, ref->running_var, 1e-5, 1e-6);
}

TEST(SyncBatchNorm, StateDictNamesMatchBatchNorm2d) {
  SyncBatchNorm bn(SyncBatchNormOptions(4));
  torch::nn::BatchNorm2d ref(4);
  std::vector<std::string> mine, theirs;
  for (auto& p : bn->named_parameters()) mine.push_back(p.key());
  for (auto& b : bn->named_buffers()) mine.push_back(b.key());
  for (auto& p : ref->named_parameters()) theirs.push_back(p.key());
  for (auto& b : ref->named_buffers()) theirs.push_back(b.key());
  EXPECT_EQ(mine, theirs);
}

TEST(SyncBatchNorm, ConvertKeepsStateAndSynchronizes) {
  auto comm = world();
  SyncBatchNorm bn(SyncBatchNormOptions(3));  // per-rank
  torch::Tensor x_all = global_batch(2 * comm->size(), true, 11, 0.0, torch::kFloat32);
  bn->forward(x_all.narrow(0, 2 * comm->rank(), 2));
  torch::Tensor local_mean = bn->running_mean.clone();
  torch::nn::Sequential net(torch::nn::Conv2d(3, 3, 1), bn);
  EXPECT_EQ(convert_sync_batchnorm(*net, comm), 1);
  // Per-rank running means become their average over the ranks (equal shards: 0.1 * global mean).
  torch::Tensor global_mean = x_all.mean({0, 2, 3});
  EXPECT_ALL_CLOSE(bn->running_mean, 0.1 * global_mean, 1e-5, 1e-6);
  if (comm->size() == 1) {
    EXPECT_TRUE(torch::equal(bn->running_mean, local_mean));
  }
  bn->forward(x_all.narrow(0, 2 * comm->rank(), 2));
  torch::Tensor expected = 0.9 * 0.1 * global_mean + 0.1 * global_mean;
  EXPECT_ALL_CLOSE(bn->running_mean, expected, 1e-5, 1e-6);
}

}  // namespace
}  // namespace bnx::models
