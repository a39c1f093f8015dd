// What built this bnx: the git commit of its sources and the malloc it runs on, recorded in every
// run's run.json and shown in the progress line's banner (with BNX_VERSION), so a result names the
// code that produced it and a wall time the allocator it was measured with.
#pragma once

namespace bnx::train {

/// The short git commit of the compiled sources, "-dirty" when they differed from it, or "unknown"
/// (built outside a git checkout); regenerated at every build (cmake/BnxCommit.cmake).
const char* bnx_commit();

/// The malloc the process runs on: "tcmalloc" when the program was linked against it (or it was
/// preloaded), otherwise "libc malloc". Speed only: the results do not depend on it.
const char* malloc_name();

}  // namespace bnx::train
