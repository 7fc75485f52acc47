"""Prints the greedy continuation reference.Model gives: the oracle for
compiled executables.

Usage: reference_greedy.py CHECKPOINT_DIR TOKENS N [--int8-lm-head]
(TOKENS: 72,101,108). Prints the N generated token ids, comma separated, as
`model --tokens` does; --int8-lm-head for a model compiled with
--lm-head=int8.
"""

import sys

import numpy as np

from pquant import checkpoint as ckpt
from pquant import reference as ref


def main():
    directory, prompt, count = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], int(sys.argv[3])
    int8_lm_head = sys.argv[4:] == ["--int8-lm-head"]
    model = ref.Model(*ckpt.load_checkpoint(directory), int8_lm_head=int8_lm_head)
    logits = model.prefill(prompt)[-1]
    generated = []
    for _ in range(count):
        generated.append(int(np.argmax(logits)))
        logits = model.decode(generated[-1])
    print(",".join(map(str, generated)))


if __name__ == "__main__":
    main()
