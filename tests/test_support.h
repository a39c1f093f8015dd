// Helpers shared by the tests: the world communicator of an MPI test binary, tensor comparison,
// strided layouts.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <string>

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

/// Path of a file in tests/data.
std::string test_data(const std::string& name);

}  // namespace bnx::test

#define EXPECT_ALL_CLOSE(a, b, rtol, atol) EXPECT_TRUE(::bnx::test::all_close((a), (b), (rtol), (atol)))
