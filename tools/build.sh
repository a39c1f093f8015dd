#!/usr/bin/env bash
# Configures and builds bnx into build/ (Release); reuses an existing build tree.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${BNX_JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${BNX_CMAKE_ARGS:-} >/dev/null
# Progress lines are dropped; warnings and errors stay, and a failed build fails this script.
cmake --build build -j "$jobs" 2>&1 | { grep -vE '^\[ *[0-9]+%\] (Building|Linking|Built)' || true; }
