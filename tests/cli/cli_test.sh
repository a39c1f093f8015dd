#!/usr/bin/env bash
# Command-line behaviour of bnx, one case per ctest entry: cli_test.sh BNX CASE.
# Cases: usage, sigterm, kill9, rank_failure, resize, eval, reproduce, reproduce_lanes, reproduce_quick,
# snapshot_runs, fit_table, doc_tables, cxx20_check, imagenet.
set -uo pipefail
bnx=$1
case_name=$2
here=$(cd "$(dirname "$0")" && pwd)
config=$here/tiny.yaml
work=$(mktemp -d /tmp/bnx_cli_${case_name}_XXXX)
trap 'rm -rf "$work"' EXIT
mpi=(mpiexec --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
fails=0
passes=0
check() {  # check "description" command...
  local what=$1
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAILED: $what"; fails=$((fails + 1)); fi
}
finish() {
  echo "$passes passed, $fails failed"
  [ "$fails" = 0 ]
  exit $?
}
# Final parameters of a run, as a file to compare byte for byte.
final_params() {  # final_params DIR OUT
  local last
  last=$(ls "$1"/ckpt_*.bnx | sort | tail -n 1)
  "$bnx" export --checkpoint "$last" --out "$2" >/dev/null
}

case $case_name in
usage)
  "$bnx" train >/dev/null 2>&1; check "missing --config exits 2" test $? = 2
  "$bnx" frobnicate >/dev/null 2>&1; check "unknown subcommand exits 2" test $? = 2
  printf 'model:\n  name: mlp\n  widht: 2\ntrain:\n  batch_size: 8\n  steps: 1\n' >"$work/bad.yaml"
  msg=$("$bnx" train --config "$work/bad.yaml" --out "$work/out" 2>&1); code=$?
  check "unknown key exits 2" test $code = 2
  check "unknown key message" grep -q "bad.yaml:3: unknown key 'model.widht' (did you mean 'model.width'?)" <<<"$msg"
  check "nothing written on a usage error" test ! -e "$work/out"
  "$bnx" train --config "$config" --set optim.lr=-1 --out "$work/out" >/dev/null 2>&1
  check "bad --set exits 2" test $? = 2
  "$bnx" train --config "$config" --set model.name=resnet99 --out "$work/out" >"$work/log" 2>&1
  check "unknown model exits 2" test $? = 2
  check "unknown model lists valid ones" grep -q "model.name: got 'resnet99', expected a model name (valid models: bn_inception" "$work/log"
  printf 'model:\n  name: resnet99\ntrain:\n  batch_size: 8\n  steps: 1\n' >"$work/model.yaml"
  "$bnx" train --config "$work/model.yaml" --out "$work/out" >"$work/log" 2>&1
  check "unknown model named with file:line" grep -q "model.yaml:2: model.name: got 'resnet99'" "$work/log"
  "$bnx" train --config "$config" --set data.root=/nonexistent/fmnist --out "$work/out" >"$work/log" 2>&1
  check "missing data root exits 2" test $? = 2
  check "missing data root is named" grep -q "/nonexistent/fmnist" "$work/log"
  mkdir -p "$work/empty/train/a" "$work/empty/val/a"
  "$bnx" train --config "$config" --set data.kind=image_folder --set data.root="$work/empty" --out "$work/out" >"$work/log" 2>&1
  check "image folder without images exits 2" test $? = 2
  check "image folder without images is named" grep -q "$work/empty: no images found" "$work/log"
  "${mpi[@]}" -n 3 "$bnx" train --config "$config" --set train.batch_size=100000 --out "$work/out" >"$work/log" 2>&1
  check "a global batch larger than the data set exits 2 on every rank" test $? = 2
  check "... and says so once" test "$(grep -c 'exceeds the data set size' "$work/log")" = 1
  check "nothing written on input errors" test ! -e "$work/out"
  touch "$work/file"
  "${mpi[@]}" -n 2 "$bnx" train --config "$config" --out "$work/file/run" >"$work/log" 2>&1
  check "an --out that cannot be created exits 2 on every rank" test $? = 2
  check "... and names it" grep -q "run folder $work/file/run: cannot create it: Not a directory" "$work/log"
  "$bnx" train --config "$config" --print-config >"$work/printed.yaml"
  "$bnx" train --config "$work/printed.yaml" --print-config | cmp -s - "$work/printed.yaml"
  check "--print-config round-trips" test $? = 0
  help=$("$bnx" --help); check "--help lists subcommands" grep -q "compare" <<<"$help"
  help=$("$bnx" train --help); check "train --help lists config keys" grep -q "optim.lr" <<<"$help"
  echo garbage >"$work/ckpt.bnx"
  "$bnx" eval --checkpoint "$work/ckpt.bnx" >"$work/log" 2>&1; code=$?
  check "bad checkpoint exits 2" test $code = 2
  check "bad checkpoint named" grep -q "ckpt.bnx: not a bnx checkpoint" "$work/log"
  "${mpi[@]}" -n 2 "$bnx" train --config "$config" --out "$work/fresh" --resume "$work/ckpt.bnx" >"$work/log" 2>&1
  check "a bad --resume file exits 2 on every rank" test $? = 2
  check "... names it" grep -q "ckpt.bnx: not a bnx checkpoint" "$work/log"
  check "... and leaves no run folder behind" test ! -e "$work/fresh"
  # bench train --config builds the config's network (the Fashion-MNIST BN-Inception: 163,722
  # parameters, as tools/bench/bn_inception.py counts them) on input of its shape.
  out=$("$bnx" bench train --config "$here/../../configs/fashion_mnist/bn_x30.yaml" --device cpu --batch 4 --iterations 1 --threads 1 2>&1)
  check "bench train --config runs" grep -q '"model": "bn_x30".*"threads": 1, "parameters": 163722' <<<"$out"
  "$bnx" bench train --config "$work/missing.yaml" >"$work/log" 2>&1; code=$?
  check "bench train with a missing --config exits 2" test $code = 2
  ;;
