#!/usr/bin/env bash
# Checks a GPU machine in one command, also a bare one (no package manager, no network): prints a
# probe of the machine, builds bnx against the machine's CUDA LibTorch (a pip PyTorch's) with
# everything else from the device kit (tools/device-kit.sh), runs the CUDA tests and the CPU suites
# that touch the device code, then, in this order (issue 17's points):
#   gpu-run   configs/fashion_mnist/bn_x30.yaml on the GPU for 2,000 steps on the kit's Fashion-MNIST
#             subset, judged against CPU runs of the same (tools/gpu-vs-cpu.py, docs/gpu_reference),
#             its checkpoint evaluated on the CPU, then resumed on the GPU;
#   interop   the exported ResNet-50 against the machine's torchvision and safetensors;
#   bench     ResNet-50 and BN-Inception training (bf16, channels-last, batch 128 and 256): bnx with
#             SyncBatchNorm at one rank, with its distributed function (--mirror), with plain BN, and
#             PyTorch eager (tools/bench/train_step.py) on the same GPU, GPU memory too;
#   data      the JPEG loader on all cores, and ResNet-50 trained from JPEGs (the data-wait share);
#   compile   torch.compile's ResNet-50 where it compiles within two minutes;
#   cpu       the CPU anchor: tools/bench/run.sh models step against this machine's PyTorch.
# A step that would not end within --budget seconds of the start is skipped and says so (a second
# call can run it: --skip the steps done; the build is kept). Stops at the first failure naming the
# step; always leaves gpu-check.log (everything) and gpu-check.md (the results, for
# docs/benchmarks.md) in --out. With --kit, bnx must link the kit's Open MPI, OpenCV, yaml-cpp and
# libjpeg (checked with ldd). --cpu is the rehearsal of the same route on a machine without a GPU
# (tools/rehearse-kit.sh): any LibTorch, the whole CPU test suite and a short CPU training run and
# resume instead of the CUDA steps.
#
#   tools/gpu-check.sh [--kit DIR|ARCHIVE.tar.gz] [--out DIR] [--python PY] [--iterations N] [--budget S]
#                      [--skip "tests gpu-run interop bench data compile cpu"] [--cpu]
#   device run: bash tools/gpu-check.sh --kit .kit.tar.gz --out "$OUT" --budget 540   (carry: [".kit.tar.gz"])
# The kit travels as the archive tools/device-kit.sh writes beside it (24 MB against the folder's
# 55): the device tool carries at most 64 MiB, working tree included. An archive is unpacked into
# the build folder (BUILD/kit) first.
set -uo pipefail
cd "$(dirname "$0")/.."
py=python3
iterations=20
kit=""
out=build-gpu
cpu=0
budget=100000
skip=""
while [ $# -gt 0 ]; do
  case $1 in
    --kit) kit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --python) py=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --cpu) cpu=1; shift ;;
    --budget) budget=$2; shift 2 ;;
    --skip) skip=" $2 "; shift 2 ;;
    *) echo "gpu-check: unknown argument $1 (use --kit DIR|ARCHIVE.tar.gz, --out DIR, --python PY, --iterations N, --budget S, --skip LIST, --cpu)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/gpu-check.log
md=$out/gpu-check.md
build=${BNX_GPU_BUILD:-build-gpu}
# Run folders, JPEGs and checkpoints go to a work folder: --out gets at most 6 small files (the
# device tool brings back only a few).
rm -rf "$build/gpu-check-work"  # a rerun (kept build folder) starts its runs afresh
work=$(mkdir -p "$build/gpu-check-work" && cd "$build/gpu-check-work" && pwd)
: >"$log"
: >"$md"
step="start"
started=$(date +%s)
say() { echo "[gpu-check $(( $(date +%s) - started ))s] $*" | tee -a "$log"; }
wanted() { [[ "$skip" != *" $1 "* ]]; }
fits() {  # fits SECONDS WHAT: whether WHAT, estimated at SECONDS, ends within the budget (else noted)
  if (( $(date +%s) - started + $1 <= budget )); then return 0; fi
  say "skipped: $2 (estimated $1 s; $(( budget - $(date +%s) + started )) s of the --budget left)"
  printf '\n**Skipped (time budget): %s.**\n' "$2" >>"$md"
  return 1
}
fail() { say "FAILED at step: $step"; echo "**gpu-check FAILED at step: $step** (see gpu-check.log)" >>"$md"; exit 1; }
run() {  # run STEP command...: logs the command's output, stops naming the step on failure
  step=$1
  shift
  say "$step"
  "$@" >>"$log" 2>&1 || fail
}
if [[ "$kit" == *.tar.gz ]]; then  # the archive device-kit.sh writes: unpacked afresh into the build folder
  [ -f "$kit" ] || { echo "gpu-check: kit archive $kit not found (tools/device-kit.sh writes it)" >&2; exit 2; }
  rm -rf "$build/kit" && mkdir -p "$build/kit" && tar -xzf "$kit" -C "$build/kit" ||
    { echo "gpu-check: cannot unpack the kit archive $kit into $build/kit" >&2; exit 2; }
  kit=$build/kit
