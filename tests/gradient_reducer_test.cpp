// GradientReducer: averaged gradients equal a single process's on the global batch; a small conv
// net with SyncBatchNorm trained two SGD steps on W ranks matches one process on the whole batch;
// bucketing, overlap and unused parameters; a clear error when ranks' models differ.
#include "dist/gradient_reducer.h"

#include "models/registry.h"
#include "models/sync_batch_norm.h"
#include "tests/test_support.h"

namespace bnx::dist {
namespace {

using models::SyncBatchNorm;
using models::SyncBatchNormOptions;
using test::world;

struct SmallNetImpl : torch::nn::Module {
  SmallNetImpl(std::shared_ptr<Communicator> comm) {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 6, 3).padding(1).bias(false)));
    bn1 = register_module("bn1", SyncBatchNorm(SyncBatchNormOptions(6), comm));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(6, 4, 3).stride(2).bias(false)));
    bn2 = register_module("bn2", SyncBatchNorm(SyncBatchNormOptions(4), comm));
    fc = register_module("fc", torch::nn::Linear(4, 3));
  }
  torch::Tensor forward(torch::Tensor x) {  // (N, 2, 8, 8) -> (N, 3)
    x = torch::relu(bn1->forward(conv1->forward(x)));
    x = torch::relu(bn2->forward(conv2->forward(x)));
    return fc->forward(torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1));
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  SyncBatchNorm bn1{nullptr}, bn2{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(SmallNet);

NamedTensors named_params(torch::nn::Module& m) {
  NamedTensors out;
  for (auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}
NamedTensors named_buffers(torch::nn::Module& m) {
  NamedTensors out;
  for (auto& b : m.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

// Two SGD steps with momentum on W ranks (global batch 8, each rank a contiguous slice, mean
// loss per rank) against one process on the whole batch.
void train_and_compare(int64_t bucket_bytes, bool overlap) {
  auto comm = world();
  const int w = comm->size(), r = comm->rank();
  const int64_t global = 8 * 3;  // divisible by 1..4
  if (global % w != 0) return;
  const int64_t local = global / w;

  torch::manual_seed(1234 + r);  // different init per rank: the reducer must broadcast rank 0's
  SmallNet net(comm);
  torch::manual_seed(1234);
  SmallNet ref(make_local_communicator());
  GradientReducer reducer(comm, named_params(*net), named_buffers(*net), {bucket_bytes, overlap});
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::SGD ref_opt(ref->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));

  for (int step = 0; step < 2; ++step) {
    auto gen = at::detail::createCPUGenerator(50 + step);
    torch::Tensor x = torch::randn({global, 2, 8, 8}, gen);
    torch::Tensor y = torch::randint(0, 3, {global}, gen);
    opt.zero_grad();
    torch::nn::functional::cross_entropy(net->forward(x.narrow(0, r * local, local)), y.narrow(0, r * local, local))
        .backward();
    reducer.finish();
    opt.step();
    ref_opt.zero_grad();
    torch::nn::functional::cross_entropy(ref->forward(x), y).backward();
    ref_opt.step();
  }
  auto mine = models::state_dict(*net), theirs = models::state_dict(*ref);
  ASSERT_EQ(mine.size(), theirs.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    SCOPED_TRACE(mine[i].first);
    EXPECT_ALL_CLOSE(mine[i].second, theirs[i].second, 1e-5, 1e-6);
    // Identical on every rank, bit for bit.
    torch::Tensor copy = mine[i].second.clone();
    comm->broadcast(copy, 0);
    EXPECT_TRUE(torch::equal(copy, mine[i].second));
  }
  EXPECT_GE(reducer.collectives_last_step(), 1);
}

TEST(GradientReducer, SmallConvNetMatchesOneProcessOneBucket) { train_and_compare(25 << 20, true); }
TEST(GradientReducer, SmallConvNetMatchesOneProcessTinyBuckets) { train_and_compare(64, true); }
TEST(GradientReducer, SmallConvNetMatchesOneProcessWithoutOverlap) { train_and_compare(256, false); }

TEST(GradientReducer, BucketsAndUnusedParameters) {
  auto comm = world();
  torch::Tensor a = torch::ones({100}).requires_grad_(true), b = torch::ones({100}).requires_grad_(true);
  GradientReducer reducer(comm, {{"a", a}, {"b", b}}, {}, {400, true});
  EXPECT_EQ(reducer.num_buckets(), 2);
  // Only `a` is used, with a rank-dependent gradient; `b` counts as zero.
  (a * (comm->rank() + 1.0)).sum().backward();
  reducer.finish();
  const double w = comm->size();
  EXPECT_ALL_CLOSE(a.grad(), torch::full({100}, (w + 1) / 2), 1e-6, 0);
  EXPECT_ALL_CLOSE(b.grad(), torch::zeros({100}), 0, 1e-12);
  EXPECT_EQ(reducer.collectives_last_step(), 2);
  EXPECT_EQ(reducer.bytes_last_step(), 800);
}

TEST(GradientReducer, DifferentModelsAcrossRanksAreNamed) {
  auto comm = world();
  if (comm->size() == 1) {
    torch::Tensor a = torch::ones({3}, torch::requires_grad());
    EXPECT_NO_THROW(GradientReducer(comm, {{"a", a}}, {}));
    return;
  }
  // Rank 1 has a different shape for "w".
  torch::Tensor v = torch::ones({comm->rank() == 1 ? 4 : 3}, torch::requires_grad());
  try {
    GradientReducer reducer(comm, {{"bias", torch::ones({2}, torch::requires_grad())}, {"w", v}}, {});
    FAIL() << "expected a mismatch error";
  } catch (const DistError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("entry 1"), std::string::npos) << what;
    EXPECT_NE(what.find("w ["), std::string::npos) << what;
    EXPECT_NE(what.find("rank " + std::to_string(comm->rank())), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace bnx::dist