sigterm)
  "$bnx" train --config "$config" --set train.steps=100000 --set checkpoint.every_steps=0 --out "$work/run" >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do [ "$(wc -l 2>/dev/null <"$work/run/metrics.jsonl" || echo 0)" -ge 5 ] && break; sleep 0.1; done
  kill -TERM $pid
  wait $pid; code=$?
  check "SIGTERM exits 75" test $code = 75
  check "SIGTERM wrote a checkpoint" ls "$work/run"/ckpt_*.bnx
  check "run.json names the signal" grep -q '"ended": "signal 15"' "$work/run/run.json"
  step=$(ls "$work/run"/ckpt_*.bnx | sed 's/.*ckpt_0*\([0-9]*\).bnx/\1/')
  "$bnx" train --config "$config" --set train.steps=$((step + 5)) --set checkpoint.every_steps=0 --out "$work/run" --resume auto >"$work/log2" 2>&1
  check "resume after SIGTERM completes" test $? = 0
  ended() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('ended', 'none'))" "$1"; }
  check "run.json says the run finished" test "$(ended "$work/run/run.json")" = "finished: train.steps"
  check "resumed from the signal checkpoint" grep -q "resumed from" "$work/log2"
  # run.json's segments: the interrupted invocation and the resumed one, each with its bnx commit.
  # The malloc the program runs on, as the dynamic linker sees it (CMakeLists.txt: tcmalloc when installed).
  malloc="libc malloc"
  # (ldd's output is captured first: under pipefail, `ldd | grep -q` fails when grep's early exit
  # makes ldd die of SIGPIPE, which CI hit on 51ee39d.)
  [[ $(ldd "$bnx") == *libtcmalloc* ]] && malloc=tcmalloc
  /usr/bin/python3 - "$work/run/run.json" "$step" "$malloc" <<'PY'
import json, re, sys
run, step = json.load(open(sys.argv[1])), int(sys.argv[2])
a, b = run["segments"]
commit = re.compile(r"^([0-9a-f]{7}(-dirty)?|unknown)$")
assert a["from_step"] == 0 and a["ended"] == "signal 15" and a["ended_at_step"] == step, a
assert b["from_step"] == step and b["ended"] == "finished: train.steps" and b["ended_at_step"] == step + 5, b
assert all(commit.match(x["bnx_commit"]) and x["world_size"] == 1 and x["started"].endswith("Z") for x in (a, b)), (a, b)
assert run["bnx_commit"] == b["bnx_commit"], run
assert a["malloc"] == b["malloc"] == sys.argv[3], (a, b, sys.argv[3])
PY
  check "run.json lists both segments (from step 0 to the signal, from $step to the end) and the malloc ($malloc)" test $? = 0
  check "the banner names the commit and the malloc" grep -qE "^bnx [0-9.]+ \(([0-9a-f]{7}(-dirty)?|unknown)\) \| LibTorch [0-9.]+, $malloc \| " "$work/log2"
  ;;
kill9)
  "$bnx" train --config "$config" --out "$work/ref" >/dev/null 2>&1
  final_params "$work/ref" "$work/ref.safetensors"
  for delay in 0.7 1.6; do
    rm -rf "$work/run"
    "$bnx" train --config "$config" --out "$work/run" >/dev/null 2>&1 &
    pid=$!
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    before=$(ls "$work/run"/ckpt_*.bnx 2>/dev/null | wc -l)
    "$bnx" train --config "$config" --out "$work/run" --resume auto >"$work/log" 2>&1
    check "resume after kill -9 at ${delay}s ($before checkpoints) completes" test $? = 0
    final_params "$work/run" "$work/run.safetensors"
    check "final parameters bit-identical after kill -9 at ${delay}s" cmp -s "$work/ref.safetensors" "$work/run.safetensors"
  done
  # The run folder's lock: a second run into a folder in use fails on every rank and writes
  # nothing (no records of its own in metrics.jsonl); once the holder is killed (-9: no clean-up)
  # the folder is free again.
  "$bnx" train --config "$config" --set train.steps=100000 --out "$work/held" >/dev/null 2>&1 &
  holder=$!
  for _ in $(seq 300); do [ -s "$work/held/metrics.jsonl" ] && break; sleep 0.1; done
  timeout 30 "${mpi[@]}" -n 2 "$bnx" train --config "$config" --set train.steps=100000 --out "$work/held" \
    --resume auto >"$work/log" 2>&1
  check "a second run into a folder in use exits 2 on every rank" test $? = 2
  check "... naming the folder and the holder's pid" grep -q "run folder $work/held is in use by bnx train (pid $holder on " "$work/log"
  check "... while the holder trains on" kill -0 $holder
  # The lock comes before the checkpoint is read: a launch whose step cap the holder's checkpoint has
  # already passed is refused as well, not told that the run is complete.
  for _ in $(seq 300); do ls "$work/held"/ckpt_*.bnx >/dev/null 2>&1 && break; sleep 0.1; done
  "$bnx" train --config "$config" --set train.steps=1 --out "$work/held" --resume auto >"$work/log" 2>&1
  check "a run into a folder in use past its cap exits 2, not 'already complete'" test $? = 2
  check "... naming the holder" grep -q "run folder $work/held is in use by bnx train (pid $holder on " "$work/log"
  kill -9 $holder
  wait $holder 2>/dev/null
  /usr/bin/python3 -c '
