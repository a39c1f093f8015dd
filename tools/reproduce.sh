#!/usr/bin/env bash
# Reproduces the paper's BN-vs-baseline experiment (Ioffe & Szegedy 2015, Section 4.2, Figure 3) on
# Fashion-MNIST, trains each run to its stopping rule, skipping finished runs and resuming
# interrupted ones (--resume auto), then prints the Figure 3 table over seeds and draws the curves.
#
#   tools/reproduce.sh --quick   the README's main job: BN-x30 (seed 1) trained live for 2500 steps,
#                                compared with the committed runs of docs/reproduction/runs (labelled
#                                as such); about 3 minutes after the build on 2 cores (README)
#   tools/reproduce.sh           the full experiment (hours): the baseline (seeds 1, 2) to its
#                                plateau; the 5x-rate baseline to the baseline's best accuracy; each
#                                BN variant's seed 1 to its plateau, seeds 2 and 3 to the baseline's
#                                best (or to their own plateau, should it come first); last, the
#                                5x-rate baseline on to its plateau
#   tools/reproduce.sh --configs configs/imagenet --launcher "mpirun -np 8" --seeds 1   ImageNet
#
# Options: --out DIR (default runs/reproduce), --variants "a b ...", --seeds "1 2 3", --set key=value
# (every run), --threads N (per run; 1 makes runs comparable across machines), --no-build,
# --only "NAME:SEED ..." (just these runs, in this order: two invocations with disjoint lists share
# a 2-core machine as two lanes; a BN run with seed > 1 needs the finished baseline seeds, or
# --target), --target T (top-1 in [0, 1] for BN seeds > 1 while the baselines still run: set it
# above the baseline's expected best; a later call with the final target continues any run that
# stopped below it, except one that plateaued there, and a run past it is done whatever target it
# was given; with --target the 5x-rate baseline also stops at T, and a call without it continues
# that run to its plateau), --committed DIR (the committed runs to continue and, with --quick, to compare
# against; default docs/reproduction/runs).
# Full mode continues the committed runs (Fashion-MNIST configs only; a run folder missing from
# --out starts as a copy of its snapshot, resumed from its checkpoint, or trained again from step 0
# where the snapshot has none, as for the runs stopped at a target before 2026-11-30's fix of
# tools/snapshot-runs.py) and skips finished runs (run.json
# "ended": a plateau, the target accuracy, or a divergence, which does not stop the rest; a run that
# ended at its train.steps cap continues if the cap has been raised since).
set -euo pipefail
cd "$(dirname "$0")/.."
configs=configs/fashion_mnist
baseline=inception
variants="bn_baseline bn_x5 bn_x30 bn_x5_sigmoid"
seeds="1 2 3"
quick=0
out=""
launcher=""
build=1
threads=1
only=""
target=""
committed=docs/reproduction/runs
sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; shift ;;
    --configs) configs=$2; shift 2 ;;
    --variants) variants=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --launcher) launcher=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --only) only=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --committed) committed=$2; shift 2 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "reproduce.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
out=${out:-runs/reproduce}
bnx=${BNX:-build/bnx}  # BNX: another bnx binary (the tests' build)
if [ $build = 1 ]; then
  tools/setup.sh
  tools/build.sh bnx  # the program only: the tests are tools/test.sh's
