"""Prints the greedy continuation reference.Model gives: the oracle for
compiled executables.

Usage: reference_greedy.py CHECKPOINT_DIR TOKENS N [--int8-lm-head] [--int8-embedding]
(TOKENS: 72,101,108). Prints the N generated token ids, comma separated, as
`model --tokens` does; --int8-lm-head / --int8-embedding for a model compiled
with --lm-head=int8 / --embedding=int8.
"""

import sys

import numpy as np

from pquant import checkpoint as ckpt
from pquant import reference as ref


def main():
    directory, prompt, count = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], int(sys.argv[3])
    flags = set(sys.argv[4:])
    unknown = flags - {"--int8-lm-head", "--int8-embedding"}
    if unknown:
        sys.exit(f"reference_greedy.py: unknown flags {sorted(unknown)}")
    model = ref.Model(*ckpt.load_checkpoint(directory), int8_lm_head="--int8-lm-head" in flags,
                      int8_embedding="--int8-embedding" in flags)
    logits = model.prefill(prompt)[-1]
    generated = []
    for _ in range(count):
        generated.append(int(np.argmax(logits)))
        logits = model.decode(generated[-1])
    print(",".join(map(str, generated)))


if __name__ == "__main__":
    main()
