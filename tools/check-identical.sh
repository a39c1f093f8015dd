#!/usr/bin/env bash
# Behaviour-preservation check for refactors: trains the same short runs with two bnx binaries and
# requires bit-identical metrics.jsonl losses and accuracies (train and eval) and bit-identical
# exported weights, on 1 and 2 ranks. Takes about 4 minutes on 2 cores.
#
#   tools/check-identical.sh OLD_BNX NEW_BNX [WORKDIR]
#
# Runs: BN-Inception small with norm sync (SyncBatchNorm, 2 ranks: distributed statistics),
# the dropout + LRN baseline (the RNG), and the MLP with per-rank BN (BN statistics averaged over
# ranks before evaluation and saving). Exit 0 when everything matches.
set -uo pipefail
old=$1
new=$2
work=${3:-$(mktemp -d /tmp/bnx_identical_XXXX)}
mkdir -p "$work"
cd "$(dirname "$0")/.."
mpi=(mpiexec --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
short=(--set train.steps=60 --set eval.every_steps=20 --set eval.per_doubling=0 --set eval.stop_at_plateau=false
       --set log.every_steps=10 --set checkpoint.every_steps=30 --set train.threads=1)
fails=0
for case in "bn_x30 sync" "inception none" "mlp_bn batch"; do
  set -- $case
  config=configs/fashion_mnist/$1.yaml
  extra=()
  [ "$1" = mlp_bn ] && extra=(--set train.steps=60)
  for n in 1 2; do
    for which in old new; do
      bin=$old
      [ $which = new ] && bin=$new
      out=$work/$1_np${n}_$which
      rm -rf "$out"
      "${mpi[@]}" -n $n "$bin" train --config "$config" "${short[@]}" "${extra[@]}" --set model.norm=$2 --out "$out" \
        >"$out.log" 2>&1 || { echo "FAILED: $which $1 on $n rank(s) (see $out.log)"; fails=$((fails + 1)); continue; }
      "$bin" export --checkpoint "$(ls "$out"/ckpt_*.bnx | sort | tail -n 1)" --out "$out.safetensors" >/dev/null
    done
    a=$work/$1_np${n}_old
    b=$work/$1_np${n}_new
    if python3 - "$a/metrics.jsonl" "$b/metrics.jsonl" <<'PY'
import json, sys
rows = [[(r["kind"], r["step"], r["loss"], r["top1"]) for r in map(json.loads, open(p))] for p in sys.argv[1:]]
sys.exit(0 if rows[0] == rows[1] and len(rows[0]) > 0 else 1)
PY
    then echo "same losses:  $1 on $n rank(s)"; else echo "DIFFERENT losses: $1 on $n rank(s)"; fails=$((fails + 1)); fi
    # The tensors (names, shapes, dtypes, bytes); the metadata holds the config text, which may
    # gain keys.
    if python3 - "$a.safetensors" "$b.safetensors" <<'PY'
import json, struct, sys
def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return header, data[8 + n:]
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)
PY
    then echo "same weights: $1 on $n rank(s)"
    else echo "DIFFERENT weights: $1 on $n rank(s)"; fails=$((fails + 1)); fi
  done
done
echo "$fails difference(s)"
[ $fails = 0 ]