import json, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]  # whole lines: kill -9 may cut the last one
steps = [r["step"] for r in map(json.loads, lines) if r["kind"] == "train"]
bad = [i for i in range(1, len(steps)) if steps[i] <= steps[i - 1]]
assert not bad, "step %d after step %d (%d records out of order)" % (steps[bad[0]], steps[bad[0] - 1], len(bad))' "$work/held/metrics.jsonl"
  check "... and wrote nothing into the folder (one writer's steps in metrics.jsonl)" test $? = 0
  last=$(ls "$work/held"/ckpt_*.bnx | sort | tail -n 1 | sed 's/.*ckpt_0*\([0-9]*\).bnx/\1/')
  "$bnx" train --config "$config" --set train.steps=$((last + 2)) --out "$work/held" --resume auto >"$work/log" 2>&1
  check "after kill -9 of the holder, a run into the folder trains" test $? = 0
  ;;
rank_failure)
  start=$(date +%s)
  BNX_FAULT_RANK=1 BNX_FAULT_STEP=5 timeout 60 "${mpi[@]}" -n 2 -x BNX_FAULT_RANK -x BNX_FAULT_STEP \
    "$bnx" train --config "$config" --set train.steps=100000 --out "$work/run" >"$work/log" 2>&1
  code=$?
  elapsed=$(( $(date +%s) - start ))
  check "an exception on rank 1 fails the job" test $code != 0 -a $code != 124
  check "the job ends within 10 s of the failure (took ${elapsed}s)" test $elapsed -le 15
  check "the message names rank and cause" grep -q "error on rank 1: injected fault at step 5" "$work/log"
  # Death of one rank (kill -9): mpirun ends the others.
  timeout 60 "${mpi[@]}" -n 2 "$bnx" train --config "$config" --set train.steps=100000 --out "$work/run2" >"$work/log2" 2>&1 &
  launcher=$!
  for _ in $(seq 100); do [ -s "$work/run2/metrics.jsonl" ] && break; sleep 0.1; done
  victim=$(pgrep -f "train --config $config --set train.steps=100000 --out $work/run2" | tail -n 1)
  kill -9 "$victim"
  killed=$(date +%s)
  wait $launcher; code=$?
  check "killing one rank ends the job (code $code)" test $code != 0 -a $code != 124
  check "within 10 s" test $(( $(date +%s) - killed )) -le 10
  ;;
resize)
  # 4 ranks to the end, checkpoint at step 30; resume that checkpoint on 1, 3 and 5 ranks (the
  # global batch of 24 splits into shards of 8 and of 5, 5, 5, 5, 4).
  "${mpi[@]}" -n 4 "$bnx" train --config "$config" --out "$work/two" >/dev/null 2>&1
  check "4-rank run" test $? = 0
  for n in 1 3 5; do
    mkdir -p "$work/on$n"
    "${mpi[@]}" -n $n "$bnx" train --config "$config" --out "$work/on$n" --resume "$work/two/ckpt_00000030.bnx" >"$work/log$n" 2>&1
    check "resume on $n rank(s)" test $? = 0
    /usr/bin/python3 - "$work/two/metrics.jsonl" "$work/on$n/metrics.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
ref = {(r["kind"], r["step"]): r["loss"] for r in a}
got = [(r["kind"], r["step"], r["loss"]) for r in b if r["step"] > 30]
assert len(got) >= 30, got
worst = max(abs(l - ref[(k, s)]) / abs(ref[(k, s)]) for k, s, l in got)
print("max relative loss difference after resume:", worst)
sys.exit(0 if worst <= 1e-6 else 1)
PY
    check "losses after resuming on $n rank(s) match the 4-rank run (1e-6)" test $? = 0
  done
  ;;
eval)
  "$bnx" train --config "$config" --out "$work/run" >/dev/null 2>&1
  last=$(ls "$work/run"/ckpt_*.bnx | sort | tail -n 1)
  for n in 1 2; do
    "${mpi[@]}" -n $n "$bnx" eval --checkpoint "$last" >"$work/eval$n.json" 2>"$work/err"
    check "bnx eval on $n rank(s)" test $? = 0
    /usr/bin/python3 - "$work/run/metrics.jsonl" "$work/eval$n.json" <<'PY'
import json, sys
evals = [json.loads(l) for l in open(sys.argv[1]) if '"eval"' in l]
got = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
ref = evals[-1]
ok = got["count"] == ref["count"] == 10000 and abs(got["top1"] - ref["top1"]) < 1e-12 and abs(got["loss"] - ref["loss"]) < 1e-6 * ref["loss"]
print("trainer:", ref["top1"], ref["loss"], "eval:", got["top1"], got["loss"])
sys.exit(0 if ok else 1)
PY
    check "bnx eval on $n rank(s) equals the trainer's last evaluation" test $? = 0
  done
  "$bnx" eval --checkpoint "$last" --ten-crop >"$work/ten.json" 2>"$work/err"
  check "bnx eval --ten-crop" test $? = 0
  /usr/bin/python3 -c "import json,sys; r=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); sys.exit(0 if r['crops'] == 10 and r['count'] == 10000 and r['top1'] > 0.5 else 1)" "$work/ten.json"
  check "ten-crop evaluation counts every example once with 10 crops" test $? = 0
  "$bnx" eval --checkpoint "$last" --recompute-bn 20 --save "$work/recal.bnx" >"$work/recal.log" 2>&1
  check "recompute-bn runs and saves" test -s "$work/recal.bnx"
  "$bnx" export --checkpoint "$last" --out "$work/m.safetensors" --fold-bn >/dev/null
  check "export --fold-bn" test -s "$work/m.safetensors"
  ;;
