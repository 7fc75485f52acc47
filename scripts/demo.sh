#!/usr/bin/env bash
# The main job end to end: set up (install what is missing, build), make a
# small byte-level pQuant model, import it, compile it for this machine, and
# generate text from a prompt, printing tokens/s.
#
# Until a trained model is bundled (issue 9) the model has seeded random
# weights with trained-model statistics: the pipeline and the speed are real,
# the text is not Shakespeare.
#
#   bash scripts/demo.sh [--prompt TEXT] [-n TOKENS]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PQUANT_BUILD_DIR:-$root/build}
work=${PQUANT_DEMO_DIR:-$build/demo}
prompt="ROMEO: "
tokens=64
while (($#)); do
  case $1 in
    --prompt) prompt=$2; shift 2 ;;
    -n) tokens=$2; shift 2 ;;
    *) echo "usage: bash scripts/demo.sh [--prompt TEXT] [-n TOKENS]" >&2; exit 1 ;;
  esac
done

bash "$root/scripts/setup.sh" >/dev/null
mkdir -p "$work"

echo "== a byte-level model: 8 layers, hidden 512, 4 int8 experts (seeded random weights)"
PYTHONPATH="$root/python" /usr/bin/python3 -m pquant.generate --preset tiny --seed 0 \
  --set hidden_size=512 --set num_layers=8 --set num_heads=8 --set num_kv_heads=4 \
  --set ffn_bin_size=1365 --set ffn_hp_size=64 --set max_seq_len=512 -o "$work/ckpt"
echo "== pquant-import"
"$build/bin/pquant-import" "$work/ckpt" -o "$work/model.mlir"
echo "== pquant-compile -target=host"
"$build/bin/pquant-compile" "$work/model.mlir" -target=host -o "$work/model"
echo "== ./model --prompt \"$prompt\" -n $tokens"
"$work/model" --prompt "$prompt" -n "$tokens"
