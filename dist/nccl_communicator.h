// NCCL implementation of dist::Communicator for CUDA tensors (built only when the LibTorch found
// has CUDA; CPU builds compile the source against the CUDA toolkit's nccl.h so it cannot rot).
// Rank 0 creates the NCCL unique id and broadcasts it over MPI; allreduces run on a side stream
// ordered after LibTorch's current stream (so gradient buckets reduce while backward goes on, and
// wait() orders the current stream after them), other collectives on the current stream; CPU
// tensors (host values: metrics, stop flags) go through MPI. A watchdog
// thread polls ncclCommGetAsyncError and the age of in-flight collectives, and aborts the
// communicator and the job after `timeout_seconds` instead of hanging.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace bnx::dist {

struct NcclOptions {
  /// A collective not finished after this long aborts the job.
  double timeout_seconds = 600;
};

/// Builds an NCCL communicator over the ranks of `mpi` (collective over `mpi`); the CUDA device
/// must already be selected (select_cuda_device).
std::shared_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> mpi, NcclOptions options = {});

/// Selects GPU local_rank % device_count (CUDA_VISIBLE_DEVICES applies); throws naming the rank
/// when no GPU is visible. Returns the device index.
int select_cuda_device(const Communicator& comm);

}  // namespace bnx::dist
