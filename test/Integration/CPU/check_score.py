"""Checks a compiled model's `--score` output against reference.Model.

Usage: check_score.py CHECKPOINT_DIR TEXT_FILE SCORE_OUTPUT [--int8-lm-head]
                      [--int8-embedding] [--tolerance R]

The reference scores the file's bytes teacher-forced in chunks of
max_seq_len (the cache reset between chunks, the first token of a chunk
unpredicted), as the runtime does; the NLL must agree within R relative
(default 1e-4) and the predicted-token count exactly. --int8-lm-head /
--int8-embedding: the model was compiled with --lm-head=int8 /
--embedding=int8.
"""

import argparse
import math
import re
import sys

import numpy as np

from pquant import checkpoint as ckpt
from pquant import reference as ref


def log_softmax(logits):
    shifted = logits.astype(np.float64) - np.max(logits)
    return shifted - math.log(np.sum(np.exp(shifted)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("text")
    parser.add_argument("score_output")
    parser.add_argument("--int8-lm-head", action="store_true")
    parser.add_argument("--int8-embedding", action="store_true")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    directory, text_path, output_path = args.checkpoint, args.text, args.score_output
    config, weights = ckpt.load_checkpoint(directory)
    model = ref.Model(config, weights, int8_lm_head=args.int8_lm_head, int8_embedding=args.int8_embedding)
    tokens = list(open(text_path, "rb").read())
    nll, predicted = 0.0, 0
    for start in range(0, len(tokens), config.max_seq_len):
        chunk = tokens[start:start + config.max_seq_len]
        model.reset()
        logits = model.prefill(chunk)
        for i in range(1, len(chunk)):
            nll -= log_softmax(logits[i - 1])[chunk[i]]
            predicted += 1
    output = open(output_path).read()
    got_count = int(re.search(r"(\d+) predicted", output).group(1))
    got_nll = float(re.search(r"nll: ([\d.]+) nats/token", output).group(1))
    want_nll = nll / predicted
    ok = got_count == predicted and abs(got_nll - want_nll) <= args.tolerance * want_nll
    print(f"{'ok' if ok else 'FAIL'}: compiled {got_nll:.6f} nats/token over {got_count} tokens, "
          f"reference {want_nll:.6f} over {predicted}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
