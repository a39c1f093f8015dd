#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
# Entries run side by side, as many cores' worth as the machine has (a multi-rank entry counts its
# ranks: PROCESSORS in tests/CMakeLists.txt); BNX_TEST_JOBS=1 runs them one at a time.
cd build && ctest --output-on-failure -j "${BNX_TEST_JOBS:-$(nproc)}" "$@"
