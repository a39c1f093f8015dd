// The build's commit (see build_info.h); bnx_commit.h is generated into the build tree.
#include "train/build_info.h"

#include "bnx_commit.h"

namespace bnx::train {

const char* bnx_commit() { return BNX_COMMIT; }

}  // namespace bnx::train
