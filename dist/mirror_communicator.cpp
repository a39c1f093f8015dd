// MirrorCommunicator (see mirror_communicator.h).
#include "dist/mirror_communicator.h"

namespace bnx::dist {

void MirrorCommunicator::allreduce(torch::Tensor& tensor, ReduceOp op) {
  if (op == ReduceOp::kSum) tensor.mul_(2);
}

std::unique_ptr<Work> MirrorCommunicator::allreduce_async(torch::Tensor& tensor, ReduceOp op) {
  allreduce(tensor, op);
  struct Done : Work {
    void wait() override {}
    bool test() override { return true; }
  };
  return std::make_unique<Done>();
}

torch::Tensor MirrorCommunicator::allgather(const torch::Tensor& tensor) { return torch::stack({tensor, tensor}); }

void MirrorCommunicator::abort(const std::string& message) { throw DistError(message); }

}  // namespace bnx::dist
