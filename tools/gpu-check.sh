#!/usr/bin/env bash
# Checks a GPU machine in one command, also a bare one (no package manager, no network): prints a
# probe of the machine, builds bnx against the machine's CUDA LibTorch (a pip PyTorch's) with
# everything else from the device kit (tools/device-kit.sh), runs the CUDA tests and the CPU suites
# that touch the device code, trains configs/fashion_mnist/bn_x30.yaml on the GPU for 2,000 steps on
# the kit's Fashion-MNIST subset (then evaluates its checkpoint on the CPU and resumes it on the GPU),
# and benchmarks ResNet-50 and BN-Inception training (bf16, channels-last, batch 128 and 256,
# SyncBatchNorm and plain BN, GPU memory) against tools/bench/train_step.py (PyTorch eager) on the
# same GPU; then the exported ResNet-50 against the machine's torchvision and safetensors, the JPEG
# loader on all cores, and torch.compile's ResNet-50 where it compiles within two minutes. Stops at the first failure naming the step; always leaves gpu-check.log (everything) and
# gpu-check.md (the results, for docs/benchmarks.md) in --out. With --kit, bnx must link the kit's
# Open MPI, OpenCV, yaml-cpp and libjpeg (checked with ldd). --cpu is the rehearsal of the same
# route on a machine without a GPU (tools/rehearse-kit.sh): any LibTorch, the whole CPU test suite
# and a short CPU training run and resume instead of the CUDA steps.
#
#   tools/gpu-check.sh [--kit DIR] [--out DIR] [--python PY] [--iterations N] [--cpu]
#   device run: bash tools/gpu-check.sh --kit .kit --out "$OUT"   (carry: [".kit"])
set -uo pipefail
cd "$(dirname "$0")/.."
py=python3
iterations=20
kit=""
out=build-gpu
cpu=0
while [ $# -gt 0 ]; do
  case $1 in
    --kit) kit=$(cd "$2" && pwd); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --python) py=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --cpu) cpu=1; shift ;;
    *) echo "gpu-check: unknown argument $1 (use --kit DIR, --out DIR, --python PY, --iterations N, --cpu)" >&2; exit 2 ;;
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
fail() { say "FAILED at step: $step"; echo "**gpu-check FAILED at step: $step** (see gpu-check.log)" >>"$md"; exit 1; }
run() {  # run STEP command...: logs the command's output, stops naming the step on failure
  step=$1
  shift
  say "$step"
  "$@" >>"$log" 2>&1 || fail
}
[ -n "$kit" ] && source "$kit/env.sh"
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
ldd "$build/bnx" >>"$log" 2>&1
if [ $cpu = 0 ]; then
  ldd "$build/bnx" | grep -q libtorch_cuda || { step="link check: bnx does not link libtorch_cuda"; fail; }
fi
if [ -n "$kit" ]; then
  for lib in libmpi.so libopencv_core.so libyaml-cpp.so libjpeg.so; do
    ldd "$build/bnx" | grep "$lib" | grep -q "=> $kit/" || { step="link check: $lib does not resolve to the kit"; fail; }
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
run "tests" bash -c "cd '$build' && ctest --output-on-failure -j '$(nproc)' -R '$(IFS='|'; echo "${tests[*]}")'"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || echo unknown)
torch_version=$("$py" -c 'import torch; print(torch.__version__)')

bnx=$build/bnx
mpi=(mpiexec -n 1)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
data=${kit:+--set data.root=$kit/data/fashion-mnist}
run "GPU training run (bn_x30, 2000 steps)" "$bnx" train --config configs/fashion_mnist/bn_x30.yaml $data \
  --set train.device=cuda --set train.steps=2000 --set eval.stop_at_plateau=false --out "$work/gpu_bn_x30"
ckpt=$(ls "$work"/gpu_bn_x30/ckpt_*.bnx | sort | tail -n 1)
run "CPU evaluation of the GPU checkpoint" bash -c "'$bnx' eval --checkpoint '$ckpt' --set train.device=cpu >'$out/cpu_eval.json'"
run "GPU resume" "$bnx" train --config configs/fashion_mnist/bn_x30.yaml $data --set train.device=cuda \
  --set train.steps=2100 --set eval.stop_at_plateau=false --out "$work/gpu_bn_x30" --resume auto
