#!/usr/bin/env bash
# Sets up (installs what is missing, builds) and runs every test through
# ctest. Its last lines are ctest's summary.
#
#   bash scripts/test.sh [extra ctest arguments]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PQUANT_BUILD_DIR:-$root/build}

bash "$root/scripts/setup.sh"
cd "$build"
exec ctest --output-on-failure "$@"
