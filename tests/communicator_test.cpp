// dist::Communicator (MPI): every collective against a locally computed reference, for every
// supported dtype and sizes 0, 1, odd and not divisible by the world size; subgroup splits.
#include "dist/communicator.h"

#include "tests/test_support.h"

namespace bnx::dist {
namespace {

using test::world;

// The tensor rank r contributes: deterministic from (seed, r) so every rank can compute all.
torch::Tensor contribution(int64_t n, torch::ScalarType type, int r, int seed) {
  auto gen = at::detail::createCPUGenerator(1000 * seed + r);
  torch::Tensor t = torch::randn({n}, gen, torch::kFloat64) * 100;
  return type == torch::kInt64 ? t.round().to(torch::kInt64) : t.to(type);
}

class CollectiveTest : public ::testing::TestWithParam<std::tuple<torch::ScalarType, int64_t>> {};

TEST_P(CollectiveTest, AllreduceMatchesLocalReference) {
  auto [type, n] = GetParam();
  auto comm = world();
  const int w = comm->size();
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax}) {
    if (op == ReduceOp::kAvg && type == torch::kInt64) continue;
    torch::Tensor mine = contribution(n, type, comm->rank(), 7);
    torch::Tensor expected = contribution(n, type, 0, 7).to(torch::kFloat64);
    for (int r = 1; r < w; ++r) {
      torch::Tensor other = contribution(n, type, r, 7).to(torch::kFloat64);
      expected = op == ReduceOp::kMax ? torch::maximum(expected, other) : expected + other;
    }
    if (op == ReduceOp::kAvg) expected /= w;
    comm->allreduce(mine, op);
    EXPECT_EQ(mine.scalar_type(), type);
    // float32 sums of values ~100 round at ~1e-5 * 100 absolute.
    double rtol = type == torch::kFloat32 ? 1e-5 : 1e-12, atol = type == torch::kFloat32 ? 1e-3 : 1e-10;
    EXPECT_ALL_CLOSE(mine, expected, rtol, atol) << "op " << static_cast<int>(op);

    torch::Tensor async = contribution(n, type, comm->rank(), 7);
    comm->allreduce_async(async, op)->wait();
    EXPECT_TRUE(torch::equal(async, mine));
  }
}

TEST_P(CollectiveTest, BroadcastAndAllgather) {
  auto [type, n] = GetParam();
  auto comm = world();
  const int root = comm->size() - 1;
  torch::Tensor t = contribution(n, type, comm->rank(), 3);
  comm->broadcast(t, root);
  EXPECT_TRUE(torch::equal(t, contribution(n, type, root, 3)));

  torch::Tensor gathered = comm->allgather(contribution(n, type, comm->rank(), 5));
  ASSERT_EQ(gathered.size(0), comm->size());
  for (int r = 0; r < comm->size(); ++r) EXPECT_TRUE(torch::equal(gathered[r], contribution(n, type, r, 5)));
}

INSTANTIATE_TEST_SUITE_P(DtypesAndSizes, CollectiveTest,
                         ::testing::Combine(::testing::Values(torch::kFloat32, torch::kFloat64, torch::kInt64),
                                            ::testing::Values(0, 1, 3, 1000, 100003)));

TEST(Communicator, CoalescedAllreduceMixesDtypesAndShapes) {
  auto comm = world();
  const int w = comm->size();
  std::vector<torch::Tensor> tensors = {torch::full({2, 3}, comm->rank() + 1.0, torch::kFloat32),
                                        torch::full({5}, int64_t{comm->rank()}, torch::kInt64),
                                        torch::full({0}, 1.0, torch::kFloat64),
                                        torch::full({7}, 2.0 * comm->rank(), torch::kFloat64)};
  comm->allreduce_coalesced(tensors, ReduceOp::kSum);
  EXPECT_TRUE(torch::equal(tensors[0], torch::full({2, 3}, w * (w + 1) / 2.0, torch::kFloat32)));
  EXPECT_TRUE(torch::equal(tensors[1], torch::full({5}, int64_t{w * (w - 1) / 2}, torch::kInt64)));
  EXPECT_EQ(tensors[2].numel(), 0);
  EXPECT_TRUE(torch::equal(tensors[3], torch::full({7}, 1.0 * w * (w - 1), torch::kFloat64)));
}

TEST(Communicator, ScalarsBarrierAndRanks) {
  auto comm = world();
  EXPECT_EQ(comm->allreduce_scalar(int64_t{comm->rank()}, ReduceOp::kMax), comm->size() - 1);
  EXPECT_DOUBLE_EQ(comm->allreduce_scalar(1.5, ReduceOp::kSum), 1.5 * comm->size());
  comm->barrier();
  EXPECT_GE(comm->local_rank(), 0);
  EXPECT_LT(comm->local_rank(), comm->local_size());
  EXPECT_LE(comm->local_size(), comm->size());
}

TEST(Communicator, SplitIntoGroupsOfTwo) {
  auto comm = world();
  if (comm->size() % 2 != 0) {
    EXPECT_THROW(comm->split(2), DistError);
    return;
  }
  auto group = comm->split(2);
  EXPECT_EQ(group->size(), 2);
  EXPECT_EQ(group->rank(), comm->rank() % 2);
  EXPECT_EQ(group->world_rank(), comm->rank());
  // Each group sums only its own members' ranks.
  int first = comm->rank() / 2 * 2;
  EXPECT_EQ(group->allreduce_scalar(int64_t{comm->rank()}, ReduceOp::kSum), first + first + 1);
  torch::Tensor g = group->allgather(torch::full({1}, int64_t{comm->rank()}, torch::kInt64));
  EXPECT_TRUE(torch::equal(g.flatten(), torch::tensor({int64_t(first), int64_t(first + 1)})));
}

TEST(Communicator, ErrorsNameTheRank) {
  auto comm = world();
  torch::Tensor bad = torch::zeros({3}, torch::kInt32);
  try {
    comm->allreduce(bad, ReduceOp::kSum);
    if (comm->size() > 1) FAIL() << "int32 allreduce should throw";
  } catch (const DistError& e) {
    EXPECT_NE(std::string(e.what()).find("rank " + std::to_string(comm->rank())), std::string::npos) << e.what();
  }
  EXPECT_THROW(comm->split(comm->size() + 1), DistError);
  EXPECT_THROW(comm->split(-1), DistError);
}

}  // namespace
}  // namespace bnx::dist
