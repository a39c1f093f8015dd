#!/usr/bin/env bash
# Installs the Debian 12 packages bnx needs, and nothing when they are all present (idempotent, quiet).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libtorch-dev libopenmpi-dev openmpi-bin libopencv-dev
      libyaml-cpp-dev libgtest-dev zlib1g-dev libjpeg-dev libcli11-dev nlohmann-json3-dev dataset-fashion-mnist
      libtcmalloc-minimal4 python3-torch python3-torchvision python3-pil python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -q >/dev/null
$sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
