// What built this bnx: the git commit of its sources, recorded in every run's run.json and shown
// in the progress line's banner (with BNX_VERSION), so a result names the code that produced it.
#pragma once

namespace bnx::train {

/// The short git commit of the compiled sources, "-dirty" when they differed from it, or "unknown"
/// (built outside a git checkout); regenerated at every build (cmake/BnxCommit.cmake).
const char* bnx_commit();

}  // namespace bnx::train
