"""Compiles a whole tiny model and checks its logits against reference.Model.

Usage: check_model.py --work DIR --compile "pquant-compile ..." --cc CC
                      [--run PREFIX] --preset NAME [--set key=value ...]
                      [--generator-flag=--f16 ...]

Generates a checkpoint, imports it with --inline-weights, compiles it, and
runs a prompt (prefill, then prefill_last of its tokens from the fourth on: the
last row only) then 16 decode steps through a C harness that owns the KV caches. The decode steps are fed the reference's greedy tokens, so
the two sides see the same inputs at every step: the argmax must be equal at
every step and the logits within 1e-4 of the largest magnitude.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

import harness

from pquant import checkpoint as ckpt
from pquant import reference as ref

TOLERANCE = 1e-4
# 20 tokens: the attention kernel takes prompt tokens 8 at a time on its query
# lanes (2 blocks), the rest by rows 4 at a time (a block). prefill_last runs the
# prompt again from row RESUME: 2 lane blocks that start past row 0, then a
# single token by rows.
PROMPT = list(b"Hello, world. How ar")
RESUME = 3
STEPS = 16

C_HARNESS = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#define DESCRIPTOR(T, R) struct { T *allocated, *aligned; int64_t offset, sizes[R], strides[R]; }
typedef DESCRIPTOR(int32_t, 1) Tokens;
typedef DESCRIPTOR(float, 2) Logits;
typedef DESCRIPTOR(float, 4) Cache;
void _mlir_ciface_prefill(Logits *, Tokens *, int64_t, Cache *, Cache *);
void _mlir_ciface_prefill_last(Logits *, Tokens *, int64_t, Cache *, Cache *);
void _mlir_ciface_decode(Logits *, Tokens *, int64_t, Cache *, Cache *);

static const int32_t prompt[] = {%(prompt)s};
static const int32_t steps[] = {%(steps)s};

static void emit(Logits *logits, FILE *out) {
  fwrite(logits->aligned, sizeof(float), logits->sizes[0] * logits->sizes[1], out);
  free(logits->allocated);
}

int main(int argc, char **argv) {
  const int64_t shape[4] = {%(cache_shape)s};
  const int64_t count = shape[0] * shape[1] * shape[2] * shape[3];
  float *keys = calloc(count, sizeof(float)), *values = calloc(count, sizeof(float));
  Cache k = {keys, keys, 0, {shape[0], shape[1], shape[2], shape[3]},
             {shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1}};
  Cache v = k;
  v.allocated = v.aligned = values;
  FILE *out = fopen(argv[1], "wb");
  const int64_t length = sizeof(prompt) / sizeof(prompt[0]);
  Tokens tokens = {(int32_t *)prompt, (int32_t *)prompt, 0, {length}, {1}};
  Logits logits;
  _mlir_ciface_prefill(&logits, &tokens, 0, &k, &v);
  emit(&logits, out);
  /* The prompt again from row %(resume)s: the cache rows it writes are the
     same, and the rows before them are the first run's. */
  Tokens rest = {(int32_t *)prompt + %(resume)s, (int32_t *)prompt + %(resume)s, 0,
                 {length - %(resume)s}, {1}};
  _mlir_ciface_prefill_last(&logits, &rest, %(resume)s, &k, &v);
  if (logits.sizes[0] != 1) {
    fprintf(stderr, "prefill_last returned %%lld rows\n", (long long)logits.sizes[0]);
    return 1;
  }
  emit(&logits, out);
  for (int64_t i = 0; i < (int64_t)(sizeof(steps) / sizeof(steps[0])); ++i) {
    Tokens token = {(int32_t *)&steps[i], (int32_t *)&steps[i], 0, {1}, {1}};
    _mlir_ciface_decode(&logits, &token, length + i, &k, &v);
    emit(&logits, out);
  }
  fclose(out);
  free(keys);
  free(values);
  return 0;
}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag in ("--work", "--compile", "--cc", "--preset"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--run", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--generator-flag", action="append", default=[],
                        help="a flag for pquant.generate, e.g. --f16")
    parser.add_argument("--import", dest="importer", default="pquant-import")
    args = parser.parse_args()

    os.makedirs(args.work, exist_ok=True)
    path = lambda name: os.path.join(args.work, name)
    sets = [item for pair in args.set for item in ("--set", pair)]
    harness.run([sys.executable, "-m", "pquant.generate", "--preset", args.preset, "--seed",
                 str(args.seed), "-o", path("ckpt")] + sets + args.generator_flag,
                stdout=subprocess.DEVNULL)
    harness.run([args.importer, path("ckpt"), "--inline-weights", "-o", path("model.mlir")],
                stdout=subprocess.DEVNULL)

    config, weights = ckpt.load_checkpoint(path("ckpt"))
    model = ref.Model(config, weights)
    expected = [model.prefill(PROMPT)]
    expected.append(expected[0][-1:])
    steps = []
    for _ in range(STEPS):
        steps.append(int(np.argmax(expected[-1][-1])))
        expected.append(model.decode(steps[-1])[None, :])

    cache_shape = [config.num_layers, config.max_seq_len, config.num_kv_heads, config.head_dim]
    with open(path("harness.c"), "w") as f:
        f.write(C_HARNESS % {"prompt": ", ".join(map(str, PROMPT)), "steps": ", ".join(map(str, steps)),
                             "cache_shape": ", ".join(map(str, cache_shape)), "resume": RESUME})
    harness.compile_and_run(args, path("model.mlir"), path("harness.c"), [path("logits.bin")])

    got_all = np.fromfile(path("logits.bin"), np.float32)
    offset, failures = 0, 0
    for step, want in enumerate(expected):
        got = got_all[offset:offset + want.size].reshape(want.shape)
        offset += want.size
        error = float(np.max(np.abs(got - want))) / float(np.max(np.abs(want)))
        same = np.array_equal(np.argmax(got, axis=-1), np.argmax(want, axis=-1))
        ok = same and error <= TOLERANCE
        failures += not ok
        name = ["prefill", "prefill_last"][step] if step < 2 else f"decode {step - 1}"
        print(f"{'ok  ' if ok else 'FAIL'} {name}: argmax {'equal' if same else 'DIFFERS'}, "
              f"max error {error:.2e} of the largest logit")
    if offset != got_all.size:
        sys.exit(f"harness wrote {got_all.size} logits, expected {offset}")
    print(f"{len(expected) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
