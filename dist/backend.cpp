// Backend choice per device (see backend.h).
#include "dist/backend.h"

#ifdef BNX_WITH_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace bnx::dist {

std::shared_ptr<Communicator> communicator_for(torch::Device device, std::shared_ptr<Communicator> world,
                                               double nccl_timeout_seconds) {
  if (!device.is_cuda()) return world;
#ifdef BNX_WITH_NCCL
  NcclOptions options;
  options.timeout_seconds = nccl_timeout_seconds;
  return make_nccl_communicator(std::move(world), options);
#else
  (void)nccl_timeout_seconds;
  fail(*world, "a CUDA device in a bnx built without NCCL (CPU-only LibTorch)");
#endif
}

}  // namespace bnx::dist
