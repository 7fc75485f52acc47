#!/usr/bin/env bash
# The main job end to end: set up (install what is missing, build), then take
# the bundled trained model, examples/shakespeare (a byte-level pQuant model
# trained on Tiny Shakespeare, see docs/training.md), import it, compile it for
# this machine, and generate text from a prompt, printing tokens/s.
#
#   bash scripts/demo.sh [--prompt TEXT] [-n TOKENS] [--temperature T] [--seed S]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PQUANT_BUILD_DIR:-$root/build}
work=${PQUANT_DEMO_DIR:-$build/demo}
prompt=$'ROMEO:\n'
tokens=300
temperature=0.8
seed=1
while (($#)); do
  case $1 in
    --prompt) prompt=$2; shift 2 ;;
    -n) tokens=$2; shift 2 ;;
    --temperature) temperature=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "usage: bash scripts/demo.sh [--prompt TEXT] [-n TOKENS] [--temperature T] [--seed S]" >&2; exit 1 ;;
  esac
done

bash "$root/scripts/setup.sh" >/dev/null
mkdir -p "$work"

echo "== examples/shakespeare: byte-level pQuant, 6 layers, hidden 256, 1-bit FFN 672 + 4 int8 experts of 64 (top-1), 5.6M parameters"
echo "== pquant-import"
"$build/bin/pquant-import" "$root/examples/shakespeare" -o "$work/model.mlir"
echo "== pquant-compile -target=host"
"$build/bin/pquant-compile" "$work/model.mlir" -target=host -o "$work/model"
echo "== ./model --prompt ... -n $tokens --temperature $temperature --seed $seed"
printf '%s' "$prompt"
"$work/model" --prompt "$prompt" -n "$tokens" --temperature "$temperature" --seed "$seed"
