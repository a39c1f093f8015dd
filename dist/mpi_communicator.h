// MPI implementation of dist::Communicator for CPU tensors and host values; also bootstraps NCCL.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace bnx::dist {

/// Initializes MPI once per process (if the process was started by mpirun/srun) and returns the
/// world communicator; a process not started by a launcher gets a one-rank world without MPI.
/// MPI is finalized at process exit.
std::shared_ptr<Communicator> make_world_communicator();

/// True when this process was started by an MPI launcher (mpirun, mpiexec, srun with PMI).
bool launched_by_mpi();

}  // namespace bnx::dist
