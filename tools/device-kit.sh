#!/usr/bin/env bash
# Assembles the device kit: everything bnx needs on a bare CUDA machine beyond a C++ compiler,
# CMake/ninja, CUDA and a PyTorch wheel's LibTorch (Open MPI with mpiexec, the OpenCV modules bnx
# uses, yaml-cpp, CLI11, nlohmann-json, libjpeg-turbo, zlib, GoogleTest), from Debian 12's packages
# (apt-get download + dpkg -x; nothing compiled), pruned of documentation, manuals, static archives
# (except GoogleTest's, which Debian ships only static) and shared libraries that no kept library
# needs (Open MPI's transport plugins for InfiniBand, UCX, libfabric, PSM are left out: ranks on one
# node talk through shared memory and TCP). Writes the kit to .kit/ (ignored), with MANIFEST (the
# packages and versions) and env.sh (paths to source on the target, OPAL_PREFIX for the relocated
# Open MPI) and data/fashion-mnist (a 10,000-image training subset and the test set, for the GPU
# run). Idempotent: a kit whose MANIFEST matches the package versions is kept as it is.
#
#   tools/device-kit.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=.kit
[ "${1:-}" = --out ] && out=$2
arch=x86_64-linux-gnu
packages=(
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7
  libopencv-core-dev libopencv-core406 libopencv-imgproc-dev libopencv-imgproc406 libtbb12 libblas3 liblapack3
  libgfortran5 libquadmath0 libglx0 libglvnd0 libx11-6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0
  libyaml-cpp-dev libyaml-cpp0.7 libcli11-dev nlohmann-json3-dev libjpeg62-turbo-dev libjpeg62-turbo
  zlib1g-dev zlib1g libgtest-dev libudev1 libpmix2 libmunge2
)
manifest=$(for p in "${packages[@]}"; do echo "$p $(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')"; done)
if [ -f "$out/MANIFEST" ] && [ "$(cat "$out/MANIFEST")" = "$manifest" ]; then
  echo "device-kit: $out is current ($(du -sh "$out" | cut -f1))"
  exit 0
fi
start=$(date +%s)
work=$(mktemp -d /tmp/bnx_kit_XXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "${packages[@]}" >/dev/null)
mkdir -p "$work/root"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
rm -rf "$out"
mkdir -p "$out"
root=$work/root
# Headers and CMake/pkg-config files of the -dev packages, Open MPI's tools and data.
cp -a "$root/usr/include" "$out/include"
mkdir -p "$out/lib" "$out/bin" "$out/share"
cp -a "$root/usr/lib/$arch/cmake" "$root/usr/lib/$arch/pkgconfig" "$out/lib/" 2>/dev/null || true
mkdir -p "$out/share/cmake" "$out/lib/cmake"
cp -a "$root/usr/share/cmake/." "$out/share/cmake/" 2>/dev/null || true  # CLI11, nlohmann_json
cp -a "$root/usr/lib/cmake/." "$out/lib/cmake/" 2>/dev/null || true
mkdir -p "$out/lib/$arch"  # Open MPI relocated by OPAL_PREFIX keeps Debian's layout below the prefix
cp -a "$root/usr/lib/$arch/openmpi" "$out/lib/$arch/openmpi"
cp -a "$root/usr/share/openmpi" "$out/share/openmpi"
for tool in mpiexec mpirun orterun orted opal_wrapper ompi_info; do
  src=$(readlink -f "$root/usr/bin/$tool" 2>/dev/null || true)
  [ -n "$src" ] && [ -f "$src" ] && cp "$src" "$out/bin/$tool"
done
cp -a "$root/usr/lib/$arch/openmpi/bin/." "$out/bin/" 2>/dev/null || true
ln -sf orterun "$out/bin/mpiexec"  # Debian points these through /etc/alternatives
ln -sf orterun "$out/bin/mpirun"
cp -a "$root/usr/lib/$arch/pmix2" "$out/lib/pmix2" 2>/dev/null || true
# Open MPI plugins and libraries for transports a single-GPU machine does not have, and the Fortran
# and Java bindings.
find "$out/lib/$arch/openmpi" -name 'mca_*' \( -name '*openib*' -o -name '*ucx*' -o -name '*ofi*' -o -name '*psm*' \
  -o -name '*verbs*' -o -name '*portals*' -o -name '*usnic*' -o -name '*cuda*' -o -name '*ugni*' \) -delete
find "$out/lib/$arch/openmpi" -name 'mca_reachable_netlink*' -delete
# Shared libraries, with their symlinks; static archives only for GoogleTest.
cp -a "$root/usr/lib/$arch/"*.so* "$out/lib/" 2>/dev/null || true
cp -a "$root/lib/$arch/"*.so* "$out/lib/" 2>/dev/null || true
rm -f "$out/lib/"libmca_common_{ofi,ucx,verbs}.so* "$out/lib/"libmpi_java.so* "$out/lib/"libmpi_mpifh*.so* \
  "$out/lib/"libmpi_usempi*.so* "$out/lib/"liboshmem.so* "$out/lib/"libompitrace.so* 2>/dev/null || true
cp -a "$root/usr/lib/$arch/"libgtest*.a "$root/usr/lib/$arch/"libgmock*.a "$out/lib/" 2>/dev/null || true  # GTestTargets names both
cp -a "$root/usr/lib/$arch/blas" "$root/usr/lib/$arch/lapack" "$out/lib/" 2>/dev/null || true
find "$out" \( -name '*.a' -a ! -name 'libg[tm]*' \) -delete
rm -rf "$out/share/doc" "$out/share/man"
# The data travels too: a Fashion-MNIST subset (10,000 training images, the 10,000 test images).
python3 tools/fashion-subset.py --train 10000 --out "$out/data/fashion-mnist" >/dev/null
echo "$manifest" >"$out/MANIFEST"
cat >"$out/env.sh" <<'ENV'
# Source on the target: the kit's tools, libraries and CMake packages; Open MPI relocated here.
kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export OPAL_PREFIX=$kit
export PATH=$kit/bin:$PATH
export LD_LIBRARY_PATH=$kit/lib:$kit/lib/blas:$kit/lib/lapack:$kit/lib/x86_64-linux-gnu/openmpi/lib:${LD_LIBRARY_PATH:-}
export CMAKE_PREFIX_PATH=$kit:$kit/lib/cmake:${CMAKE_PREFIX_PATH:-}
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_pml=ob1
export PMIX_MCA_mca_base_component_path=$kit/lib/pmix2/lib/pmix
ENV
echo "device-kit: $out: $(du -sh "$out" | cut -f1) from ${#packages[@]} packages in $(( $(date +%s) - start )) s"