reproduce)
  # A tiny end-to-end comparison: a non-BN and a BN variant, then bnx compare with table and plot.
  "$bnx" train --config "$config" --set model.norm=none --set train.steps=40 --set eval.every_steps=10 --out "$work/plain" >/dev/null 2>&1
  check "non-BN variant trains" test $? = 0
  "$bnx" train --config "$config" --set train.steps=40 --set eval.every_steps=10 --out "$work/bn" >/dev/null 2>&1
  check "BN variant trains" test $? = 0
  "$bnx" compare "$work/plain" "$work/bn" --markdown "$work/table.md" --svg "$work/curves.svg" >"$work/table.txt"
  check "compare runs" test $? = 0
  check "table names the baseline" grep -q "plain (baseline)" "$work/table.txt"
  check "markdown table has a header and both runs" test "$(grep -c '^| ' "$work/table.md")" = 3
  /usr/bin/python3 -c "import sys, xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); n=sum(1 for e in r.iter('{http://www.w3.org/2000/svg}polyline')); sys.exit(0 if n == 2 else 1)" "$work/curves.svg"
  check "the SVG parses as XML and has one curve per run" test $? = 0
  "$bnx" compare "$work/nowhere" >/dev/null 2>"$work/err"; code=$?
  check "missing metrics file exits 2" test $code = 2
  check "missing metrics file is named" grep -q "nowhere: cannot read" "$work/err"
  ;;
reproduce_lanes)
  # tools/reproduce.sh's bookkeeping on tiny configs: a BN seed > 1 needs the baseline's target
  # (refused, exit 2, without --target); --target stops it there, a rerun skips it, a higher target
  # continues it from its checkpoint; a diverging run is recorded and the lane goes on; the 5x-rate
  # baseline stops at --target and continues without it; a committed run is copied, and continued
  # only where its snapshot has a checkpoint.
  repo=$(cd "$here/../.." && pwd)
  mkdir -p "$work/cfg"
  sed -e 's/^  steps: [0-9]* .*/  steps: 60/' -e 's/lr: 0.0015 .*/lr: 10/' "$repo/configs/fashion_mnist/inception.yaml" >"$work/cfg/inception_x5.yaml"
  sed -e 's/steps: 50000 .*/steps: 400/' -e 's/every_steps: 1000/every_steps: 50/' -e 's/every_steps: 10000/every_steps: 100/' \
    "$repo/configs/fashion_mnist/mlp_bn.yaml" >"$work/cfg/bn_x5.yaml"
  lanes() { BNX="$bnx" bash "$repo/tools/reproduce.sh" --no-build --configs "$work/cfg" --out "$work/out" "$@" >"$work/lane.log" 2>&1; }
  best() { /usr/bin/python3 -c "import json,sys; print(max(json.loads(l)['top1'] for l in open(sys.argv[1]) if '\"eval\"' in l))" "$work/out/$1/metrics.jsonl"; }
  lanes --only "bn_x5:2"; code=$?
  check "a BN seed > 1 without the baselines or --target exits 2" test $code = 2
  check "... naming the missing baseline" grep -q "inception_s1 has not finished" "$work/lane.log"
  lanes --only "inception_x5:1 bn_x5:2" --target 0.6; code=$?
  check "a lane with a diverging run finishes (exit $code)" test $code = 0
  check "the divergence is recorded in run.json" grep -q '"ended": "diverged: non-finite loss' "$work/out/inception_x5_s1/run.json"
  check "the lane went on to the next run" grep -q "reached the target 0.6" "$work/out/bn_x5_s2/run.json"
  first=$(best bn_x5_s2)
  check "the run stopped at its first evaluation at or above 0.6 ($first)" /usr/bin/python3 -c "import sys; sys.exit(0 if 0.6 <= float(sys.argv[1]) else 1)" "$first"
  lanes --only "inception_x5:1 bn_x5:2" --target 0.6
  check "a rerun skips the diverged run" grep -q "inception_x5, seed 1: finished (diverged" "$work/lane.log"
  check "a rerun skips the run that reached its target" grep -q "bn_x5, seed 2: reached 0.6" "$work/lane.log"
  lanes --only "bn_x5:2" --target 0.75
  check "a higher target resumes the run" grep -q "resumed from .*ckpt_" "$work/lane.log"
  check "... and trains on to it" /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.75 else 1)" "$(best bn_x5_s2)"
  # A seed > 1 that plateaus below its target ends there, and a rerun skips it: a flat curve (an
  # MLP without BN whose updates round away) plateaus after 6 evaluations in each of its last thirds.
  sed -e 's/steps: 50000 .*/steps: 2000/' -e 's/every_steps: 1000/every_steps: 10/' -e 's/norm: sync .*/norm: none/' \
    -e 's/lr: 0.1/lr: 0.000000001/' -e 's/^  batch_size: 2000 .*/&\n  stop_at_plateau: true\n  plateau_min_steps: 0/' \
    "$repo/configs/fashion_mnist/mlp_bn.yaml" >"$work/cfg/bn_x30.yaml"
  lanes --only "bn_x30:2" --target 0.99; code=$?
  check "a lane whose run plateaus below the target finishes (exit $code)" test $code = 0
  check "the run ended on its plateau" grep -q '"ended": "plateau' "$work/out/bn_x30_s2/run.json"
  check "... long before its cap" /usr/bin/python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))['ended_at_step'] < 400 else 1)" "$work/out/bn_x30_s2/run.json"
  lanes --only "bn_x30:2" --target 0.99
  check "a rerun skips the run that plateaued below its target" grep -q "bn_x30, seed 2: finished below 0.99 (plateau" "$work/lane.log"
  # A seed-1 run ends at its plateau or its cap (train.steps); a cap raised later continues it.
  lanes --only "bn_x5:1"
  check "a run ends at its cap" grep -q '"ended": "finished: train.steps"' "$work/out/bn_x5_s1/run.json"
  sed -i 's/^  steps: 400$/  steps: 500/' "$work/cfg/bn_x5.yaml"
  lanes --only "bn_x5:1"
  check "a raised cap continues the run from its last checkpoint" grep -q "resumed from .*ckpt_00000400" "$work/lane.log"
  check "... to the new cap" grep -q '"ended_at_step": 500' "$work/out/bn_x5_s1/run.json"
  lanes --only "bn_x5:1"; code=$?
  check "a rerun at the same cap trains nothing (exit $code)" grep -q "already complete (500 steps)" "$work/lane.log"
  # The 5x-rate baseline stops at --target (how soon a faster baseline gets there); a call without
  # --target continues it from there to its plateau or cap.
  cp "$work/cfg/bn_x5.yaml" "$work/cfg/inception_x5.yaml"
  rm -rf "$work/out/inception_x5_s1"
  lanes --only "inception_x5:1" --target 0.6
  check "the 5x-rate baseline with --target stops at it" grep -qE '"ended": "top-1 [0-9.]+ reached the target 0.6"' "$work/out/inception_x5_s1/run.json"
  lanes --only "inception_x5:1"
  check "without --target it continues from its checkpoint" grep -q "resumed from .*ckpt_" "$work/lane.log"
  check "... to its plateau or cap" grep -qE '"ended": "(finished: train.steps|plateau)' "$work/out/inception_x5_s1/run.json"
  # Full mode on the Fashion-MNIST configs starts a missing run folder as a copy of its committed
  # snapshot and says whether a checkpoint continues it (these two reached the target already, so
  # nothing trains).
  for run in bn_x30_s2 bn_x30_s3; do
    mkdir -p "$work/committed/$run"
    echo '{"kind":"eval","step":100,"top1":0.5,"wall_time":1}' >"$work/committed/$run/metrics.jsonl"
    echo '{"ended":"top-1 0.5 reached the target 0.5"}' >"$work/committed/$run/run.json"
  done
  touch "$work/committed/bn_x30_s3/ckpt_00000100.bnx"
  BNX="$bnx" bash "$repo/tools/reproduce.sh" --no-build --committed "$work/committed" --out "$work/copies" \
    --only "bn_x30:2 bn_x30:3" --target 0.4 >"$work/lane.log" 2>&1
  check "a committed run without a checkpoint: said to train again from step 0" grep -q "bn_x30, seed 2: the committed run .* has no checkpoint: if it goes on, it trains again from step 0" "$work/lane.log"
  check "a committed run with one: continued" grep -q "bn_x30, seed 3: continuing the committed run" "$work/lane.log"
  check "... both copied and found at the target" test "$(grep -c "reached 0.4" "$work/lane.log")" = 2 -a -s "$work/copies/bn_x30_s2/metrics.jsonl"
  ;;
