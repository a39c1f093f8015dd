// The one place that chooses how a device's tensors travel between ranks: MPI for CPU tensors,
// NCCL for CUDA tensors (host values always go through MPI). Callers name a device; they never
// name a backend.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "dist/communicator.h"

namespace bnx::dist {

/// The communicator for tensors on `device`: `world` itself on the CPU; on CUDA an NCCL
/// communicator over `world`'s ranks (collective; the device must be current), whose watchdog
/// aborts the job when a collective takes longer than `nccl_timeout_seconds`.
std::shared_ptr<Communicator> communicator_for(torch::Device device, std::shared_ptr<Communicator> world,
                                               double nccl_timeout_seconds);

}  // namespace bnx::dist