fi
if [ -n "$kit" ]; then
  [ -f "$kit/env.sh" ] || { echo "gpu-check: $kit is no device kit (no env.sh; tools/device-kit.sh makes one)" >&2; exit 2; }
  kit=$(cd "$kit" && pwd)
  source "$kit/env.sh"
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

step="probe"
{
  echo "## probe"
  uname -a; grep PRETTY_NAME /etc/os-release
  echo "cores: $(nproc)"; c++ --version | head -n 1; cmake --version | head -n 1; ninja --version 2>/dev/null || echo "no ninja"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available()); print("cmake prefix", torch.utils.cmake_prefix_path)' \
    || echo "no torch module in $py"
  for lib in libmpi.so libopencv_core.so libyaml-cpp.so libjpeg.so libz.so libgtest; do
    echo "$lib: $(ldconfig -p 2>/dev/null | grep -c "$lib") on the system"
  done
  echo "kit: ${kit:-none}"
} >>"$log" 2>&1
cat "$log"
if [ $cpu = 1 ]; then
  prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)  # else the system's
  run "configure" cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix;${kit:-}"
else
  "$py" -c 'import torch; assert torch.cuda.is_available()' >>"$log" 2>&1 || { step="probe: no CUDA PyTorch or no GPU"; fail; }
  prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  # The wheel's TorchConfig.cmake needs the CUDA toolkit and nvcc at configure time: name them.
  cuda=${CUDA_HOME:-/usr/local/cuda}
  run "configure" env CUDACXX="$cuda/bin/nvcc" cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix;${kit:-}" -DCUDAToolkit_ROOT="$cuda" -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" \
    -DBNX_PYTHON="$(command -v "$py")"
  grep -q "CUDA ON" "$log" || { step="configure: CMake did not find CUDA in that LibTorch"; fail; }
fi
tests=(cuda_test sync_batch_norm_test precision_test gradient_reducer_test models_test trainer_test uneven_shards_test)
targets=(--target bnx "${tests[@]}" export_test)
[ $cpu = 1 ] && targets=()  # everything, for the whole CPU suite
run "build" bash -c "TIMEFORMAT='build time: %R s wall, %U s user + %S s sys on $(nproc) cores'; time cmake --build '$build' -j '$(nproc)' ${targets[*]}"
say "$(grep '^build time:' "$log" | tail -n 1)"
step="link check"
links=$(ldd "$build/bnx" 2>&1)  # captured, not piped: `ldd | grep -q` fails under pipefail on SIGPIPE
echo "$links" >>"$log"
if [ $cpu = 0 ]; then
  grep -q libtorch_cuda <<<"$links" || { step="link check: bnx does not link libtorch_cuda"; fail; }
fi
if [ -n "$kit" ]; then
  for lib in libmpi.so libopencv_core.so libyaml-cpp.so libjpeg.so; do
    grep -qE "$lib[^ ]* => $kit/" <<<"$links" || { step="link check: $lib does not resolve to the kit"; fail; }
  done
  say "link check: libmpi, libopencv_core, libyaml-cpp and libjpeg resolve to the kit"
fi
if [ $cpu = 1 ]; then
  # The whole CPU suite but the torchvision interop test (it needs Python's torchvision).
  run "tests" bash -c "cd '$build' && ctest --output-on-failure -j '$(nproc)' -E torchvision_interop"
  data=${kit:+--set data.root=$kit/data/fashion-mnist}
  run "CPU training run (bn_x30, 200 steps)" "$build/bnx" train --config configs/fashion_mnist/bn_x30.yaml $data \
    --set train.steps=200 --set eval.stop_at_plateau=false --out "$work/cpu_bn_x30"
  run "CPU resume" "$build/bnx" train --config configs/fashion_mnist/bn_x30.yaml $data --set train.steps=300 \
    --set eval.stop_at_plateau=false --out "$work/cpu_bn_x30" --resume auto
  {
    echo "gpu-check --cpu passed on $(grep PRETTY_NAME /etc/os-release | cut -d= -f2) ($(nproc) cores), $(date -u +%F)"
    echo "- $(grep '^build time:' "$log" | tail -n 1)"
    echo "- ctest: $(grep -o '[0-9]*% tests passed, [0-9]* tests failed out of [0-9]*' "$log" | tail -n 1)"
    echo "- bnx links: $(ldd "$build/bnx" | grep -E 'libmpi\.|libopencv_core|libyaml-cpp|libjpeg' | awk '{print $3}' | tr '\n' ' ')"
  } >>"$md"
  say "done in $(( $(date +%s) - started )) s"
  cat "$md"
  exit 0