reproduce_quick)
  # tools/reproduce.sh --quick (the README main job) on stand-ins: an MLP config as BN-x30, trained
  # live for its 2500 steps, compared with committed MLP runs as the baseline seeds and a BN run.
  # The baseline is every finished seed, or while none has finished the most advanced one; a
  # warning names every committed run not done: a baseline seed still training, a BN run not started,
  # still training below the baseline's best, or stopped at a target below it; a note names a BN
  # run past the baseline's best that trains on to its plateau.
  repo=$(cd "$here/../.." && pwd)
  mlp=$repo/configs/fashion_mnist/mlp_bn.yaml
  c=$work/committed
  mkdir -p "$work/cfg" "$c"
  sed -e 's/every_steps: 1000/every_steps: 500/' "$mlp" >"$work/cfg/bn_x30.yaml"
  short() {  # short NAME STEPS [--set ...]: a committed run that ended at its cap
    "$bnx" train --config "$mlp" --set train.steps="$2" --set eval.every_steps=50 --out "$c/$1" "${@:3}" >/dev/null 2>&1
  }
  short inception_s1 200 --set model.norm=none
  short inception_s2 300 --set model.norm=none --set train.seed=2
  short bn_x5_s1 200
  check "the committed stand-ins trained" test -s "$c/inception_s1/run.json" -a -s "$c/inception_s2/run.json" -a -s "$c/bn_x5_s1/run.json"
  ended_as() {  # ended_as DIR [HOW]: sets (or without HOW removes) run.json's "ended"
    /usr/bin/python3 -c "import json,sys; p=sys.argv[1]+'/run.json'; r=json.load(open(p)); r.pop('ended', None); r.update({'ended': sys.argv[2]} if len(sys.argv) > 2 else {}); json.dump(r, open(p, 'w'))" "$@"
  }
  quick() { BNX="$bnx" bash "$repo/tools/reproduce.sh" --quick --no-build --configs "$work/cfg" --committed "$c" --out "$work/out" --variants bn_x5 "$@" >"$work/quick.log" 2>&1; }
  ended_as "$c/inception_s2"
  quick; code=$?
  check "quick mode runs (exit $code, see $work/quick.log)" test $code = 0
  check "the live run trained its 2500 steps" grep -q '"ended_at_step": 2500' "$work/out/bn_x30_s1/run.json"
  check "the table names the live run" grep -q "bn_x30" "$work/out/table.md"
  check "a finished seed is the baseline, not a more advanced running one" grep -qx "== baseline runs: $c/inception_s1" "$work/quick.log"
  check "a running baseline seed warns" grep -q "^WARNING: committed runs still in progress: inception_s2, bn_x5_s2 (not started), bn_x5_s3 (not started)\." "$work/quick.log"
  ended_as "$c/inception_s1"
  quick
  check "while no seed has finished, the most advanced one is the baseline" grep -qx "== baseline runs: $c/inception_s2" "$work/quick.log"
  ended_as "$c/inception_s1" "plateau: stand-in"
  ended_as "$c/inception_s2" "finished: train.steps"
  quick --seeds 1
  check "every finished seed is a baseline" grep -qx "== baseline runs: $c/inception_s1 $c/inception_s2" "$work/quick.log"
  check "no warning once every run has finished" test "$(grep -c WARNING "$work/quick.log")" = 0
  # A BN run past the baseline's best and still training (to its plateau): a note, no warning.
  ended_as "$c/bn_x5_s1"
  quick --seeds 1
  check "a BN run past the target, still training, gets a note" grep -q "^NOTE: past the baseline's best and training on (to their plateau or step cap): bn_x5_s1\." "$work/quick.log"
  check "... and no warning" test "$(grep -c WARNING "$work/quick.log")" = 0
  ended_as "$c/bn_x5_s1" "plateau: stand-in"
  # A BN seed stopped at a lower target warns (its stand-in: baseline seed 1 to its first evaluation,
  # below that seed's best, as the MLP without BN rises over its 200 steps).
  mkdir -p "$c/bn_x5_s2"
  cp "$c/inception_s1/run.json" "$c/inception_s1/config.yaml" "$c/bn_x5_s2/"
  /usr/bin/python3 -c 'import json,sys; [print(l, end="") for l in open(sys.argv[1]) if json.loads(l).get("step", 0) <= 50]' "$c/inception_s1/metrics.jsonl" >"$c/bn_x5_s2/metrics.jsonl"
  ended_as "$c/bn_x5_s2" "top-1 0.1 reached the target 0.1"
  quick --seeds "1 2"
  check "a BN seed stopped below the baseline's best warns" grep -q "^WARNING: committed runs still in progress: bn_x5_s2\." "$work/quick.log"
  ;;
