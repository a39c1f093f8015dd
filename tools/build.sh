#!/usr/bin/env bash
# Configures and builds bnx into build/ (Release); reuses an existing build tree.
#   tools/build.sh            every target (the bnx program and the tests)
#   tools/build.sh bnx        just these targets (the main job needs only the program)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${BNX_JOBS:-$(nproc)}
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${BNX_CMAKE_ARGS:-} >/dev/null
# Progress lines are dropped; warnings and errors stay, and a failed build fails this script.
cmake --build build -j "$jobs" "${targets[@]}" 2>&1 | { grep -vE '^\[ *[0-9]+%\] (Building|Linking|Built)' || true; }
