// main() of multi-rank test binaries: builds the world communicator before the tests run. Every
// rank runs every test; output from ranks other than 0 is kept only for failures.
#include <gtest/gtest.h>

#include "dist/mpi_communicator.h"
#include "tests/test_support.h"

namespace {
// On ranks other than 0: print failed assertions only, with the rank.
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (result.failed()) {
      std::cerr << "rank " << rank_ << ": " << (result.file_name() ? result.file_name() : "?") << ":"
                << result.line_number() << ": " << result.summary() << std::endl;
    }
  }

 private:
  int rank_;
};
}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto world = bnx::dist::make_world_communicator();
  bnx::test::set_world(world);
  torch::set_num_threads(1);
  if (world->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(world->rank()));
  }
  int failed = RUN_ALL_TESTS();
  // Every rank must agree: one failing rank fails the test entry everywhere.
  int64_t any = world->allreduce_scalar(static_cast<int64_t>(failed != 0), bnx::dist::ReduceOp::kMax);
  if (any && world->rank() == 0 && !failed) std::cerr << "a test failed on another rank" << std::endl;
  bnx::test::set_world(nullptr);
  return any ? 1 : 0;
}