snapshot_runs)
  # tools/snapshot-runs.py on hand-made runs: its plateau-rule column (a Python copy of
  # train/eval_schedule.cpp's rule) against the hand-computed curves of tests/eval_schedule_test.cpp,
  # and which files it copies (the newest checkpoint only of a run unfinished or stopped at a target
  # or its step cap, which can be continued; none of a run ended at its plateau).
  repo=$(cd "$here/../.." && pwd)
  runs=$work/runs
  curve() {  # curve NAME "STEP:TOP1 ..." [ENDED]: eval records, a run.json, two checkpoints
    mkdir -p "$runs/$1"
    for e in $2; do printf '{"kind":"eval","step":%d,"top1":%s,"wall_time":%d}\n' "${e%%:*}" "${e##*:}" "${e%%:*}"; done >"$runs/$1/metrics.jsonl"
    printf '{"ended":"%s","segments":[{"bnx_commit":"abc1234","from_step":0}]}\n' "${3:-}" >"$runs/$1/run.json"
    [ -n "${3:-}" ] || sed -i 's/"ended":"",//' "$runs/$1/run.json"
    touch "$runs/$1/ckpt_00000800.bnx" "$runs/$1/ckpt_00000900.bnx"
  }
  flat="100:0.70 200:0.78 300:0.79 400:0.81 500:0.80 600:0.80 700:0.80 800:0.80 900:0.80"
  curve flat "$flat"
  curve new_best "$flat 1000:0.82"
  curve slow "100:0.50 200:0.90 300:0.60 400:0.61 500:0.62 600:0.63 700:0.64 800:0.65 900:0.66"
  curve tie "100:0.70 200:0.78 300:0.79 400:0.81 500:0.80 600:0.80 700:0.81 800:0.80 900:0.80"
  curve done "$flat" "plateau: no new best"
  curve at_target "$flat" "top-1 0.8 reached the target 0.8"
  curve at_cap "$flat" "finished: train.steps"
  # A run committed by an earlier snapshot and not continued on this machine keeps its row.
  curve earlier "$flat" "reached the target 0.8"
  mkdir -p "$work/out" && mv "$runs/earlier" "$work/out/"
  /usr/bin/python3 "$repo/tools/snapshot-runs.py" "$runs" --out "$work/out" >"$work/snap.log" 2>&1
  check "snapshot-runs.py runs (see $work/snap.log)" test $? = 0
  row() { grep "^| $1 |" "$work/out/README.md"; }
  # At 900: middle third (300, 600] mean 0.80333, last (600, 900] 0.80: gain -0.33 pt; best 0.81 at 400.
  check "flat: gain and best as computed by hand" grep -q "| running | .* | mean gain -0.33 pt, best before 2s/3 = 600 | abc1234 from 0 |" <<<"$(row flat)"
  # At 1000: (333, 666] = {400, 500, 600} mean 0.80333, (666, 1000] mean 0.805: +0.17 pt; best at 1000.
  check "new best: gain and best as computed by hand" grep -q "| mean gain 0.17 pt, best after 2s/3 = 666 |" <<<"$(row new_best)"
  # A tie with the best in the last third is no new best (the C++ rule keeps the first): gain 0.00 pt.
  check "tie: the first of equal bests" grep -q "| 81.00% | 400 | running | .* | mean gain 0.00 pt, best before 2s/3 = 600 |" <<<"$(row tie)"
  # At 900: 0.65 - 0.62 = 3.00 pt; best 0.90 at 200.
  check "slow: gain as computed by hand" grep -q "| 90.00% | 200 | running | .* | mean gain 3.00 pt, best before 2s/3 = 600 |" <<<"$(row slow)"
  check "a finished run: no rule column" grep -q "| plateau | .* | - | abc1234 from 0 |" <<<"$(row done)"
  check "an unfinished run: its newest checkpoint only" test -e "$work/out/flat/ckpt_00000900.bnx" -a ! -e "$work/out/flat/ckpt_00000800.bnx"
  check "a run at its plateau: no checkpoint" test -z "$(ls "$work/out/done" | grep ckpt_)"
  check "a run stopped at a target: its newest checkpoint" test "$(ls "$work/out/at_target" | grep ckpt_)" = ckpt_00000900.bnx
  check "a run at its step cap: its newest checkpoint" test "$(ls "$work/out/at_cap" | grep ckpt_)" = ckpt_00000900.bnx
  check "metrics, run.json copied" test -s "$work/out/slow/metrics.jsonl" -a -s "$work/out/slow/run.json"
  check "an earlier snapshot's run keeps its row" grep -q "| 81.00% | 400 | target | .* | - | abc1234 from 0 |" <<<"$(row earlier)"
  # --table: the same rows of the committed folders (several), without the builds, copying nothing.
  table=$(/usr/bin/python3 "$repo/tools/snapshot-runs.py" --table "$work/out" "$runs" 2>&1)
  check "--table: a row, steps with thousands separators" grep -qxF "| new_best | 1,000 | 82.00% | 1,000 | running | 0.28 | mean gain 0.17 pt, best after 2s/3 = 666 |" <<<"$table"
  check "--table: a step-cap run" grep -qF "| at_cap | 900 | 81.00% | 400 | step cap | 0.25 | - |" <<<"$table"
  check "--table: each folder's runs" test "$(grep -c '^| flat |' <<<"$table")" = 2
  mkdir -p "$work/none"
  out=$(/usr/bin/python3 "$repo/tools/snapshot-runs.py" --table "$work/none" 2>&1); code=$?
  check "--table of a folder without runs exits 2" test $code = 2
  check "... and names it" grep -q "none: no run folders" <<<"$out"
  ;;
