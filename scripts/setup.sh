#!/usr/bin/env bash
# Installs the Debian packages pquant needs (only those missing), then
# configures (once) and builds (incrementally) into ./build.
#
#   bash scripts/setup.sh            # install + configure + build
#   PQUANT_BUILD_DIR=out bash scripts/setup.sh
#   PQUANT_CMAKE_ARGS="-DPQUANT_SANITIZE=ON" bash scripts/setup.sh
#                                    # extra cmake arguments, used when the
#                                    # build tree is first configured
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PQUANT_BUILD_DIR:-$root/build}

packages=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  flatbuffers-compiler libflatbuffers-dev ninja-build cmake ccache
  python3-numpy python3-torch libclang-rt-22-dev
  qemu-user gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing missing packages: ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
else
  echo "setup: all ${#packages[@]} Debian packages present"
fi

if [[ ! -f $build/build.ninja ]]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld "${launcher[@]}" ${PQUANT_CMAKE_ARGS:-}
fi

cmake --build "$build"
