#!/usr/bin/env bash
# Runs every benchmark, bnx side by side with its reference in the same run, and prints the
# Markdown for docs/benchmarks.md. Usage: tools/bench/run.sh [syncbn|models|step|baseline-step|eval-batch|loader|epoch|cxx20 ...]
# (step, baseline-step: BNX_REF=OLDER_BNX adds an older build to the comparison: step_table below)
set -euo pipefail
cd "$(dirname "$0")/../.."
bnx=${BNX:-build/bnx}  # BNX=build-gpu/bnx PY=python3 on the GPU machine (tools/gpu-check.sh)
py=${PY:-/usr/bin/python3}
mpi=(mpiexec --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
# step_table TITLE CONFIG PY_FLAG NORM...: a Fashion-MNIST training step at batch 32, bnx with each
# model.norm NORM vs PyTorch eager on the same network (same parameter count, checked), and with
# BNX_REF=OLDER_BNX that build with the first NORM; 5 interleaved repeats of the median of 30 steps.
step_table() {
  local title=$1 cfg=$2 pyflag=$3 ref=${BNX_REF:-}
  shift 3
  local norms=("$@") py_cmd="$py tools/bench/train_step.py bn_inception cpu fp32 32 30 28 --width 0.125 --small-input --channels 1 --classes 10 ${pyflag:+$pyflag }--threads"
  echo; echo "### Training step of the Fashion-MNIST $title"
  echo; echo '`'"$bnx bench train --config $cfg --device cpu --batch 32 --norm $(IFS='|'; echo "${norms[*]}") --threads T --iterations 30"'` vs `'"$py_cmd T"'`'"${ref:+ and the first bnx command with \`$ref\`}"'; median over 5 interleaved repeats of the median step'
  local head="| threads" rule="|---"
  for n in "${norms[@]}"; do head+=" | bnx $n step (ms)"; rule+="|---"; done
  head+=" | PyTorch step (ms)"; rule+="|---"
  for n in "${norms[@]}"; do head+=" | bnx $n / PyTorch (steps/s)"; rule+="|---"; done
  echo; echo "$head | reference bnx step (ms) | bnx / reference bnx (steps/s) |"; echo "$rule|---|---|"
  for t in 1 2; do
    local rows=()
    for r in 1 2 3 4 5; do
      for n in "${norms[@]}"; do rows+=("$($bnx bench train --config $cfg --device cpu --batch 32 --norm $n --threads $t --iterations 30)"); done
      rows+=("$($py_cmd $t)")
      rows+=("$([ -n "$ref" ] && $ref bench train --config $cfg --device cpu --batch 32 --norm ${norms[0]} --threads $t --iterations 30 || echo '{"step_s": 0}')")
    done
    $py - $t ${#norms[@]} "${rows[@]}" <<'PY'
import json, statistics, sys
t, k, rows = sys.argv[1], int(sys.argv[2]), [json.loads(v) for v in sys.argv[3:]]
assert len({r["parameters"] for r in rows if "parameters" in r}) == 1, "the builds differ in their networks"
med = [statistics.median(r["step_s"] for r in rows[i::k + 2]) for i in range(k + 2)]
bnx, torch, ref = med[:k], med[k], med[k + 1]
cells = ["%.1f" % (1e3 * m) for m in bnx] + ["%.1f" % (1e3 * torch)] + ["%.2f" % (torch / m) for m in bnx]
cells += ["%.1f" % (1e3 * ref), "%.2f" % (ref / bnx[0])] if ref else ["-", "-"]
print("| %s | %s |" % (t, " | ".join(cells)))
PY
  done
}

what=${*:-syncbn models step baseline-step loader epoch}
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
for w in $what; do
  case $w in
  syncbn)
    echo; echo "### SyncBatchNorm vs per-rank BN: ResNet-18, 64x64, SGD step (median of 15, interleaved)"
    echo; echo '`'"mpiexec -n N $bnx bench syncbn --iterations 15 --batch 32"'`'
    echo; echo "| ranks | batch/rank | SyncBN step (ms) | local BN step (ms) | ratio | collectives/step (BN + gradient buckets) | bytes/step/rank (BN + gradients) |"
    echo "|---|---|---|---|---|---|---|"
    for n in 2 4; do "${mpi[@]}" -n $n $bnx bench syncbn --iterations 15 --batch 32; done
    ;;
  models)
    echo; echo "### Models: forward and forward+backward, 224 px, batch 16, float32, 2 threads (median of 5)"
    echo; echo '`'"$bnx bench MODEL --iterations 5 --threads 2"'` (channels-last, bnx'"'"'s default) vs `'"$py tools/bench/models.py MODEL 5 2"'` (PyTorch'"'"'s default NCHW layout); last columns: the same Python script with `channels_last`'
    echo; echo "| model | parameters | bnx fwd (s) | PyTorch fwd (s) | ratio | bnx fwd+bwd (s) | PyTorch fwd+bwd (s) | ratio | PyTorch channels-last fwd / fwd+bwd (s) | ratios |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for m in bn_inception resnet50; do
      a=$($bnx bench $m --iterations 5 --threads 2)
      b=$($py tools/bench/models.py $m 5 2)
      c=$($py tools/bench/models.py $m 5 2 channels_last)
      $py -c "import json,sys; a,b,c=(json.loads(v) for v in sys.argv[1:]); assert a['parameters']==b['parameters'], (a,b); print('| %s | %d | %.3f | %.3f | %.2f | %.3f | %.3f | %.2f | %.3f / %.3f | %.2f / %.2f |' % (a['model'], a['parameters'], a['forward_s'], b['forward_s'], a['forward_s']/b['forward_s'], a['forward_backward_s'], b['forward_backward_s'], a['forward_backward_s']/b['forward_backward_s'], c['forward_s'], c['forward_backward_s'], a['forward_s']/c['forward_s'], a['forward_backward_s']/c['forward_backward_s']))" "$a" "$b" "$c"
    done
    ;;
  step)
    # The reproduction's training step (issue 16): the Fashion-MNIST BN-Inception of
    # configs/fashion_mnist/bn_x30.yaml at batch 32, bnx's Trainer::step (SyncBN on one rank, and
    # plain BN) vs the same network in PyTorch eager.
    step_table "BN-Inception (28 px, width 1/8, batch 32, fp32, channels-last)" configs/fashion_mnist/bn_x30.yaml "" sync batch
    ;;
  baseline-step)
    # The non-BN Inception baseline's step (configs/fashion_mnist/inception.yaml: conv biases, LRN,
    # dropout) at batch 32, bnx vs the same network in PyTorch eager.
    step_table "Inception baseline (no BN; LRN, dropout; 28 px, width 1/8, batch 32, fp32)" configs/fashion_mnist/inception.yaml --baseline none
    ;;
  eval-batch)
    # The reproduction's evaluations (every 500 steps late, 10,000 test images, 1 thread): the
    # whole `bnx eval` command per eval.batch_size, the reference being the configs' earlier 1000.
    echo; echo "### Evaluation batch size: Fashion-MNIST test set (10,000 images), 1 thread, committed checkpoints"
    echo; echo '`'"$bnx eval --checkpoint CKPT --set eval.batch_size=B --set train.threads=1"'`: wall time of the whole command (start-up included, the same for every B), median of 5 interleaved repeats'
    echo; echo "| checkpoint | B=1000 (s) | B=500 (s) | B=200 (s) | B=100 (s) | 1000 / 200 | top-1 equal for every B |"
    echo "|---|---|---|---|---|---|---|"
    for ckpt in docs/reproduction/runs/inception_s1/ckpt_*.bnx docs/reproduction/runs/bn_baseline_s1/ckpt_*.bnx; do
      rows=()
      for r in 1 2 3 4 5; do
        for b in 1000 500 200 100; do
          t0=$(date +%s.%N)
          out=$($bnx eval --checkpoint "$ckpt" --set eval.batch_size=$b --set train.threads=1)
          rows+=("$($py -c 'import json, sys; d = json.loads(sys.argv[1]); print(json.dumps({"s": float(sys.argv[2]), "top1": d["top1"]}))' "$out" "$($py -c "print($(date +%s.%N) - $t0)")")")
        done
      done
      $py - "$ckpt" "${rows[@]}" <<'PY'