doc_tables)
  # tools/doc-tables.py: each block between its markers becomes its command's output (stdout, or the
  # file {md} names), the text around it stays; --check reports a stale block (exit 1) and changes
  # nothing; a failing command or an unmatched marker leaves the doc as it was.
  tool=(/usr/bin/python3 "$here/../../tools/doc-tables.py" --root "$work")
  printf '%s\n' intro "<!-- generated by: printf '| a | b |\\n' -->" "| old |" "<!-- end generated -->" middle \
    "<!-- generated by: printf '| c |\\n' >{md}; echo not the table -->" "<!-- end generated -->" end >"$work/doc.md"
  printf '%s\n' intro "<!-- generated by: printf '| a | b |\\n' -->" "| a | b |" "<!-- end generated -->" middle \
    "<!-- generated by: printf '| c |\\n' >{md}; echo not the table -->" "| c |" "<!-- end generated -->" end >"$work/want.md"
  cp "$work/doc.md" "$work/before.md"
  out=$("${tool[@]}" --check "$work/doc.md" 2>&1); code=$?
  check "--check: stale blocks exit 1" test $code = 1
  check "--check: names both blocks" test "$(grep -c ': stale: ' <<<"$out")" = 2
  check "--check: changes nothing" cmp -s "$work/doc.md" "$work/before.md"
  "${tool[@]}" "$work/doc.md" >/dev/null 2>&1
  check "rewrite: exit 0" test $? = 0
  check "rewrite: the tables as their commands print them, the rest unchanged" cmp "$work/doc.md" "$work/want.md"
  "${tool[@]}" --check "$work/doc.md" >/dev/null 2>&1
  check "--check after the rewrite: exit 0" test $? = 0
  cp "$work/want.md" "$work/fail.md"
  printf '%s\n' "<!-- generated by: echo partial; exit 3 -->" "| kept |" "<!-- end generated -->" >>"$work/fail.md"
  cp "$work/fail.md" "$work/fail_before.md"
  out=$("${tool[@]}" "$work/fail.md" 2>&1); code=$?
  check "a failing command exits 1" test $code = 1
  check "... names the doc and the command" grep -qF "fail.md: \`echo partial; exit 3\` exited 3" <<<"$out"
  check "... and leaves the doc as it was" cmp -s "$work/fail.md" "$work/fail_before.md"
  printf '%s\n' "<!-- generated by: echo x -->" "| x |" >"$work/open.md"
  "${tool[@]}" "$work/open.md" >/dev/null 2>&1
  check "an unmatched marker exits 2" test $? = 2
  ;;
