#!/usr/bin/env bash
# Reproduces the paper's BN-vs-baseline experiment (Ioffe & Szegedy 2015, Section 4.2, Figure 3):
# trains each variant of a config set, skipping finished runs and resuming interrupted ones, then
# prints the steps-to-accuracy table and writes the accuracy-vs-steps plot.
#
#   tools/reproduce.sh --quick      the README's main job: Inception vs BN-x30 on Fashion-MNIST,
#                                   2500 steps each (about 10 minutes on 2 cores)
#   tools/reproduce.sh              all five variants (5000 steps each) and the MLP experiment
#   tools/reproduce.sh --configs configs/imagenet --launcher "mpirun -np 8"   ImageNet on a cluster
#
# Options: --out DIR (default runs/reproduce), --variants "a b ...", --set key=value
# (applied to every run), --no-build.
set -euo pipefail
cd "$(dirname "$0")/.."
configs=configs/fashion_mnist
variants="inception bn_baseline bn_x5 bn_x30 bn_x5_sigmoid"
mlp=1
out=""
launcher=""
build=1
sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) variants="inception bn_x30"; mlp=0; sets+=(--set train.steps=2500); shift ;;
    --configs) configs=$2; mlp=0; shift 2 ;;
    --variants) variants=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --launcher) launcher=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "reproduce.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
out=${out:-runs/reproduce}
if [ $build = 1 ]; then
  tools/setup.sh
  tools/build.sh
fi
mkdir -p "$out"
run() {  # run NAME: train configs/NAME.yaml into $out/NAME (resuming; a finished run is skipped)
  local name=$1
  echo "== $name"
  # shellcheck disable=SC2086
  $launcher build/bnx train --config "$configs/$name.yaml" --out "$out/$name" --resume auto "${sets[@]}"
}
runs=()
for v in $variants; do
  run "$v"
  runs+=("$out/$v")
done
echo
echo "== Steps to the baseline's best accuracy (paper: Figure 3)"
build/bnx compare "${runs[@]}" --markdown "$out/table.md" --svg "$out/curves.svg"
if [ $mlp = 1 ]; then
  run mlp
  run mlp_bn
  echo
  echo "== The MNIST experiment (Section 4.1) on Fashion-MNIST"
  build/bnx compare "$out/mlp" "$out/mlp_bn" --markdown "$out/mlp_table.md" --svg "$out/mlp_curves.svg"
fi
echo "table: $out/table.md"