fi
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null)  # not `| head`: SIGPIPE under pipefail
gpu=${gpu%%$'\n'*}
gpu=${gpu:-unknown}
torch_version=$("$py" -c 'import torch; print(torch.__version__)')

bnx=$build/bnx
mpi=(mpiexec -n 1)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
data=${kit:+--set data.root=$kit/data/fashion-mnist}
{ echo "### GPU check: $gpu, PyTorch $torch_version ($(date -u +%F))"; echo; } >>"$md"

if wanted tests; then
  run "tests" bash -c "cd '$build' && ctest --output-on-failure -j '$(nproc)' -R '$(IFS='|'; echo "${tests[*]}")'"
  echo "CUDA and device-touching suites passed: $(grep -o '[0-9]*% tests passed, [0-9]* tests failed out of [0-9]*' "$log" | tail -n 1) (${tests[*]})." >>"$md"
fi

if wanted gpu-run && fits 150 "GPU training run"; then
  run "GPU training run (bn_x30, 2000 steps)" "$bnx" train --config configs/fashion_mnist/bn_x30.yaml $data \
    --set train.device=cuda --set train.steps=2000 --set eval.stop_at_plateau=false --out "$work/gpu_bn_x30"
  ckpt=$(ls "$work"/gpu_bn_x30/ckpt_*.bnx | sort | tail -n 1)
  run "CPU evaluation of the GPU checkpoint" bash -c "'$bnx' eval --checkpoint '$ckpt' --set train.device=cpu >'$out/cpu_eval.json'"
  run "GPU resume" "$bnx" train --config configs/fashion_mnist/bn_x30.yaml $data --set train.device=cuda \
    --set train.steps=2100 --set eval.stop_at_plateau=false --out "$work/gpu_bn_x30" --resume auto
  cp "$work/gpu_bn_x30/metrics.jsonl" "$out/gpu_bn_x30_metrics.jsonl"
  {
    echo "GPU run of bn_x30 (2000 steps, resumed to 2100): last evaluation $(grep '"eval"' "$work/gpu_bn_x30/metrics.jsonl" | sed -n '$p')"
    echo "Its step-2000 checkpoint evaluated on the CPU: $(cat "$out/cpu_eval.json")"
    echo
    "$py" tools/gpu-vs-cpu.py "$out/gpu_bn_x30_metrics.jsonl" || true  # the verdict is in the text
  } >>"$md"
fi

# The exported ResNet-50 against this machine's torchvision and safetensors.
if wanted interop && fits 60 "interop"; then
  run "interop: export, torchvision strict load, logits" bash -c "cd '$build' && ctest --output-on-failure -R 'export_test|torchvision_interop'"
  { echo; echo "Interop: the exported ResNet-50 loads into this machine's torchvision (strict) with logits within 1e-4 (ctest torchvision_interop passed)."; } >>"$md"
fi

