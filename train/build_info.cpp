// The build's commit and the process's malloc (see build_info.h); bnx_commit.h is generated into the build tree.
#include "train/build_info.h"

#include <dlfcn.h>

#include "bnx_commit.h"

namespace bnx::train {

const char* bnx_commit() { return BNX_COMMIT; }

const char* malloc_name() {
  static const bool tcmalloc = dlsym(RTLD_DEFAULT, "tc_malloc") != nullptr;
  return tcmalloc ? "tcmalloc" : "libc malloc";
}

}  // namespace bnx::train
