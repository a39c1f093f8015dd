#!/usr/bin/env bash
# Checks a GPU machine in one command: builds bnx against the machine's CUDA LibTorch (a pip
# PyTorch's), runs the CUDA tests (SyncBatchNorm on CUDA vs the float64 CPU reference, NCCL
# collectives at world size 1, short bf16/fp16 training runs) and the CPU suites that touch the
# device code, then benchmarks ResNet-50 and BN-Inception training at 224 (bf16, channels-last)
# with SyncBatchNorm and plain BN against a Python PyTorch eager script on the same GPU, in the
# same run. Prints the Markdown for docs/benchmarks.md (also written to build-gpu/gpu-check.md).
# Usage: tools/gpu-check.sh [--python PY] [--iterations N]   (env BNX_GPU_BUILD: build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
py=python3
iterations=20
while [ $# -gt 0 ]; do
  case $1 in
    --python) py=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    *) echo "gpu-check: unknown argument $1 (use --python PY, --iterations N)" >&2; exit 2 ;;
  esac
done
build=${BNX_GPU_BUILD:-build-gpu}

"$py" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device visible to PyTorch"' ||
  { echo "gpu-check: $py has no CUDA PyTorch or sees no GPU" >&2; exit 1; }
prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || echo unknown)
torch_version=$("$py" -c 'import torch; print(torch.__version__)')
echo "gpu-check: $gpu, PyTorch $torch_version from $prefix" >&2

# The wheel's TorchConfig.cmake needs the CUDA toolkit and nvcc at configure time: name them.
cuda=${CUDA_HOME:-/usr/local/cuda}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
CUDACXX=$cuda/bin/nvcc cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCUDAToolkit_ROOT="$cuda" -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" >"$build.cmake.log" 2>&1 ||
  { tail -n 30 "$build.cmake.log" >&2; exit 1; }
grep -q "CUDA ON" "$build.cmake.log" || { echo "gpu-check: CMake did not find CUDA in that LibTorch" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" 2>&1 | { grep -vE '^\[ *[0-9]+%\] (Building|Linking|Built)' || true; }
ldd "$build/bnx" | grep -q libtorch_cuda || { echo "gpu-check: $build/bnx does not link libtorch_cuda" >&2; exit 1; }

# Tests: the CUDA suite and the CPU suites of the code the GPU path changed.
(cd "$build" && ctest --output-on-failure -R 'cuda_test|sync_batch_norm|precision_test|gradient_reducer|models_test')

bnx=$build/bnx
mpi=(mpiexec -n 1)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
out=$build/gpu-check.md
{
  echo "### GPU training throughput: $gpu, PyTorch $torch_version ($(date -u +%F))"
  echo
  echo "\`$bnx bench train --model M --device cuda --precision bf16 --batch B --norm N --iterations $iterations\` vs"
  echo "\`$py tools/bench/train_step.py M cuda bf16 B $iterations\` (channels-last, median step, 1 GPU)."
  echo "With one GPU, SyncBatchNorm's group has one rank and runs the same kernel as plain BN."
  echo
  echo "| model | batch | bnx SyncBN (img/s) | bnx BN (img/s) | PyTorch eager (img/s) | bnx BN / PyTorch |"
  echo "|---|---|---|---|---|---|"
  for spec in "resnet50 128" "resnet50 256" "bn_inception 128" "bn_inception 256"; do
    set -- $spec
    s=$("${mpi[@]}" "$bnx" bench train --model "$1" --device cuda --precision bf16 --batch "$2" --norm sync --iterations "$iterations")
    b=$("${mpi[@]}" "$bnx" bench train --model "$1" --device cuda --precision bf16 --batch "$2" --norm batch --iterations "$iterations")
    p=$("$py" tools/bench/train_step.py "$1" cuda bf16 "$2" "$iterations")
    "$py" -c "import json,sys; s,b,p=(json.loads(v) for v in sys.argv[3:]); print('| %s | %s | %.0f | %.0f | %.0f | %.2f |' % (sys.argv[1], sys.argv[2], s['images_per_s_per_rank'], b['images_per_s_per_rank'], p['images_per_s_per_rank'], b['images_per_s_per_rank'] / p['images_per_s_per_rank']))" "$1" "$2" "$s" "$b" "$p"
  done
  echo
  echo "Target: bnx at least as fast as PyTorch per image (ratio >= 1.0). For scale, NVIDIA's published"
  echo "ResNet-50 mixed-precision training rate is about 2,470 images/s on one A100."
} | tee "$out"
