// Helpers shared by the tests: the world communicator of an MPI test binary, tensor comparison,
// strided layouts, scratch folders, a run folder's metrics.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace bnx::test {

/// The world of this test process (set by mpi_test_main; a one-rank world otherwise).
std::shared_ptr<dist::Communicator> world();
void set_world(std::shared_ptr<dist::Communicator> comm);

/// Max |a - b| / (atol + rtol * |b|) <= 1, reported with the worst element.
::testing::AssertionResult all_close(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol);

/// `values` (N, C, *) as float32 channels [before, before + C) of a zero-filled channels-last tensor
/// with before + after more channels: rows of adjacent channels at a stride > C, as an Inception
/// concatenation hands back its gradient.
torch::Tensor channel_slice(const torch::Tensor& values, int64_t before, int64_t after);

/// An empty folder for a test's files, `bnx_test_<name>_<pid>` under the system's temp folder, with
/// rank 0's pid on every rank of world(): the same path on all ranks (a collective call in an MPI
/// test), another for a concurrent run of the same test (two checkouts' ctest on one machine).
/// Whatever was there is removed first; the folder is removed when the test process exits after
/// every test passed, and kept when one failed.
std::filesystem::path scratch_dir(const std::string& name);

/// The records of a run folder's metrics.jsonl, in order.
std::vector<nlohmann::json> metrics_rows(const std::filesystem::path& run_dir);

/// The loss of each "train" record of a run folder's metrics.jsonl, in order.
std::vector<double> train_losses(const std::filesystem::path& run_dir);

/// Path of a file in tests/data.
std::string test_data(const std::string& name);

}  // namespace bnx::test

#define EXPECT_ALL_CLOSE(a, b, rtol, atol) EXPECT_TRUE(::bnx::test::all_close((a), (b), (rtol), (atol)))