if wanted bench; then
  {
    echo
    echo "\`$bnx bench train --model M --device cuda --precision bf16 --batch B --norm sync|batch [--mirror] --iterations $iterations\` vs"
    echo "\`$py tools/bench/train_step.py M cuda bf16 B $iterations\` (channels-last, median step, 1 GPU). SyncBN: the module at"
    echo "one rank (the single-process kernel); distributed: its distributed function over a simulated second rank (\`--mirror\`)."
    echo
    echo "| model | batch | bnx SyncBN (img/s) | bnx SyncBN distributed (img/s) | bnx BN (img/s) | PyTorch eager (img/s) | bnx BN / PyTorch | SyncBN / BN | distributed / BN | GPU memory in use, bnx BN / PyTorch (MiB; PyTorch's peak reserved) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
  } >>"$md"
  for spec in "resnet50 256" "bn_inception 256" "resnet50 128" "bn_inception 128"; do
    set -- $spec
    fits 60 "benchmark $1 $2" || continue
    step="benchmark $1 $2"
    say "$step"
    args=(bench train --model "$1" --device cuda --precision bf16 --batch "$2" --iterations "$iterations")
    s=$("${mpi[@]}" "$bnx" "${args[@]}" --norm sync 2>>"$log") || fail
    m=$("${mpi[@]}" "$bnx" "${args[@]}" --norm sync --mirror 2>>"$log") || fail
    b=$("${mpi[@]}" "$bnx" "${args[@]}" --norm batch 2>>"$log") || fail
    p=$("$py" tools/bench/train_step.py "$1" cuda bf16 "$2" "$iterations" 2>>"$log") || fail
    printf '%s\n' "$s" "$m" "$b" "$p" >>"$log"
    "$py" -c "import json,sys; s,m,b,p=(json.loads(v) for v in sys.argv[3:]); r=lambda d: d['images_per_s_per_rank']; print('| %s | %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.3f | %.3f | %.0f / %.0f (%.0f) |' % (sys.argv[1], sys.argv[2], r(s), r(m), r(b), r(p), r(b) / r(p), r(s) / r(b), r(m) / r(b), b['device_memory_mb'], p['device_memory_mb'], p['max_reserved_mb']))" "$1" "$2" "$s" "$m" "$b" "$p" >>"$md"
  done
fi

# The data path: the loader on every core, then ResNet-50 trained from JPEGs (bf16, batch 256): how
# much of the training time waits for data (metrics.jsonl's data_wait, rank 0).
if wanted data && fits 120 "data path"; then
  jpegs=$work/jpegs
  run "JPEG set (2048 images of 500x375)" "$py" tools/bench/make_jpegs.py "$jpegs" 2048
  ln -sfn train "$jpegs/val"
  step="loader benchmark"
  say "$step"
  "$bnx" bench loader --folder "$jpegs" --images 512 --threads "$(nproc)" >"$out/loader.jsonl" 2>>"$log" || fail
  { echo; echo "\`$bnx bench loader --folder JPEGS --images 512 --threads $(nproc)\` (JPEGs of 500x375, q90; per thread count):"; echo; sed 's/^/    /' "$out/loader.jsonl"; } >>"$md"
  run "ResNet-50 from JPEGs (bf16, batch 256, 48 steps)" "$bnx" train --config configs/imagenet/resnet50.yaml \
    --set data.root="$jpegs" --set data.threads="$(nproc)" --set train.device=cuda --set train.precision=bf16 \
    --set train.steps=48 --set eval.every_steps=0 --set log.every_steps=8 --set checkpoint.every_steps=0 --out "$work/jpeg_run"
  "$py" - "$work/jpeg_run/metrics.jsonl" "$(nproc)" >>"$md" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l][1:]  # the first window holds cuDNN's tuning
print("\nResNet-50 from JPEGs (bf16, batch 256, %s loader threads, steps 9-48 in windows of 8): %.0f img/s, "
      "waiting for data %.0f%% of the training time (medians over the windows)"
      % (sys.argv[2], statistics.median(r["images_per_sec"] for r in rows), 100 * statistics.median(r["data_wait"] for r in rows)))
PY
fi

# torch.compile as a second reference, where it compiles within two minutes (ResNet-50, batch 256).
if wanted compile && fits 130 "torch.compile reference"; then
  step="torch.compile reference"
  say "$step"
  if c=$(timeout 120 "$py" tools/bench/train_step.py resnet50 cuda bf16 256 "$iterations" --compile 2>>"$log"); then
    echo "$c" >>"$log"
    echo >>"$md"
    "$py" -c "import json,sys; c=json.loads(sys.argv[1]); print('PyTorch torch.compile, ResNet-50 bf16 batch 256: %.0f img/s' % c['images_per_s_per_rank'])" "$c" >>"$md"
  else
    { echo; echo "PyTorch torch.compile, ResNet-50 bf16 batch 256: did not finish within 120 s (see the log)"; } >>"$md"
  fi
fi

# The modern CPU anchor: bnx against this machine's PyTorch on its CPU cores (2 threads, as docs/benchmarks.md).
if wanted cpu && fits 200 "CPU anchor (tools/bench/run.sh models step)"; then
  step="CPU anchor"
  say "$step"
  BNX="$bnx" PY="$py" bash tools/bench/run.sh models step >"$out/cpu_anchor.md" 2>>"$log" || fail
  { echo; echo "CPU anchor on this machine (\`tools/bench/run.sh models step\`, PyTorch $torch_version):"; cat "$out/cpu_anchor.md"; } >>"$md"
fi
say "done in $(( $(date +%s) - started )) s"
cat "$md"
