#!/usr/bin/env bash
# The 1.3B-shape model's GPU decode (and prefill) speed at several revisions
# of pquant, in one device call, the builds alternating round by round: a
# GPU's speed moves by more than most changes gain from machine to machine
# and from minute to minute, so only runs of one call compare.
#
#   bash scripts/gpu-compare.sh build REV...   # here: each revision's
#         # pquant-compile builds the model into .gpucompare/<n>-<rev>/
#         # (needs a work tree without uncommitted changes to tracked files;
#         # it is checked out at each revision, then back, and rebuilt)
#   bash scripts/gpu-compare.sh device [ROUNDS] [MODES]
#         # there, from a copy of this tree with .gpucompare/: ROUNDS rounds
#         # (default 2) of every build in turn, MODES as bench/gpu_model.py
#         # --modes (default graph), f16; then each build's runs
#
# .gpucompare/ is neither tracked nor ignored, so the device tool carries it
# (about 8 MB a revision).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The build stage checks out other revisions, which may change or lack this
# file: bash must read a copy.
if [ "${1:-}" = build ] && [ -z "${PQUANT_GPU_COMPARE_COPY:-}" ]; then
  copy=$(mktemp "${TMPDIR:-/tmp}/gpu-compare.XXXXXX.sh")
  cp "${BASH_SOURCE[0]}" "$copy"
  PQUANT_GPU_COMPARE_COPY=$copy PQUANT_GPU_COMPARE_ROOT=$root exec bash "$copy" "$@"
fi
root=${PQUANT_GPU_COMPARE_ROOT:-$root}
build=${PQUANT_BUILD_DIR:-$root/build}
out=$root/.gpucompare
cd "$root"

stage_build() {
  [ $# -gt 0 ] || { echo "usage: $0 build REV..." >&2; exit 2; }
  if ! git diff --quiet || ! git diff --cached --quiet; then
    echo "gpu-compare: commit or stash the changes to tracked files first" >&2
    exit 1
  fi
  local revs=() rev
  for rev in "$@"; do
    revs+=("$(git rev-parse --verify --quiet "$rev^{commit}")") ||
      { echo "gpu-compare: no revision '$rev'" >&2; exit 1; }
  done
  if [ ! -x "$build/bin/pquant-compile" ]; then
    bash "$root/scripts/setup.sh"
  fi
  local home
  home=$(git symbolic-ref --quiet --short HEAD || git rev-parse HEAD)
  # Back where we were, whatever happens.
  trap 'rm -f "${PQUANT_GPU_COMPARE_COPY:-}"; git checkout -q "'"$home"'" &&
        flock /tmp/pquant-build.lock cmake --build "'"$build"'" | tail -3' EXIT
  rm -rf "$out"
  mkdir -p "$out"
  local i=0 tools
  tools=$(mktemp -d "${TMPDIR:-/tmp}/pquant-gpu-compare.XXXXXX")
  for rev in "${revs[@]}"; do
    i=$((i + 1))
    local dir
    dir=$out/$i-$(git rev-parse --short "$rev")
    echo "== $dir ($(git log -1 --format=%s "$rev" | cut -c1-70))"
    git checkout -q --detach "$rev"
    flock /tmp/pquant-build.lock cmake --build "$build" >"$dir.log" 2>&1 ||
      { tail -30 "$dir.log"; exit 1; }
    cp "$build/bin/pquant-compile" "$build/bin/pquant-import" "$tools/"
    PYTHONPATH=$root/python /usr/bin/python3 bench/gpu_model.py build --out "$dir/model13" \
      --tools "$tools" >"$dir.log" 2>&1 || { tail -20 "$dir.log"; exit 1; }
    find "$dir" \( -name '*.o' -o -name 'ckpt' -o -name 'cpu.pqw' -o -name 'cpu' \) -prune \
      -exec rm -rf {} +
    rm -f "$dir.log"
  done
  rm -rf "$tools"
  du -sh "$out"
}

stage_device() {
  local rounds=${1:-2} modes=${2:-graph} dir round name line lines
  [ -d "$out" ] || { echo "gpu-compare: no $out (run the build stage first)" >&2; exit 1; }
  export PYTHONPATH=$root/python
  nvidia-smi -L || true
  local results
  results=$(mktemp)
  for round in $(seq "$rounds"); do
    for dir in "$out"/*/; do
      name=$(basename "$dir")
      echo "== round $round: $name"
      lines=$(timeout 300 python3 bench/gpu_model.py device --out "${dir%/}/model13" \
                --variants f16 --modes "$modes" \
                --checkpoints "${TMPDIR:-/tmp}/pquant-gpu-checkpoints" | grep -E "^pquant " || true)
      [ -n "$lines" ] || echo "  no result"
      while IFS= read -r line; do
        [ -n "$line" ] || continue
        echo "  $line"
        echo "$name|$line" >>"$results"
      done <<<"$lines"
    done
  done
  # Per build and measure, the runs in order.
  echo "== tokens/s by build and measure"
  awk -F'|' '{
      measure = $2; sub(/: [0-9]+ tokens\/s.*/, "", measure)
      match($2, /: [0-9]+ tokens\/s/); rate = substr($2, RSTART + 2, RLENGTH - 11)
      key = $1 "  " measure
      if (!(key in runs)) order[n++] = key
      runs[key] = runs[key] " " rate
    } END { for (i = 0; i < n; i++) print order[i] ":" runs[order[i]] }' "$results"
  rm -f "$results"
}

case "${1:-}" in
  build) shift; stage_build "$@" ;;
  device) shift; stage_device "$@" ;;
  *) echo "usage: $0 build REV... | device [ROUNDS] [MODES]" >&2; exit 2 ;;
esac