fi
mkdir -p "$out"
ended() {  # ended DIR: how the run in DIR ended, empty while it is unfinished or was interrupted
  [ -f "$1/run.json" ] && python3 -c '
import json, sys
e = json.load(open(sys.argv[1])).get("ended", "")
print("" if e.startswith(("signal", "stopped")) else e)' "$1/run.json"
}
best_of_run() {  # best_of_run DIR: its best evaluation accuracy (0 without one)
  [ -f "$1/metrics.jsonl" ] && python3 -c '
import json, sys
print(max([json.loads(l)["top1"] for l in open(sys.argv[1]) if "\"eval\"" in l] or [0]))' "$1/metrics.jsonl" || echo 0
}
run() {  # run NAME SEED [TARGET]: train configs/NAME.yaml into $out/NAME_sSEED (resumable): to its
  # plateau, or with TARGET until its top-1 reaches TARGET (done once it has, whatever it ended on)
  # or it plateaus below TARGET (done too: a seed that never reaches the baseline's best is a result,
  # not a reason to train to the cap)
  local name=$1 seed=$2 to=${3:-}
  local dir="$out/${name}_s$seed"
  local extra=() end
  [ -n "$to" ] && extra=(--set eval.stop_at_top1="$to")
  if [ $quick = 0 ]; then
    if [ ! -f "$dir/metrics.jsonl" ] && [ -d "$committed/${name}_s$seed" ] && [ "$configs" -ef configs/fashion_mnist ]; then
      mkdir -p "$dir"
      cp -r "$committed/${name}_s$seed/." "$dir/"
      if compgen -G "$dir/ckpt_*.bnx" >/dev/null; then
        echo "== $name, seed $seed: continuing the committed run ($committed/${name}_s$seed)"
      else  # bnx keeps the copied record under a dated name should it train the run again
        echo "== $name, seed $seed: the committed run ($committed/${name}_s$seed) has no checkpoint: if it goes on, it trains again from step 0"
      fi
    fi
    end=$(ended "$dir" || true)
    if [ -n "$to" ]; then
      if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$(best_of_run "$dir")" "$to"; then
        echo "== $name, seed $seed: reached $to"
        return
      fi
      case "$end" in
        plateau*) echo "== $name, seed $seed: finished below $to ($end)"; return ;;
        diverged*) echo "== $name, seed $seed: finished ($end)"; return ;;
      esac
    else
      # A run that ended at its cap goes back to bnx: it continues if the config's cap was raised
      # and otherwise says the run is complete. One stopped at a target goes on to its plateau.
      if [ -n "$end" ] && [ "$end" != "finished: train.steps" ] && [[ "$end" != *"reached the target"* ]]; then
        echo "== $name, seed $seed: finished ($end)"
        return
      fi
    fi
  fi
  echo "== $name, seed $seed"
  # shellcheck disable=SC2086
  $launcher "$bnx" train --config "$configs/$name.yaml" --out "$out/${name}_s$seed" --resume auto \
    --set train.seed="$seed" --set train.threads="$threads" "${sets[@]}" "${extra[@]}" "${quick_sets[@]}" || {
    local code=$?
    case "$(ended "$dir")" in  # a divergence is a result (the paper's 5x-rate Inception diverged)
      diverged:*) echo "== $name, seed $seed: $(ended "$dir")" ;;
      *) exit $code ;;
    esac
  }
}
best_of() {  # best_of RUN...: the lowest of the runs' best evaluation accuracies
  python3 -c '
import json, sys
best = [max(json.loads(l)["top1"] for l in open(p + "/metrics.jsonl") if "\"eval\"" in l) for p in sys.argv[1:]]
print(min(best))' "$@"
}

