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
# run). Idempotent: a kit whose MANIFEST matches the package versions and whose RECIPE matches this
# script is kept as it is. Beside the folder it writes DIR.tar.gz (ignored too), the form in which
# the kit travels to a device machine (tools/gpu-check.sh --kit DIR.tar.gz unpacks it): the device
# tool carries at most 64 MiB, working tree included, and the folder alone is about 55 MB. Prints
# what a device call would carry against that limit.
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
pack() {  # the archive that travels
  tar -C "$out" -czf "$out.tar.gz.part" . && mv "$out.tar.gz.part" "$out.tar.gz"
  echo "device-kit: $out.tar.gz: $(du -sh "$out.tar.gz" | cut -f1)"
}
carried() {  # what one device call carries: the working tree (tracked and untracked, not ignored) and the archive
  local tree=0 kit_bytes limit=$((64 * 1024 * 1024))
  git rev-parse --git-dir >/dev/null 2>&1 &&
    tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -n 1 | cut -f1)
  kit_bytes=$(stat -c %s "$out.tar.gz")
  echo "device-kit: a device call carries the working tree ($((tree / 1048576)) MiB) and $out.tar.gz ($((kit_bytes / 1048576)) MiB): $(((tree + kit_bytes) / 1048576)) of 64 MiB"
  if (( tree + kit_bytes > limit )); then echo "device-kit: that is over the device tool's 64 MiB" >&2; exit 1; fi
}
manifest=$(for p in "${packages[@]}"; do echo "$p $(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')"; done)
script=$(sha256sum tools/device-kit.sh tools/fashion-subset.py | sha256sum | cut -c1-16)  # a changed recipe rebuilds too
if [ -f "$out/MANIFEST" ] && [ "$(cat "$out/MANIFEST")" = "$manifest" ] && [ "$(cat "$out/RECIPE" 2>/dev/null)" = "$script" ]; then
  echo "device-kit: $out is current ($(du -sh "$out" | cut -f1))"
  [ "$out.tar.gz" -nt "$out/RECIPE" ] || pack
  carried
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
# The packages' files keep Debian's layout below the kit (include/, lib/ARCH/, share/, bin/): their
# CMake packages find their libraries relative to themselves, and Open MPI, relocated by OPAL_PREFIX,
# finds its plugins, help files and wrapper data the same way.
cp -a "$root/usr/include" "$out/include"
mkdir -p "$out/lib" "$out/bin" "$out/share"
cp -a "$root/usr/lib/$arch" "$out/lib/$arch"
cp -a "$root/lib/$arch/." "$out/lib/$arch/" 2>/dev/null || true  # zlib, libudev (usr-merge)
cp -a "$root/usr/lib/cmake" "$out/lib/cmake" 2>/dev/null || true
cp -a "$root/usr/share/cmake" "$out/share/cmake" 2>/dev/null || true  # CLI11, nlohmann_json
cp -a "$root/usr/share/openmpi" "$out/share/openmpi"
for tool in orterun orted opal_wrapper ompi_info; do
  src=$(readlink -f "$root/usr/bin/$tool" 2>/dev/null || true)
  [ -n "$src" ] && [ -f "$src" ] && cp "$src" "$out/bin/$tool"
done
ln -sf orterun "$out/bin/mpiexec"  # Debian points these through /etc/alternatives
ln -sf orterun "$out/bin/mpirun"
ln -sf opal_wrapper "$out/bin/mpicxx"  # CMake's FindMPI asks the compiler wrapper
# Open MPI plugins and libraries for transports a single-GPU machine does not have, and the Fortran
# and Java bindings; static archives but GoogleTest's (Debian ships only those).
lib=$out/lib/$arch
find "$lib/openmpi" -name 'mca_*' \( -name '*openib*' -o -name '*ucx*' -o -name '*ofi*' -o -name '*psm*' \
  -o -name '*verbs*' -o -name '*portals*' -o -name '*usnic*' -o -name '*cuda*' -o -name '*ugni*' \) -delete
find "$lib/openmpi" -name 'mca_reachable_netlink*' -delete
rm -f "$lib/"libmca_common_{ofi,ucx,verbs}.so* "$lib/"libmpi_java.so* "$lib/"libmpi_mpifh*.so* \
  "$lib/"libmpi_usempi*.so* "$lib/"liboshmem.so* "$lib/"libompitrace.so*
find "$out" \( -name '*.a' -a ! -name 'libg[tm]*' \) -delete
rm -rf "$lib/fortran"  # Open MPI's Fortran modules
find -L "$lib/openmpi/lib" -type l -delete  # development links to what was pruned
# Unversioned names the compiler wrapper links (-lhwloc -levent_core -levent_pthreads), whose -dev
# packages the kit leaves out.
for name in libhwloc libevent_core libevent_pthreads; do
  versioned=$(ls "$lib" | grep -E "^$name(-[0-9.]+)?\.so\.[0-9]+\$") ||  # no head: SIGPIPE under pipefail
    { echo "device-kit: no versioned $name in $lib" >&2; exit 1; }
  versioned=${versioned%%$'\n'*}
  ln -sf "$versioned" "$lib/$name.so"
done
rm -rf "$out/share/doc" "$out/share/man"
# The data travels too: a Fashion-MNIST subset (10,000 training images, the 10,000 test images).
python3 tools/fashion-subset.py --train 10000 --out "$out/data/fashion-mnist" >/dev/null
echo "$manifest" >"$out/MANIFEST"
echo "$script" >"$out/RECIPE"
cat >"$out/env.sh" <<'ENV'
# Source on the target: the kit's tools, libraries and CMake packages; Open MPI relocated here.
kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export OPAL_PREFIX=$kit
export PATH=$kit/bin:$PATH
lib=$kit/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$lib:$lib/blas:$lib/lapack:$lib/openmpi/lib:$lib/pmix2/lib:${LD_LIBRARY_PATH:-}
# Also for a compiler that does not search lib/x86_64-linux-gnu below a prefix (non-Debian systems).
export CMAKE_PREFIX_PATH=$kit:$lib/cmake:$kit/share/cmake:${CMAKE_PREFIX_PATH:-}
export CMAKE_LIBRARY_PATH=$lib:${CMAKE_LIBRARY_PATH:-}
export CMAKE_INCLUDE_PATH=$kit/include:$kit/include/opencv4:${CMAKE_INCLUDE_PATH:-}
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_pml=ob1
# Sandboxed machines (gVisor) may refuse cross-process memory access and hide the CPU topology:
# shared memory without single-copy, and no core binding.
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_hwloc_base_binding_policy=none
# mpiexec's launcher wants an ssh or rsh even for ranks on this machine; a bare one may have neither.
command -v ssh >/dev/null || command -v rsh >/dev/null || export OMPI_MCA_plm_rsh_agent=false
export PMIX_MCA_mca_base_component_path=$lib/pmix2/lib/pmix
ENV
echo "device-kit: $out: $(du -sh "$out" | cut -f1) from ${#packages[@]} packages in $(( $(date +%s) - start )) s"
pack
carried
