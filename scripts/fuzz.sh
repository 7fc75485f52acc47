#!/usr/bin/env bash
# Builds the fuzzers (an ASan + UBSan build with -DPQUANT_FUZZERS=ON) and runs
# each for a bounded time; see docs/fuzzing.md.
#
#   bash scripts/fuzz.sh [-t SECONDS] [-r RUNS] [--fresh] [NAME...]
#
#   NAME        ir, checkpoint, artifact, runtime (default: all four)
#   -t SECONDS  fuzz each for this long (default 60)
#   -r RUNS     or stop each after this many executions
#   --fresh     start from the committed seeds, not the corpus grown by
#               earlier runs
#
# Build tree: $PQUANT_SANITIZE_BUILD_DIR, default ./build-sanitize (configured
# here the first time, with ccache if it is installed). New inputs go to
# BUILD/fuzz/corpus/NAME, crashes to BUILD/fuzz/crashes/NAME/. Each fuzzer
# prints one line with its executions and speed; the last line is
# "N passed, N failed". Exit status 1 if any fuzzer found a crash, a leak,
# a timeout or ran out of memory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PQUANT_SANITIZE_BUILD_DIR:-$root/build-sanitize}
seconds=60 runs="" fresh=0 names=()
while (($#)); do
  case $1 in
    -t) seconds=$2; shift 2 ;;
    -r) runs=$2; shift 2 ;;
    --fresh) fresh=1; shift ;;
    ir|checkpoint|artifact|runtime) names+=("$1"); shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
((${#names[@]})) || names=(ir checkpoint artifact runtime)

if [[ ! -f $build/build.ninja ]]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld -DPQUANT_SANITIZE=ON -DPQUANT_FUZZERS=ON \
    "${launcher[@]}"
fi
cmake --build "$build" --target pquant-fuzzers

passed=0 failed=0
for name in "${names[@]}"; do
  source=$root/fuzz/$name
  corpus=$build/fuzz/corpus/$name
  crashes=$build/fuzz/crashes/$name
  log=$build/fuzz/$name.log
  ((fresh)) && rm -rf "$corpus"
  mkdir -p "$corpus" "$crashes"
  inputs=("$corpus" "$source/corpus")
  [[ -d $source/regressions ]] && inputs+=("$source/regressions")
  flags=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10
         -rss_limit_mb=2560 -artifact_prefix="$crashes/")
  [[ -n $runs ]] && flags+=(-runs="$runs")
  [[ -f $source/$name.dict ]] && flags+=(-dict="$source/$name.dict")
  # The runtime fuzzer drives the model's command line, which prints.
  [[ $name == runtime ]] && flags+=(-close_fd_mask=1)
  status=0
  # A leak is a failure too; a sanitizer report must not pass as exit 1.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$build/bin/pquant-$name-fuzzer" "${flags[@]}" "${inputs[@]}" >"$log" 2>&1 ||
    status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if ((status == 0)); then
    echo "fuzz $name: ok, ${executions:-?} executions, ${speed:-?} exec/s, corpus $(ls "$corpus" | wc -l) files"
    passed=$((passed + 1))
  else
    echo "fuzz $name: FAILED (exit status $status), log $log; what it found:"
    grep -aE '^==[0-9]+==ERROR|SUMMARY|runtime error|Test unit written|^(ir|artifact|runtime)-fuzzer:' "$log" | head -20 | sed 's/^/  /'
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
((failed == 0))
