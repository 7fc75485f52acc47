#!/usr/bin/env bash
# The GPU tests and benchmark, split between a machine that builds and a
# machine with an NVIDIA GPU (which needs no LLVM, MLIR or network: the
# built programs travel in .gpucarry/, git-ignored).
#
#   bash scripts/gpu-run.sh build     # here: build pquant, compile every GPU
#                                     # test and benchmark into .gpucarry/
#   bash scripts/gpu-run.sh device    # there, from a copy of this tree with
#                                     # .gpucarry/: run them, print the results
#   bash scripts/gpu-run.sh all       # both, on a machine that has everything
#
# `device` needs python3 with numpy (the reference) and, for the PyTorch
# baselines, torch. Set PQUANT_GPU_SKIP_BENCH=1 to run the tests only, and
# PQUANT_GPU_SKIP_MODEL=1 to skip the 1.3B-shape model benchmark.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PQUANT_BUILD_DIR:-$root/build}
carry=$root/.gpucarry
cd "$root"

# Tiny models of the GPU model test: name, then pquant.generate arguments
# (the CPU model test's configurations).
MODELS=(
  "tiny --preset tiny"
  "dense --preset tiny-dense"
  "top2 --preset tiny-top2 --set num_kv_heads=1"
  "odd --preset tiny --set hidden_size=72 --set ffn_bin_size=90"
  "f16 --preset tiny --generator-flag=--f16 --generator-flag=--per-row-scales"
)

stage_build() {
  if [ ! -x "$build/bin/pquant-compile" ]; then
    bash "$root/scripts/setup.sh"
  fi
  flock /tmp/pquant-build.lock cmake --build "$build"
  rm -rf "$carry"
  mkdir -p "$carry"
  # A snapshot of the tools: others may relink build/ meanwhile.
  local tools
  tools=$(mktemp -d "${TMPDIR:-/tmp}/pquant-gpu-tools.XXXXXX")
  cp "$build/bin/pquant-compile" "$build/bin/pquant-import" "$tools/"
  export PYTHONPATH=$root/python:$root/test/Integration/GPU
  export PATH=$tools:$PATH
  local py=/usr/bin/python3
  $py test/Integration/GPU/check_gpu_layers.py --stage build --work "$carry/layers" \
    --runtime "$root" --lib "$build/lib"
  for entry in "${MODELS[@]}"; do
    read -r name flags <<<"$entry"
    # shellcheck disable=SC2086
    $py test/Integration/GPU/check_gpu_model.py --stage build --work "$carry/model-$name" $flags
  done
  $py bench/gpu_bitlinear.py --out "$carry/bench" --build "$build" --tools "$tools"
  if [ "${PQUANT_GPU_SKIP_MODEL:-0}" = 0 ]; then
    $py bench/gpu_model.py build --out "$carry/model13" --tools "$tools"
  fi
  # The reference's checkpoints are regenerated where they are needed; the
  # objects and sources of the harnesses stay here.
  find "$carry" \( -name '*.o' -o -name 'ckpt' -o -name 'cpu.pqw' -o -name 'cpu' \) -prune -exec rm -rf {} +
  rm -rf "$tools"
  du -sh "$carry"
}

stage_device() {
  export PYTHONPATH=$root/python:$root/test/Integration/GPU
  export PYTHONUNBUFFERED=1
  # A hung kernel must not eat the machine's time: every step is bounded.
  local py="timeout 300 python3" failed=0
  nvidia-smi -L || true
  echo "== GPU layers against the numpy reference"
  $py test/Integration/GPU/check_gpu_layers.py --stage run --work "$carry/layers" || failed=1
  for entry in "${MODELS[@]}"; do
    read -r name flags <<<"$entry"
    echo "== GPU model '$name' ($flags)"
    $py test/Integration/GPU/check_gpu_model.py --stage run --work "$carry/model-$name" || failed=1
  done
  if [ "${PQUANT_GPU_SKIP_BENCH:-0}" = 0 ]; then
    echo "== BitLinear GEMV (pquant kernels)"
    timeout 120 "$carry/bench/gpu_bitlinear" || failed=1
    echo "== PyTorch fp16 GEMV"
    $py bench/gpu_torch.py gemv || failed=1
    if [ "${PQUANT_GPU_SKIP_MODEL:-0}" = 0 ] && [ -d "$carry/model13" ]; then
      echo "== 1.3B-shape model decode"
      # Checkpoints kept for later runs on this machine (another build's).
      $py bench/gpu_model.py device --out "$carry/model13" \
        --checkpoints "${TMPDIR:-/tmp}/pquant-gpu-checkpoints" || failed=1
      echo "== PyTorch fp16 model of the same shape"
      $py bench/gpu_torch.py model || failed=1
    fi
  fi
  if [ "$failed" = 0 ]; then echo "gpu-run: all passed"; else echo "gpu-run: FAILURES"; fi
  return $failed
}

case "${1:-}" in
  build) stage_build ;;
  device) stage_device ;;
  all) stage_build && stage_device ;;
  *) echo "usage: $0 build|device|all" >&2; exit 2 ;;
esac
