#!/usr/bin/env bash
# Rehearses the bare-GPU-machine route on this CPU machine: in a minimal Debian 12 root made with
# debootstrap that has a C++ compiler, CMake, ninja, Python and a LibTorch (Debian's libtorch-dev
# stands in for the PyTorch wheel) but none of bnx's other -dev packages, runs
# `tools/gpu-check.sh --kit .kit.tar.gz --cpu`: configure, build and the CPU test suite with Open MPI, OpenCV,
# yaml-cpp, CLI11, nlohmann-json, libjpeg-turbo and GoogleTest taken from the device kit only.
# Needs root (debootstrap, chroot, mounts) and the network to Debian's mirror; not run by CI.
#
#   tools/rehearse-kit.sh [--root DIR] [--out DIR] [--keep-build]   (default root /var/tmp/bnx-rehearsal)
# --keep-build keeps the previous rehearsal's build folder (an incremental build; the first is full).
set -euo pipefail
cd "$(dirname "$0")/.."
root=/var/tmp/bnx-rehearsal
out=build/rehearsal
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep-build) keep=1; shift ;;
    *) echo "rehearse-kit: unknown argument $1 (use --root DIR, --out DIR, --keep-build)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "rehearse-kit: needs root (debootstrap, chroot)" >&2; exit 2; }
[ -f .kit.tar.gz ] || { echo "rehearse-kit: no kit archive .kit.tar.gz; run tools/device-kit.sh first" >&2; exit 2; }
start=$(date +%s)
say() { echo "[rehearse-kit $(( $(date +%s) - start ))s] $*"; }

# 1. The root: Debian 12 minbase plus the stand-ins for what a GPU machine brings.
if [ ! -f "$root/.bnx-ready" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  say "debootstrap bookworm (minbase) into $root"
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/" && rm -f "$root/etc/apt/sources.list"
  say "installing the compiler, CMake, ninja, Python and libtorch-dev in the root"
  chroot "$root" apt-get update -q >/dev/null
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    g++ cmake ninja-build python3 libtorch-dev dataset-fashion-mnist procps >/dev/null
  touch "$root/.bnx-ready"
fi
# None of bnx's own -dev packages may be in the root: they must come from the kit.
for p in libopenmpi-dev libopencv-dev libopencv-core-dev libopencv-imgproc-dev libyaml-cpp-dev libcli11-dev \
         nlohmann-json3-dev libjpeg62-turbo-dev libjpeg-dev libgtest-dev googletest openmpi-bin; do
  if chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    echo "rehearse-kit: $p is installed in $root; the rehearsal needs a root without it" >&2
    exit 1
  fi
done

# 2. The project as the device tool carries it: the working tree (tracked and untracked, not ignored)
#    and the kit's archive; sizes against the 64 MiB limit of one device call.
mkdir -p "$root/bnx"
kept=/  # a name no entry has: nothing kept
[ $keep = 1 ] && kept=build-kit
find "$root/bnx" -mindepth 1 -maxdepth 1 ! -name "$kept" -exec rm -rf {} +  # hidden files too
git ls-files -co --exclude-standard -z | tar -c --null -T - | tar -x -C "$root/bnx"
cp -a .kit.tar.gz "$root/bnx/.kit.tar.gz"
tree_mib=$(du -sm --apparent-size --exclude=.kit.tar.gz --exclude=build-kit "$root/bnx" | cut -f1)
kit_mib=$(du -sm --apparent-size "$root/bnx/.kit.tar.gz" | cut -f1)
say "carried: working tree ${tree_mib} MiB + kit ${kit_mib} MiB = $(( tree_mib + kit_mib )) MiB (limit 64 MiB)"
[ $(( tree_mib + kit_mib )) -lt 64 ] || { echo "rehearse-kit: the carried set is over 64 MiB" >&2; exit 1; }

# 3. gpu-check's CPU route inside the root, with /proc, /sys and /dev/shm for Open MPI.
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount -t tmpfs tmpfs "$root/dev/shm"
trap 'umount "$root/dev/shm" "$root/proc" 2>/dev/null; umount -R "$root/sys" 2>/dev/null || true' EXIT
say "tools/gpu-check.sh --kit .kit.tar.gz --cpu in the root"
rc=0
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root BNX_GPU_BUILD=build-kit \
  bash -c 'cd /bnx && bash tools/gpu-check.sh --kit .kit.tar.gz --cpu --out /bnx/rehearsal' || rc=$?
mkdir -p "$out"
cp "$root/bnx/rehearsal/gpu-check.log" "$root/bnx/rehearsal/gpu-check.md" "$out/" 2>/dev/null || true
say "gpu-check --cpu exit $rc; log in $out/gpu-check.log"
exit $rc
