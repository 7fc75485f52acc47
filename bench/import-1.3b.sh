#!/usr/bin/env bash
# Generates the 1.3B-shape checkpoint (hidden 2048, 24 layers, 8 int8 experts,
# vocab 32000) and reports how long pquant-import takes and how large the IR
# is. Needs a build (scripts/setup.sh) and ~1 GB of free space under $TMPDIR.
#
#   bash bench/import-1.3b.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PQUANT_BUILD_DIR:-$root/build}
work=$(mktemp -d "${TMPDIR:-/tmp}/pquant-import-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

start=$(date +%s.%N)
PYTHONPATH="$root/python" /usr/bin/python3 -m pquant.generate --preset 1.3b --seed 0 -o "$work/ckpt"
generated=$(date +%s.%N)
"$build/bin/pquant-import" "$work/ckpt" -o "$work/model.mlir"
imported=$(date +%s.%N)
"$build/bin/pquant-opt" "$work/model.mlir" -o /dev/null
verified=$(date +%s.%N)

checkpoint_bytes=$(stat -c %s "$work/ckpt/model.safetensors")
mlir_bytes=$(stat -c %s "$work/model.mlir")
awk -v t0="$start" -v t1="$generated" -v t2="$imported" -v t3="$verified" \
    -v c="$checkpoint_bytes" -v m="$mlir_bytes" 'BEGIN {
  printf "generate 1.3b checkpoint: %6.2f s (%.0f MB)\n", t1 - t0, c / 1e6
  printf "pquant-import:            %6.2f s\n", t2 - t1
  printf "pquant-opt parse+verify:  %6.2f s\n", t3 - t2
  printf "model.mlir:               %6.0f KB (%.4f%% of the checkpoint)\n", m / 1e3, 100 * m / c
}'
