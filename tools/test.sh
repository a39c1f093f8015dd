#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
cd build && ctest --output-on-failure -j "${BNX_TEST_JOBS:-1}" "$@"
