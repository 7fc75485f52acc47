"""Compiles a whole tiny model for the GPU and checks it against the numpy
reference and against the same model compiled for this CPU.

Usage: check_gpu_model.py --work DIR [--stage build|run|all] --preset NAME
           [--set key=value ...] [--generator-flag=--f16 ...]
           [--compile "pquant-compile"] [--import pquant-import] [--cc clang-22]

build: generate the checkpoint, import it, compile it three ways with
pquant-compile -target=sm_90 (a shared model for a C harness of the C API, and
an executable) and -target=host (an executable), run the CPU executable for
16 greedy tokens, and compute the reference's logits: a prompt (prefill) then
16 decode steps fed the reference's greedy tokens.
run (on the GPU): the harness writes the GPU model's logits through
pq_prefill_all and pq_decode, with the decode step as a CUDA graph of its
kernels and as one persistent kernel (PQUANT_CUDA_PERSISTENT=1); each step's
argmax must equal the reference's and its logits be within 1e-3 of the
largest. The GPU executable's 16 greedy tokens, with the decode step as a
graph, launched kernel by kernel (PQUANT_CUDA_GRAPHS=0) and as the persistent
kernel, must equal the CPU executable's.
"""

import argparse
import os
import shlex
import subprocess
import sys

import numpy as np

TOLERANCE = 1e-3
PROMPT = [72, 101, 108, 108, 111, 44, 32, 119]  # "Hello, w"
STEPS = 16

C_HARNESS = r"""
#include "pquant/runtime.h"
#include <stdio.h>
#include <stdlib.h>
static const int32_t prompt[] = {%(prompt)s};
static const int32_t steps[] = {%(steps)s};
#define CHECK(call) do { if ((call) != PQ_OK) { fprintf(stderr, "harness: %%s: %%s\n", #call, pq_last_error()); return 1; } } while (0)
int main(int argc, char **argv) {
  pq_model *model;
  CHECK(pq_model_open(argv[1], &model));
  const int64_t vocab = pq_model_config(model)->vocab_size;
  const int64_t length = sizeof(prompt) / sizeof(prompt[0]);
  float *logits = malloc(sizeof(float) * vocab * length);
  FILE *out = fopen(argv[2], "wb");
  CHECK(pq_prefill_all(model, prompt, length, logits));
  fwrite(logits, sizeof(float), vocab * length, out);
  for (int64_t i = 0; i < (int64_t)(sizeof(steps) / sizeof(steps[0])); ++i) {
    CHECK(pq_decode(model, steps[i], logits));
    fwrite(logits, sizeof(float), vocab, out);
  }
  fclose(out);
  pq_model_close(model);
  free(logits);
  return 0;
}
"""


def run(command, **kwargs):
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, check=True, **kwargs)


def build(args, path):
    from pquant import checkpoint as ckpt
    from pquant import reference as ref
    sets = [item for pair in args.set for item in ("--set", pair)]
    run([sys.executable, "-m", "pquant.generate", "--preset", args.preset, "--seed", str(args.seed),
         "-o", path("ckpt")] + sets + args.generator_flag, stdout=subprocess.DEVNULL)
    run([args.importer, path("ckpt"), "-o", path("model.mlir")], stdout=subprocess.DEVNULL)
    compile_ = shlex.split(args.compile)
    run(compile_ + [path("model.mlir"), "-target=sm_90", "--emit=shared", "-o", path("gpu.so")])
    run(compile_ + [path("model.mlir"), "-target=sm_90", "-o", path("gpu")])
    run(compile_ + [path("model.mlir"), "-target=host", "-o", path("cpu")])
    tokens = ",".join(map(str, PROMPT))
    cpu = run([path("cpu"), "--tokens", tokens, "-n", str(STEPS)], capture_output=True, text=True)
    with open(path("cpu-tokens.txt"), "w") as f:
        f.write(cpu.stdout.strip() + "\n")

    model = ref.Model(*ckpt.load_checkpoint(path("ckpt")))
    expected = [model.prefill(PROMPT)]
    steps = []
    for _ in range(STEPS):
        steps.append(int(np.argmax(expected[-1][-1])))
        expected.append(model.decode(steps[-1])[None, :])
    np.save(path("expected.npy"), np.concatenate(expected).astype(np.float32))
    with open(path("reference-tokens.txt"), "w") as f:
        f.write(",".join(map(str, steps)) + "\n")
    with open(path("harness.c"), "w") as f:
        f.write(C_HARNESS % {"prompt": ", ".join(map(str, PROMPT)), "steps": ", ".join(map(str, steps))})
    # Linked as -l:gpu.so so the harness needs "gpu.so" (found through
    # $ORIGIN), not this path: the work directory is copied to the GPU
    # machine, maybe beside another build of the same model.
    run(shlex.split(args.cc) + [path("harness.c"), "-L", path("."), "-l:gpu.so", "-o", path("harness"),
                                "-I", os.path.join(args.runtime, "runtime", "include"),
                                "-Wl,-rpath,$ORIGIN"])


