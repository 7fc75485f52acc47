"""Shared machinery of the GPU integration checks.

The checks run in two stages so that the build can happen on a machine with
LLVM/MLIR and no GPU, and the run on a machine with a GPU and no compiler:

* build: write the module, compile it with `pquant-compile -target=sm_90
  --emit=object` (host code plus the kernels' PTX) and link it with a C
  harness generated here and the runtime's CUDA backend;
* run: draw the inputs from the seed and compute the numpy reference's
  expected outputs (only shapes are compiled in, so nothing large travels),
  run the harness (it uploads the inputs, calls each function's
  pquant_gpu_entry_<name>, downloads the outputs, which it first poisons so
  unwritten elements show), and compare.

A call is Call(name, args, outputs, expected, exact): exact outputs must match
bit for bit, the others within the tolerance relative to the largest expected
magnitude. `stage all` does both on one machine.
"""

import argparse
import os
import shlex
import subprocess
import sys

import numpy as np

TILE_ROWS, TILE_WORDS, WORD = 8, 4, 32


def pack_gpu(bits):
    """+-1 [N, K] -> the storage of #pquant.packed<word = 32, tile = [8, 4], lsb_first>:
    uint32 [ceil(N/8), ceil(ceil(K/32)/4), 8, 4], padding bits clear."""
    n, k = bits.shape
    groups = -(-(-(-k // WORD)) // TILE_WORDS)
    rows = -(-n // TILE_ROWS) * TILE_ROWS
    plane = np.zeros((rows, groups * TILE_WORDS * WORD), np.uint8)
    plane[:n, :k] = bits > 0
    words = np.packbits(plane, axis=1, bitorder="little").view("<u4")  # [rows, groups * 4]
    words = words.reshape(rows // TILE_ROWS, TILE_ROWS, groups, TILE_WORDS)
    return np.ascontiguousarray(words.transpose(0, 2, 1, 3))


def packed_gpu_type(n, k):
    groups = -(-(-(-k // WORD)) // TILE_WORDS)
    return (f"tensor<{-(-n // TILE_ROWS)}x{groups}x{TILE_ROWS}x{TILE_WORDS}xi32, #pquant.packed<rows = {n}, "
            f"cols = {k}, word = 32, tile = [8, 4], bit_order = lsb_first>>")


class Call:
    """`name(args...)`: args are numpy arrays (a 0-d int64 array is an `index`
    argument); outputs are (index, dtype) of what to read back: ('result', j)
    for result j, ('arg', i) for argument i (a KV cache the call writes)."""

    def __init__(self, name, args, results, expected, exact, tokens, arg_outputs=()):
        self.name, self.args, self.results = name, args, results  # results: [(shape, dtype)]
        self.expected, self.exact, self.tokens = expected, exact, tokens
        self.arg_outputs = list(arg_outputs)  # argument indices read back after the results


C_PRELUDE = r"""
#include "CudaSession.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define CHECK(call) do { if ((call) != PQ_OK) { fprintf(stderr, "harness: %s: %s\n", #call, pq_last_error()); exit(1); } } while (0)
static char *blob;
static FILE *out;
static pq_gpu *gpu;
static uint64_t upload(size_t offset, size_t bytes) {
  uint64_t device;
  CHECK(pq_gpu_alloc(gpu, bytes, &device));
  CHECK(pq_gpu_upload(gpu, device, blob + offset, bytes));
  return device;
}
static uint64_t poisoned(size_t bytes) {
  uint64_t device;
  void *poison = malloc(bytes);
  memset(poison, 0xff, bytes);
  CHECK(pq_gpu_alloc(gpu, bytes, &device));
  CHECK(pq_gpu_upload(gpu, device, poison, bytes));
  free(poison);
  return device;
}
static void emit(uint64_t device, size_t bytes) {
  void *host = malloc(bytes);
  CHECK(pq_gpu_download(gpu, host, device, bytes));
  fwrite(host, 1, bytes, out);
  free(host);
}
"""


def build_harness(calls):
    """The C harness calling every function, and the input blob."""
    blob = bytearray()
    declarations, body = [], []
    for call in calls:
        declarations.append(f"void pquant_gpu_entry_{call.name}(void *, int64_t, const uint64_t *);")
        lines = [f"  {{ /* {call.name} */", f"    uint64_t b[{len(call.args) + len(call.results)}];"]
        for i, arg in enumerate(call.args):
            offset = len(blob)
            data = np.ascontiguousarray(arg).tobytes()
            blob += data + bytes(-len(data) % 64)
            lines.append(f"    b[{i}] = upload({offset}, {len(data)});")
        for j, (shape, dtype) in enumerate(call.results):
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            lines.append(f"    b[{len(call.args) + j}] = poisoned({size});")
        lines.append(f"    pquant_gpu_entry_{call.name}(pq_gpu_context(gpu), {call.tokens}, b);")
        lines.append("    CHECK(pq_gpu_sync(gpu));")
        for j, (shape, dtype) in enumerate(call.results):
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            lines.append(f"    emit(b[{len(call.args) + j}], {size});")
        for i in call.arg_outputs:
            lines.append(f"    emit(b[{i}], {call.args[i].nbytes});")
        lines.append(f"    for (int i = 0; i < {len(call.args) + len(call.results)}; ++i) pq_gpu_free(gpu, b[i]);")
        lines.append("  }")
        body += lines
    main = (["int main(int argc, char **argv) {",
             "  FILE *in = fopen(argv[1], \"rb\"); if (!in) { perror(argv[1]); return 1; }",
             "  fseek(in, 0, SEEK_END); long size = ftell(in); rewind(in);",
             "  blob = malloc(size + 1);",
             "  if (fread(blob, 1, size, in) != (size_t)size) return 2;",
             "  CHECK(pq_gpu_open(pquant_gpu_ptx, pquant_gpu_chip, pquant_gpu_kernel_names,"
             " pquant_gpu_kernel_count, &gpu));",
             "  printf(\"device: %s\\n\", pq_gpu_name(gpu)); fflush(stdout);",
             "  out = fopen(argv[2], \"wb\");"] + body +
            ["  fclose(out);", "  pq_gpu_close(gpu);", "  return 0;", "}"])
    return C_PRELUDE + "\n".join(declarations) + "\n" + "\n".join(main) + "\n", bytes(blob)


def run(command, **kwargs):
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--work", required=True)
    parser.add_argument("--stage", choices=["build", "run", "all"], default="all")
    parser.add_argument("--compile", default="pquant-compile -target=sm_90",
                        help="pquant-compile command with the GPU target")
    parser.add_argument("--cc", default="clang-22", help="C compiler that links the harness")
    parser.add_argument("--runtime", help="pquant source directory (runtime headers)")
    parser.add_argument("--lib", help="directory of libpquant_cuda.a and libpquant_runtime.a")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def build(args, module_text, calls):
    """Writes, compiles and links the module and its harness into args.work.
    Inputs and expected outputs are not kept: the run stage draws them again
    from the seed (only their shapes are compiled in)."""
    os.makedirs(args.work, exist_ok=True)
    path = lambda name: os.path.join(args.work, name)
    with open(path("module.mlir"), "w") as f:
        f.write(module_text)
    source, _ = build_harness(calls)
    with open(path("harness.c"), "w") as f:
        f.write(source)
    run(shlex.split(args.compile) + [path("module.mlir"), "--emit=object", "-o", path("module.o")])
    run(shlex.split(args.cc) + [path("harness.c"), path("module.o"), "-o", path("harness"),
                                "-I", os.path.join(args.runtime, "runtime", "src"),
                                "-I", os.path.join(args.runtime, "runtime", "include"),
                                "-L", args.lib, "-lpquant_cuda", "-lpquant_runtime", "-ldl", "-lm"])


def check_run(args, calls, tolerance):
    """Writes the inputs, runs the harness in args.work and compares; exits 1
    if anything is off."""
    path = lambda name: os.path.join(args.work, name)
    _, blob = build_harness(calls)
    with open(path("inputs.bin"), "wb") as f:
        f.write(blob)
    run([path("harness"), path("inputs.bin"), path("outputs.bin")])
    outputs = open(path("outputs.bin"), "rb").read()
    offset, failures, total = 0, 0, 0
    for call in calls:
        name = call.name
        for j, (want, exact) in enumerate(zip(call.expected, call.exact)):
            size = want.nbytes
            got = np.frombuffer(outputs[offset:offset + size], want.dtype).reshape(want.shape)
            offset += size
            total += 1
            if exact:
                ok = np.array_equal(got, want)
                detail = "exact" if ok else f"{np.count_nonzero(got != want)} of {want.size} elements differ"
            else:
                scale = max(float(np.max(np.abs(want))), 1e-30)
                error = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
                error /= scale
                ok = bool(np.isfinite(error)) and error <= tolerance
                detail = f"max error {error:.2e} of the largest magnitude"
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}[{j}]: {detail}")
    if offset != len(outputs):
        sys.exit(f"harness wrote {len(outputs)} bytes, expected {offset}")
    print(f"{total - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


def main(args, make, tolerance):
    """make() -> (module text, calls); stage dispatch."""
    module_text, calls = make()
    if args.stage in ("build", "all"):
        build(args, module_text, calls)
    if args.stage in ("run", "all"):
        check_run(args, calls, tolerance)
