#!/usr/bin/env bash
# A compiler and linker launcher that logs each command's wall and CPU time, to see where a build's
# time goes (docs/benchmarks.md, "Build"):
#   cmake -S . -B B -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=$PWD/tools/bench/timed-compile.sh \
#         -DCMAKE_CXX_LINKER_LAUNCHER=$PWD/tools/bench/timed-compile.sh && cmake --build B -j 1
# Each line of $BNX_COMPILE_LOG (default /tmp/bnx_compile_times.log): wall s, user s, sys s, output.
log=${BNX_COMPILE_LOG:-/tmp/bnx_compile_times.log}
out="" prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; done
times=$(mktemp)
start=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$times" "$@"
rc=$?
echo "$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)") $(tail -n 1 "$times") $out" >>"$log"
rm -f "$times"
exit $rc