# The decode step's three ways: the CUDA graph of its kernels (the default),
# its kernels launched one by one, and its persistent kernel.
MODES = [("CUDA graph", {}), ("kernel launches", {"PQUANT_CUDA_GRAPHS": "0"}),
         ("persistent kernel", {"PQUANT_CUDA_PERSISTENT": "1"})]


def check(args, path):
    failures = 0
    expected = np.load(path("expected.npy"))
    rows = [(0, len(PROMPT))] + [(len(PROMPT) + i, len(PROMPT) + i + 1) for i in range(STEPS)]
    # Through the C API: the default decode step and the persistent kernel.
    for mode, env in (MODES[0], MODES[2]):
        run([path("harness"), path("gpu.so.pqw"), path("logits.bin")], env=dict(os.environ, **env))
        got_all = np.fromfile(path("logits.bin"), np.float32)
        if got_all.size != expected.size:
            sys.exit(f"harness wrote {got_all.size} logits, expected {expected.size}")
        got_all = got_all.reshape(expected.shape)
        for step, (begin, end) in enumerate(rows):
            got, want = got_all[begin:end], expected[begin:end]
            error = float(np.max(np.abs(got.astype(np.float64) - want))) / float(np.max(np.abs(want)))
            same = np.array_equal(np.argmax(got, axis=-1), np.argmax(want, axis=-1))
            ok = same and error <= TOLERANCE
            failures += not ok
            name = "prefill" if step == 0 else f"decode {step} ({mode})"
            print(f"{'ok  ' if ok else 'FAIL'} {name}: argmax {'equal' if same else 'DIFFERS'}, "
                  f"max error {error:.2e} of the largest logit")
    cpu = open(path("cpu-tokens.txt")).read().strip()
    tokens = ",".join(map(str, PROMPT))
    for mode, env in MODES:
        gpu = run([path("gpu"), "--tokens", tokens, "-n", str(STEPS)], capture_output=True, text=True,
                  env=dict(os.environ, **env))
        same = gpu.stdout.strip() == cpu
        failures += not same
        print(f"{'ok  ' if same else 'FAIL'} executable ({mode}): 16 greedy tokens "
              f"{'equal the CPU executable' if same else 'DIFFER: ' + gpu.stdout.strip() + ' vs ' + cpu}")
        print("    " + gpu.stderr.strip().replace("\n", "\n    "))
    total = 2 * len(rows) + len(MODES)
    print(f"{total - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--stage", choices=["build", "run", "all"], default="all")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--generator-flag", action="append", default=[])
    parser.add_argument("--compile", default="pquant-compile")
    parser.add_argument("--import", dest="importer", default="pquant-import")
    parser.add_argument("--cc", default="clang-22")
    parser.add_argument("--runtime", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))))
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    path = lambda name: os.path.join(args.work, name)
    if args.stage in ("build", "all"):
        build(args, path)
    if args.stage in ("run", "all"):
        check(args, path)


if __name__ == "__main__":
    main()
