// MirrorCommunicator: a simulated group of two ranks holding identical data, in one process. A sum
// doubles, an average or maximum keeps, an allgather repeats. Through it SyncBatchNorm runs its
// distributed function (not the single-rank kernel) on the global batch [x; x], whose statistics
// and input gradients are those of x alone: the CUDA tests check that function on one GPU and
// `bnx bench train --mirror` times it without a second GPU (NCCL refuses two ranks on one GPU).
#pragma once

#include <memory>
#include <string>

#include "dist/communicator.h"

namespace bnx::dist {

class MirrorCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 2; }
  int world_rank() const override { return 0; }
  void allreduce(torch::Tensor& tensor, ReduceOp op) override;
  std::unique_ptr<Work> allreduce_async(torch::Tensor& tensor, ReduceOp op) override;
  void broadcast(torch::Tensor&, int) override {}
  torch::Tensor allgather(const torch::Tensor& tensor) override;  // (2, *tensor.shape)
  void barrier() override {}
  std::shared_ptr<Communicator> split(int) override { return std::make_shared<MirrorCommunicator>(); }
  [[noreturn]] void abort(const std::string& message) override;
};

}  // namespace bnx::dist