cxx20_check)
  # tools/check-cxx20.py on a hand-made compile database: bad.cpp is C++17 but not C++20 (a u8 literal
  # is char8_t in C++20), ok_a.cpp and ok_b.cpp each compile as C++20 but define the same internal
  # name, so their shared batch fails and each is then checked alone; solo.cpp has flags of its own.
  cd "$work" || exit 1
  printf 'namespace { int helper() { return 1; } }\nint a() { return helper(); }\n' >ok_a.cpp
  printf 'namespace { int helper() { return 2; } }\nint b() { return helper(); }\n' >ok_b.cpp
  printf 'const char* s = u8"x";\nint c() { return s[0]; }\n' >bad.cpp
  printf 'int d() { return SOLO; }\n' >solo.cpp
  db() {  # db SOURCE... : compile_commands.json of C++17 commands (solo.cpp with -DSOLO=4)
    local sep="" f flags
    printf '['
    for f in "$@"; do
      flags="-std=c++17"; [ "$f" = solo.cpp ] && flags="-DSOLO=4 -std=c++17"
      printf '%s{"directory": "%s", "file": "%s/%s", "command": "c++ %s -o %s.o -c %s/%s"}' \
        "$sep" "$work" "$work" "$f" "$flags" "$f" "$work" "$f"
      sep=","
    done
    printf ']\n'
  }
  for f in ok_a.cpp ok_b.cpp bad.cpp; do check "$f compiles as C++17 (the case's premise)" c++ -std=c++17 -fsyntax-only "$f"; done
  check "bad.cpp does not compile as C++20 (the case's premise)" bash -c '! c++ -std=c++20 -fsyntax-only bad.cpp 2>/dev/null'
  tool=(/usr/bin/python3 "$here/../../tools/check-cxx20.py" "$work")
  db ok_a.cpp ok_b.cpp bad.cpp solo.cpp >compile_commands.json
  out=$("${tool[@]}" 2>&1); code=$?
  check "a source that is not C++20 exits 1" test $code = 1
  check "... names it" grep -qx "FAILED bad.cpp" <<<"$out"
  check "... and only it" test "$(grep -c '^FAILED' <<<"$out")" = 1
  check "... counts the others as compiling, the failed batch rechecked" \
    grep -q "3 of 4 sources compile as C++20 (2 compiler runs, 1 batches rechecked" <<<"$out"
  db ok_a.cpp ok_b.cpp solo.cpp >compile_commands.json
  out=$("${tool[@]}" 2>&1); code=$?
  check "a batch that fails only for a name two sources share passes, exit 0" test $code = 0
  check "... after checking them alone, and says why" grep -q "rechecked alone, as their batch failed (.*redefinition.*): ok_a.cpp ok_b.cpp" <<<"$out"
  check "... and counts them" grep -q "3 of 3 sources compile as C++20 (2 compiler runs, 1 batches rechecked" <<<"$out"
  out=$("${tool[@]}" --batch 1 2>&1); code=$?
  check "--batch 1: each source alone, exit 0" test $code = 0
  check "... three compiler runs" grep -q "3 of 3 sources compile as C++20 (3 compiler runs, 0 batches" <<<"$out"
  sed -i 's/c++17/c++20/g' compile_commands.json
  out=$("${tool[@]}" 2>&1); code=$?
  check "a C++20 build: nothing to check, exit 0" test $code = 0
  check "... and says so" grep -q "C++20 build already" <<<"$out"
  out=$("${tool[@]}" --batch 0 2>&1); code=$?
  check "--batch 0 exits 2" test $code = 2
  check "... and names the option" grep -q -- "--batch and --jobs must be at least 1" <<<"$out"
  rm compile_commands.json
  out=$("${tool[@]}" 2>&1); code=$?
  check "no compile_commands.json exits 2" test $code = 2
  check "... and names the file" grep -q "compile_commands.json: no such file" <<<"$out"
  ;;
fit_table)
  # tools/fit-table.py on a hand-made run: best and lowest-loss evaluations, and the means over the
  # last 250 steps (evaluations at 200-400, training records at 200-400), computed by hand.
  mkdir -p "$work/r" "$work/empty"
  for e in 100:0.80:0.50 200:0.85:0.30 300:0.84:0.40 400:0.85:0.45; do
    IFS=: read -r s a l <<<"$e"
    printf '{"kind":"eval","step":%d,"top1":%s,"loss":%s}\n' "$s" "$a" "$l"
  done >"$work/r/metrics.jsonl"
  for e in 100:0.70:0.80 200:0.90:0.30 300:0.95:0.20 400:0.99:0.10; do
    IFS=: read -r s a l <<<"$e"
    printf '{"kind":"train","step":%d,"top1":%s,"loss":%s}\n' "$s" "$a" "$l"
  done >>"$work/r/metrics.jsonl"
  out=$(/usr/bin/python3 "$here/../../tools/fit-table.py" "$work/r" --window 250 2>&1)
  check "fit-table.py: the row as computed by hand" grep -qF "| r | 85.00% (200) | 0.300 (200) | 400 | 84.67% | 0.383 | 94.67% | 0.200 |" <<<"$out"
  echo '{"kind":"train","step":1,"top1":0.5,"loss":1}' >"$work/empty/metrics.jsonl"
  out=$(/usr/bin/python3 "$here/../../tools/fit-table.py" "$work/empty" 2>&1); code=$?
  check "fit-table.py: a run without evaluations exits 2" test $code = 2
  check "... and names its file" grep -q "empty/metrics.jsonl: no eval records" <<<"$out"
  ;;
imagenet)
  # Every ImageNet config trains, unchanged except data.root, on a JPEG folder at 224 px (Fashion-
  # MNIST converted): started, stopped by SIGTERM once training began, so exactly one step is
  # trained and checkpointed (the configs' own lengths are epochs of ImageNet). One exception:
  # resnet50.yaml's global batch of 256 (8 GPUs x 32) needs about 20 GB for one CPU step, more
  # than the CI machine has, so it trains one step at 32.
  "$bnx" convert --out "$work/jpeg" --size 224 --limit 64 >/dev/null
  check "convert to a 224 px JPEG folder" test -d "$work/jpeg/train"
  for config_file in "$here"/../../configs/imagenet/*.yaml; do
    name=$(basename "$config_file" .yaml)
    extra=()
    [ "$name" = resnet50 ] && extra=(--set train.batch_size=32)
    "$bnx" train --config "$config_file" --set data.root="$work/jpeg" "${extra[@]}" --out "$work/$name" >"$work/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do grep -q "^bnx .* | " "$work/$name.log" 2>/dev/null && break; sleep 0.1; done
    kill -TERM $pid
    wait $pid; code=$?
    check "$name trains on JPEGs (exit $code, see $work/$name.log)" test $code = 75 -a -s "$work/$name/ckpt_00000001.bnx"
  done
  ;;
*)
  echo "unknown case $case_name"
  exit 2
  ;;
esac
finish