import json, statistics, sys
ckpt, rows = sys.argv[1], [json.loads(v) for v in sys.argv[2:]]
med = [statistics.median(r["s"] for r in rows[i::4]) for i in range(4)]
same = "yes" if len({r["top1"] for r in rows}) == 1 else "no: " + ", ".join(sorted({"%.4f" % r["top1"] for r in rows}))
print("| %s | %s | %.2f | %s |" % (ckpt.split("runs/")[1], " | ".join("%.2f" % m for m in med), med[0] / med[2], same))
PY
    done
    ;;
  loader)
    dir=/tmp/bnx_bench_jpegs
    [ -d $dir/train ] || $py tools/bench/make_jpegs.py $dir 512
    echo; echo "### Loader: decode + RandomResizedCrop 224 + flip + normalize, 512 JPEGs of 500x375 (q90), batches of 32"
    echo; echo '`'"$bnx bench loader --folder $dir --images 512 --threads 2"'` vs `'"$py tools/bench/loader.py $dir 512 N"'`'
    echo; echo "| threads/workers | bnx (img/s) | decode only (img/s) | torchvision + PIL (img/s) | bnx / torchvision | bnx / decode-only |"
    echo "|---|---|---|---|---|---|"
    $bnx bench loader --folder $dir --images 512 --threads 2 >/tmp/bnx_loader.jsonl
    for n in 1 2; do
      b=$($py tools/bench/loader.py $dir 512 $n)
      $py -c "import json,sys; a=[json.loads(l) for l in open('/tmp/bnx_loader.jsonl')][int(sys.argv[1])-1]; b=json.loads(sys.argv[2]); print('| %d | %.0f | %.0f | %.0f | %.2f | %.2f |' % (a['threads'], a['pipeline_img_s'], a['decode_only_img_s'], b['pipeline_img_s'], a['pipeline_img_s']/b['pipeline_img_s'], a['pipeline_img_s']/a['decode_only_img_s']))" $n "$b"
    done
    ;;
  epoch)
    echo; echo "### Trainer: one epoch of Fashion-MNIST + evaluation, BN-Inception width 1/8, batch 128, 2 threads, 1 loader worker"
    echo; echo '`'"$bnx train --config configs/fashion_mnist/bn_inception_small.yaml --set train.epochs=1 --set eval.every_steps=0 --set train.threads=2"'` vs `'"$py tools/bench/epoch.py 2 1"'` (NCHW) and `'"$py tools/bench/epoch.py 2 1 channels_last"'`'
    rm -rf /tmp/bnx_bench_epoch
    t0=$(date +%s.%N)
    $bnx train --config configs/fashion_mnist/bn_inception_small.yaml --set train.epochs=1 --set eval.every_steps=0 \
      --set train.threads=2 --out /tmp/bnx_bench_epoch >/tmp/bnx_bench_epoch.log
    t1=$(date +%s.%N)
    b=$($py tools/bench/epoch.py 2 1)
    c=$($py tools/bench/epoch.py 2 1 channels_last)
    acc=$(tail -n 1 /tmp/bnx_bench_epoch/metrics.jsonl)
    echo; echo "| bnx wall (s) | bnx test top-1 | PyTorch wall (s) | PyTorch test top-1 | bnx / PyTorch | PyTorch channels-last wall (s) | bnx / PyTorch channels-last |"
    echo "|---|---|---|---|---|---|---|"
    $py -c "import json,sys; a=float(sys.argv[1]); m=json.loads(sys.argv[2]); b=json.loads(sys.argv[3]); c=json.loads(sys.argv[4]); print('| %.1f | %.2f%% | %.1f | %.2f%% | %.2f | %.1f | %.2f |' % (a, 100*m['top1'], b['wall_s'], 100*b['top1'], a/b['wall_s'], c['wall_s'], a/c['wall_s']))" "$($py -c "print($t1 - $t0)")" "$acc" "$b" "$c"
    ;;
  cxx20)
    # The C++20 syntax check of the build in build/ (the cxx20_syntax test), its sources in batches
    # (the default) against one compiler run per source (--batch 1, how it checked before); 2 jobs.
    echo; echo "### C++20 syntax check (\`cxx20_syntax\`): sources in batches vs one compiler run each"
    echo; echo '`'"$py tools/check-cxx20.py build --jobs 2 --batch B"'`, B = 1 then 8 (the default)'
    echo; echo "| B | compiler runs | wall (s) | CPU (s, user + sys) | CPU / B=1's | wall / B=1's |"
    echo "|---|---|---|---|---|---|"
    for b in 1 8; do
      /usr/bin/time -f "%e %U %S" -o /tmp/bnx_bench_cxx20.time $py tools/check-cxx20.py build --jobs 2 --batch $b >/tmp/bnx_bench_cxx20_$b.log
      read -r wall user sys </tmp/bnx_bench_cxx20.time
      runs=$(grep -o '[0-9]* compiler runs' /tmp/bnx_bench_cxx20_$b.log | cut -d' ' -f1)
      [ $b = 1 ] && { wall1=$wall; cpu1=$($py -c "print($user + $sys)"); }
      $py -c "import sys; b, r, w, u, s, w1, c1 = sys.argv[1:]; c = float(u) + float(s); print('| %s | %s | %.0f | %.0f | %.2f | %.2f |' % (b, r, float(w), c, c / float(c1), float(w) / float(w1)))" \
        $b "$runs" "$wall" "$user" "$sys" "$wall1" "$cpu1"
    done
    ;;
  esac
done
