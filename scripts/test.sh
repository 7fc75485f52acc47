#!/usr/bin/env bash
# Sets up (installs what is missing, builds) and runs every test, in three
# stages:
#
#   1. the suite (ctest) in ./build
#   2. the suite again in an ASan + UBSan build with the fuzzers,
#      ./build-sanitize (also runs each fuzzer over its seeds and regressions)
#   3. each fuzzer for 60 seconds (scripts/fuzz.sh)
#
# Its last line is "N passed, N failed": ctest's tests of both suites plus
# one per fuzzer run (and one failure for a build that failed). Exit status 1
# if anything failed.
#
#   bash scripts/test.sh [extra ctest arguments]
#
#   PQUANT_TEST_SANITIZE=0       skip stages 2 and 3
#   PQUANT_TEST_FUZZ_SECONDS=N   fuzz each fuzzer N seconds; 0 skips stage 3
#   PQUANT_BUILD_DIR, PQUANT_SANITIZE_BUILD_DIR   the two build trees
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PQUANT_BUILD_DIR:-$root/build}
sanitize_build=${PQUANT_SANITIZE_BUILD_DIR:-$root/build-sanitize}
fuzz_seconds=${PQUANT_TEST_FUZZ_SECONDS:-60}
passed=0 failed=0
summaries=()

# Runs ctest in $1 with the rest as arguments; adds its counts.
run_ctest() {
  local dir=$1 name=$2 log
  shift 2
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log"
  local line total fails
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  rm -f "$log"
  if [[ -z $line ]]; then
    summaries+=("$name: ctest gave no summary")
    failed=$((failed + 1))
    return
  fi
  fails=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  summaries+=("$name: $line")
}

stage() { printf '\n=== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

stage "suite in $build"
if bash "$root/scripts/setup.sh"; then
  run_ctest "$build" suite "$@"
else
  summaries+=("suite: setup or build FAILED")
  failed=$((failed + 1))
fi

if [[ ${PQUANT_TEST_SANITIZE:-1} != 0 ]]; then
  stage "ASan + UBSan suite in $sanitize_build"
  if PQUANT_BUILD_DIR=$sanitize_build PQUANT_CMAKE_ARGS="-DPQUANT_SANITIZE=ON -DPQUANT_FUZZERS=ON" \
      bash "$root/scripts/setup.sh"; then
    run_ctest "$sanitize_build" sanitizer-suite "$@"
    if ((fuzz_seconds > 0)); then
      stage "fuzzing, $fuzz_seconds s each"
      fuzz_log=$(mktemp)
      PQUANT_SANITIZE_BUILD_DIR=$sanitize_build \
        bash "$root/scripts/fuzz.sh" --fresh -t "$fuzz_seconds" 2>&1 | tee "$fuzz_log"
      fuzz_passed=$(grep -cE '^fuzz [a-z]+: ok' "$fuzz_log")
      fuzz_failed=$(grep -cE '^fuzz [a-z]+: FAILED' "$fuzz_log")
      if ((fuzz_passed + fuzz_failed == 0)); then fuzz_failed=1; fi
      rm -f "$fuzz_log"
      passed=$((passed + fuzz_passed))
      failed=$((failed + fuzz_failed))
      summaries+=("fuzzing: $fuzz_passed passed, $fuzz_failed failed")
    fi
  else
    summaries+=("sanitizer-suite: setup or build FAILED")
    failed=$((failed + 1))
  fi
fi

stage summary
printf '%s\n' "${summaries[@]}"
echo "$passed passed, $failed failed"
((failed == 0))