cp "$work/gpu_bn_x30/metrics.jsonl" "$out/gpu_bn_x30_metrics.jsonl"
{
  echo "### GPU check: $gpu, PyTorch $torch_version ($(date -u +%F))"
  echo
  echo "GPU run of bn_x30 (2000 steps): last evaluation $(grep '"eval"' "$work/gpu_bn_x30/metrics.jsonl" | sed -n '$p')"
  echo "Its checkpoint evaluated on the CPU: $(cat "$out/cpu_eval.json")"
  echo
  echo "\`$bnx bench train --model M --device cuda --precision bf16 --batch B --norm N --iterations $iterations\` vs"
  echo "\`$py tools/bench/train_step.py M cuda bf16 B $iterations\` (channels-last, median step, 1 GPU)."
  echo
  echo "| model | batch | bnx SyncBN (img/s) | bnx BN (img/s) | PyTorch eager (img/s) | bnx BN / PyTorch | SyncBN / BN | GPU memory in use, bnx BN / PyTorch (MiB; PyTorch's peak reserved) |"
  echo "|---|---|---|---|---|---|---|---|"
} >>"$md"
for spec in "resnet50 128" "resnet50 256" "bn_inception 128" "bn_inception 256"; do
  set -- $spec
  step="benchmark $1 $2"
  say "$step"
  s=$("${mpi[@]}" "$bnx" bench train --model "$1" --device cuda --precision bf16 --batch "$2" --norm sync --iterations "$iterations" 2>>"$log") || fail
  b=$("${mpi[@]}" "$bnx" bench train --model "$1" --device cuda --precision bf16 --batch "$2" --norm batch --iterations "$iterations" 2>>"$log") || fail
  p=$("$py" tools/bench/train_step.py "$1" cuda bf16 "$2" "$iterations" 2>>"$log") || fail
  echo "$s" >>"$log"; echo "$b" >>"$log"; echo "$p" >>"$log"
  "$py" -c "import json,sys; s,b,p=(json.loads(v) for v in sys.argv[3:]); print('| %s | %s | %.0f | %.0f | %.0f | %.2f | %.3f | %.0f / %.0f (%.0f) |' % (sys.argv[1], sys.argv[2], s['images_per_s_per_rank'], b['images_per_s_per_rank'], p['images_per_s_per_rank'], b['images_per_s_per_rank'] / p['images_per_s_per_rank'], s['images_per_s_per_rank'] / b['images_per_s_per_rank'], b['device_memory_mb'], p['device_memory_mb'], p['max_reserved_mb']))" "$1" "$2" "$s" "$b" "$p" >>"$md"
done
# Last, so that a failure here leaves the results above: the exported ResNet-50 against this
# machine's torchvision and safetensors, and the JPEG loader on all cores.
run "interop: export, torchvision strict load, logits" bash -c "cd '$build' && ctest --output-on-failure -R 'export_test|torchvision_interop'"
echo >>"$md"
echo "Interop: the exported ResNet-50 loads into this machine's torchvision (strict) with logits within 1e-4 (ctest torchvision_interop passed)." >>"$md"
jpegs=$work/jpegs
run "JPEG set" "$py" tools/bench/make_jpegs.py "$jpegs" 512
step="loader benchmark"
say "$step"
"$bnx" bench loader --folder "$jpegs" --images 512 --threads "$(nproc)" >"$out/loader.jsonl" 2>>"$log" || fail
{ echo; echo "\`$bnx bench loader --folder JPEGS --images 512 --threads $(nproc)\` (512 JPEGs of 500x375):"; echo; sed 's/^/    /' "$out/loader.jsonl"; } >>"$md"
# torch.compile as a second reference, where it compiles within two minutes (ResNet-50, batch 256).
step="torch.compile reference"
say "$step"
if c=$(timeout 120 "$py" tools/bench/train_step.py resnet50 cuda bf16 256 "$iterations" --compile 2>>"$log"); then
  echo "$c" >>"$log"
  echo >>"$md"
  "$py" -c "import json,sys; c=json.loads(sys.argv[1]); print('PyTorch torch.compile, ResNet-50 bf16 batch 256: %.0f img/s' % c['images_per_s_per_rank'])" "$c" >>"$md"
else
  { echo; echo "PyTorch torch.compile, ResNet-50 bf16 batch 256: did not finish within 120 s (see the log)"; } >>"$md"
fi
say "done in $(( $(date +%s) - started )) s"
cat "$md"