quick_sets=()
if [ $quick = 1 ]; then
  quick_sets=(--set train.steps=2500 --set eval.stop_at_plateau=false)
  run bn_x30 1
  echo
  echo "== Figure 3 over the committed runs ($committed, trained earlier: see docs/reproduction.md)"
  echo "== and BN-x30 seed 1 trained live just now ($out/bn_x30_s1, 2500 steps)"
  mkdir -p "$out/live"
  rm -rf "$out/live/bn_x30_live"
  cp -r "$out/bn_x30_s1" "$out/live/bn_x30_live"
  # The baseline seeds that have finished; while none has, the most advanced one (the best of a seed
  # that started later would make a lower, meaningless target).
  baselines=()
  for d in "$committed/${baseline}"_s*; do [ -n "$(ended "$d")" ] && baselines+=("$d"); done
  [ ${#baselines[@]} -gt 0 ] || baselines=("$(python3 -c '
import json, sys
print(max(sys.argv[1:], key=lambda d: json.loads(open(d + "/metrics.jsonl").readlines()[-1])["step"]))' \
    "$committed/${baseline}"_s*)")
  echo "== baseline runs: ${baselines[*]}"
  "$bnx" compare --seeds "${baselines[@]}" "$committed"/bn_*_s* "$out/live/bn_x30_live" \
    --markdown "$out/table.md" --svg "$out/curves.svg" --log-x
  echo
  [ -f "$committed/README.md" ] && sed -n '/^| run /,$p' "$committed/README.md"
  # The committed runs that are not done: a baseline seed still training; a BN run not started,
  # still training below the baseline's best, or stopped at an earlier, lower target than it (seeds
  # 2-3 ran against 91% while the baseline still rose). Until none is left, the table is interim.
  # A BN run past the baseline's best and training on (to its plateau or its step cap) has a final
  # crossing: only its max accuracy can still change, which a note says.
  goal=$(best_of "$committed/${baseline}"_s*)
  unfinished="" past=""
  for d in "$committed/${baseline}"_s*; do [ -n "$(ended "$d")" ] || unfinished+=", $(basename "$d")"; done
  for v in $variants; do
    for s in $seeds; do
      d=$committed/${v}_s$s
      [ -d "$d" ] || { unfinished+=", ${v}_s$s (not started)"; continue; }
      end=$(ended "$d" || true)
      below=$(python3 -c 'import sys; print(1 if float(sys.argv[1]) < float(sys.argv[2]) else 0)' "$(best_of_run "$d")" "$goal")
      if [ -z "$end" ] && [ "$below" = 0 ]; then
        past+=", ${v}_s$s"
      elif [ -z "$end" ] || { [[ "$end" == *"reached the target"* ]] && [ "$below" = 1 ]; }; then
        unfinished+=", ${v}_s$s"
      fi
    done
  done
  unfinished=${unfinished#, } past=${past#, }
  if [ -n "$past" ]; then
    echo
    echo "NOTE: past the baseline's best and training on (to their plateau or step cap): $past."
    echo "Their crossings are final; their max accuracy is not."
  fi
  if [ -n "$unfinished" ]; then
    echo
    echo "WARNING: committed runs still in progress: $unfinished. Until every run has finished,"
    echo "the speed-ups are NOT the reproduction's result (docs/reproduction.md has the status)."
  fi
  echo "table: $out/table.md"
  exit 0
fi

target_of_baseline() {
  [ -n "$target" ] && { echo "$target"; return; }
  for s in 1 2; do
    [ -n "$(ended "$out/${baseline}_s$s")" ] || { echo "reproduce.sh: ${baseline}_s$s has not finished; its best accuracy is the target of BN seeds > 1" >&2; exit 2; }
  done
  best_of "$out/${baseline}"_s1 "$out/${baseline}"_s2
}
if [ -n "$only" ]; then
  for item in $only; do
    name=${item%%:*} seed=${item##*:}
    [ -f "$configs/$name.yaml" ] || { echo "reproduce.sh: --only $item: no $configs/$name.yaml" >&2; exit 2; }
    if [ "$name" = "${baseline}_x5" ] && [ -n "$target" ]; then
      run "$name" "$seed" "$target"
    elif [ "$name" = "$baseline" ] || [ "$name" = "${baseline}_x5" ] || [ "$seed" = 1 ]; then
      run "$name" "$seed"
    else
      to=$(target_of_baseline) || exit 2
      run "$name" "$seed" "$to"
    fi
  done
  exit 0
fi

for s in 1 2; do run "$baseline" "$s"; done
final=$(best_of "$out/${baseline}"_s1 "$out/${baseline}"_s2)
echo "== the baseline's best accuracy (lowest over its seeds): $final"
# The 5x-rate baseline first to that accuracy (how much sooner a faster baseline gets there),
# after the BN runs on to its own plateau (whether it ends higher).
x5=0
[ -f "$configs/${baseline}_x5.yaml" ] && x5=1
[ $x5 = 1 ] && run "${baseline}_x5" 1 "$final"
for v in $variants; do
  for s in $seeds; do
    if [ "$s" = 1 ]; then
      run "$v" "$s"  # to its own plateau
    else
      run "$v" "$s" "$final"
    fi
  done
done
[ $x5 = 1 ] && run "${baseline}_x5" 1
echo
echo "== Steps to the baseline's best accuracy over seeds (paper: Figure 3)"
"$bnx" compare --seeds "$out/${baseline}"_s* "$out"/bn_*_s* --markdown "$out/table.md" --svg "$out/curves.svg" --log-x
[ -d "$out/${baseline}_x5_s1" ] && "$bnx" compare "$out/${baseline}_x5_s1" "$out"/bn_*_s1 --markdown "$out/table_x5.md"
echo "table: $out/table.md"
