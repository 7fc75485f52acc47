#!/usr/bin/env bash
# The training run behind examples/shakespeare and docs/training.md: the pQuant model and its same-size
# 1-bit-only BitNet baseline, trained side by side on one GPU with the same seed, steps and batches, plus
# a short repeat of the pQuant run whose log must equal the first 300 steps of the full one (the
# reproducibility check). Small models leave a GPU mostly idle, so the runs share it.
#
#   bash python/examples/train_gpu.sh DATA_FILE OUT_DIR
# Writes OUT_DIR/pquant/{train.log,summary.json,checkpoint/}, OUT_DIR/bitnet/{train.log,summary.json}
# and OUT_DIR/repeat.log.
set -uo pipefail
data=${1:?usage: train_gpu.sh DATA_FILE OUT_DIR}
out=${2:?usage: train_gpu.sh DATA_FILE OUT_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}
common=(--data "$data" --steps 3000 --seed 0 --time-limit "${TIME_LIMIT:-0}" ${EXTRA:-})
mkdir -p "$out" /tmp/pquant-repeat
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4
"$python" "$here/train_shakespeare.py" --out "$out/pquant" "${common[@]}" > /tmp/pquant.out 2>&1 &
pquant=$!
"$python" "$here/train_shakespeare.py" --out "$out/bitnet" --arch bitnet --ffn-bin-size 928 "${common[@]}" \
  > /tmp/bitnet.out 2>&1 &
bitnet=$!
"$python" "$here/train_shakespeare.py" --out /tmp/pquant-repeat "${common[@]}" --stop-after 300 \
  --score-limit 4096 --sample-tokens 10 > /tmp/repeat.out 2>&1 &
repeat=$!
status=0
wait $repeat || status=1
cp /tmp/pquant-repeat/train.log "$out/repeat.log"
wait $pquant || status=1
wait $bitnet || status=1
for f in /tmp/pquant.out /tmp/bitnet.out /tmp/repeat.out; do echo "== $f"; tail -n 25 "$f"; done
# The repeat's step lines (1..300) must be identical to the full run's.
grep '^step ' "$out/repeat.log" | grep -v validation | awk '$2 <= 300' | sed 's/ [0-9,]* tokens\/s.*//' > /tmp/a
grep '^step ' "$out/pquant/train.log" | grep -v validation | awk '$2 <= 300' | sed 's/ [0-9,]* tokens\/s.*//' > /tmp/b
if cmp -s /tmp/a /tmp/b && [ -s /tmp/a ]; then echo "repeat: the first 300 steps reproduce exactly"
else echo "repeat: DIFFERS"; diff /tmp/a /tmp/b | head; fi
exit $status
