"""Compiles single pquant layers for a CPU, runs them, and compares them with
the numpy reference.

Usage: check_layers.py --work DIR --compile "pquant-compile -target=..." \
                       --cc "cc" [--run "qemu-aarch64"]

One module holds a function per (layer, case): BitLinear with unit scales
(its outputs are the integer accumulators, compared exactly), BitLinear with
per-row scales, quantize (q and s, compared exactly) and the int8 linear.
A generated C harness calls each through its _mlir_ciface_ entry point;
linking it with the object directly (no dlopen) lets the same harness run
statically linked under qemu.
"""

import argparse
import os
import shlex
import subprocess
import sys

import numpy as np

from pquant import checkpoint as ckpt
from pquant import reference as ref

# (K, N, M): every K the issue names, N not a multiple of the tile, M = 1, 3, 64.
CASES = [(64, 8, 1), (64, 13, 3), (200, 37, 1), (200, 37, 64), (2048, 100, 3),
         (2048, 256, 64), (5460, 29, 1), (5460, 29, 64), (5460, 61, 3)]
RELATIVE_TOLERANCE = 1e-5


def packed_type(n, k):
    return (f"tensor<{n}x{-(-k // 8)}x1x1xi8, #pquant.packed<rows = {n}, cols = {k}, word = 8, "
            f"tile = [1, 1], bit_order = lsb_first>>")


def hex_constant(array, type_text):
    return f'arith.constant dense<"0x{np.ascontiguousarray(array).tobytes().hex().upper()}"> : {type_text}'


class Case:
    def __init__(self, index, k, n, m, rng):
        self.index, self.k, self.n, self.m = index, k, n, m
        self.bits = rng.choice(np.array([-1, 1], np.int8), size=(n, k))
        self.row_scale = rng.uniform(0.01, 0.1, n).astype(np.float32)
        q = rng.integers(-127, 128, size=(m, k), dtype=np.int8)
        q[0, : min(k, 4)] = [127, -127, 0, -1][: min(k, 4)]  # extremes in every case
        self.q = q
        self.s = rng.uniform(0.001, 0.05, m).astype(np.float32)
        self.x = (rng.standard_normal((m, k)) * rng.uniform(0.1, 4)).astype(np.float32)
        if m > 1:
            self.x[1] = 0.0  # an all-zero row: s = 1, q = 0
        self.w8 = rng.integers(-127, 128, size=(n, k), dtype=np.int8)
        self.w8_scale = rng.uniform(0.001, 0.01, n).astype(np.float32)

    def mlir(self):
        k, n, i = self.k, self.n, self.index
        q_t, s_t, y_t = f"tensor<?x{k}xi8>", "tensor<?xf32>", f"tensor<?x{n}xf32>"
        w = hex_constant(ckpt.pack_bits(self.bits), packed_type(n, k))
        bitlinear = (f"pquant.bitlinear %q, %s, %w, %ws : {q_t}, {s_t}, {packed_type(n, k)}, "
                     f"tensor<{{ws}}xf32> -> {y_t}")
        return f"""
func.func @acc_{i}(%q: {q_t}, %s: {s_t}) -> {y_t} {{
  %w = {w}
  %ws = arith.constant dense<1.0> : tensor<1xf32>
  %y = {bitlinear.format(ws=1)}
  return %y : {y_t}
}}
func.func @scaled_{i}(%q: {q_t}, %s: {s_t}) -> {y_t} {{
  %w = {w}
  %ws = {hex_constant(self.row_scale, f"tensor<{n}xf32>")}
  %y = {bitlinear.format(ws=n)}
  return %y : {y_t}
}}
func.func @quant_q_{i}(%x: tensor<?x{k}xf32>) -> {q_t} {{
  %q, %s = pquant.quantize %x : tensor<?x{k}xf32> -> {q_t}, {s_t}
  return %q : {q_t}
}}
func.func @quant_s_{i}(%x: tensor<?x{k}xf32>) -> {s_t} {{
  %q, %s = pquant.quantize %x : tensor<?x{k}xf32> -> {q_t}, {s_t}
  return %s : {s_t}
}}
func.func @int8_{i}(%q: {q_t}, %s: {s_t}) -> {y_t} {{
  %w = {hex_constant(self.w8, f"tensor<{n}x{k}xi8>")}
  %ws = {hex_constant(self.w8_scale, f"tensor<{n}xf32>")}
  %y = pquant.int8_linear %q, %s, %w, %ws : {q_t}, {s_t}, tensor<{n}x{k}xi8>, tensor<{n}xf32> -> {y_t}
  return %y : {y_t}
}}
"""

    def calls(self):
        """(function, [(argument array, dtype name)], output dtype, expected array, exact?)"""
        ones = np.ones(self.m, np.float32)
        acc = ref.bitlinear_acc(self.q, self.bits).astype(np.float32)
        q8, s8 = ref.quant8(self.x)
        return [
            (f"acc_{self.index}", [self.q, ones], np.float32, acc, True),
            (f"scaled_{self.index}", [self.q, self.s], np.float32,
             ref.bitlinear(self.q, self.s, self.bits, self.row_scale), False),
            (f"quant_q_{self.index}", [self.x], np.int8, q8, True),
            (f"quant_s_{self.index}", [self.x], np.float32, s8, True),
            (f"int8_{self.index}", [self.q, self.s], np.float32,
             ref.int8_linear(self.q, self.s, self.w8, self.w8_scale), False),
        ]


C_TYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.float32): "float"}

HARNESS_PRELUDE = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#define DESCRIPTOR(T, R) struct { T *allocated, *aligned; int64_t offset, sizes[R], strides[R]; }
typedef DESCRIPTOR(void, 1) MemRef1D;
typedef DESCRIPTOR(void, 2) MemRef2D;
static char *blob;
static FILE *out;
static MemRef1D vec(size_t offset, int64_t n) {
  MemRef1D d = {blob + offset, blob + offset, 0, {n}, {1}};
  return d;
}
static MemRef2D mat(size_t offset, int64_t m, int64_t k) {
  MemRef2D d = {blob + offset, blob + offset, 0, {m, k}, {k, 1}};
  return d;
}
static void emit(void *data, size_t bytes, void *allocated) {
  fwrite(data, 1, bytes, out);
  free(allocated);
}
"""


def build_harness(calls):
    """C source calling every function on its inputs, and the input blob."""
    blob = bytearray()
    declarations, body = [], []
    for name, args, out_dtype, expected, _ in calls:
        params, values = [], []
        for arg in args:
            offset = len(blob)
            blob += np.ascontiguousarray(arg).tobytes()
            blob += bytes(-len(blob) % 64)
            if arg.ndim == 1:
                params.append("MemRef1D *")
                values.append(f"vec({offset}, {arg.shape[0]})")
            else:
                params.append("MemRef2D *")
                values.append(f"mat({offset}, {arg.shape[0]}, {arg.shape[1]})")
        result = "MemRef1D" if expected.ndim == 1 else "MemRef2D"
        declarations.append(f"void _mlir_ciface_{name}({result} *, {', '.join(params)});")
        arg_names = [f"a{i}" for i in range(len(args))]
        setup = " ".join(f"{p[:-2]} {a} = {v};" for p, a, v in zip(params, arg_names, values))
        body.append(f"  {{ {setup} {result} r; _mlir_ciface_{name}(&r, {', '.join('&' + a for a in arg_names)});"
                    f" emit(r.aligned, {expected.size} * sizeof({C_TYPES[np.dtype(out_dtype)]}), r.allocated); }}")
    main = (["int main(int argc, char **argv) {",
             "  FILE *in = fopen(argv[1], \"rb\"); fseek(in, 0, SEEK_END); long size = ftell(in);",
             "  rewind(in); blob = aligned_alloc(64, (size + 63) / 64 * 64);",
             "  if (fread(blob, 1, size, in) != (size_t)size) return 2;",
             "  out = fopen(argv[2], \"wb\");"] + body + ["  fclose(out);", "  return 0;", "}"])
    return HARNESS_PRELUDE + "\n".join(declarations) + "\n" + "\n".join(main) + "\n", bytes(blob)


def run(command, **kwargs):
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--compile", required=True, help="pquant-compile command with target flags")
    parser.add_argument("--cc", required=True, help="C compiler command that links the harness")
    parser.add_argument("--run", default="", help="prefix to run the harness (e.g. qemu-aarch64)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    cases = [Case(i, k, n, m, rng) for i, (k, n, m) in enumerate(CASES)]
    os.makedirs(args.work, exist_ok=True)
    path = lambda name: os.path.join(args.work, name)
    with open(path("layers.mlir"), "w") as f:
        f.write("".join(case.mlir() for case in cases))
    calls = [call for case in cases for call in case.calls()]
    source, blob = build_harness(calls)
    with open(path("harness.c"), "w") as f:
        f.write(source)
    with open(path("inputs.bin"), "wb") as f:
        f.write(blob)

    run(shlex.split(args.compile) + [path("layers.mlir"), "--emit=object", "-o", path("layers.o")])
    run(shlex.split(args.cc) + [path("harness.c"), path("layers.o"), "-o", path("harness"), "-lm"])
    run(shlex.split(args.run) + [path("harness"), path("inputs.bin"), path("outputs.bin")])

    outputs = open(path("outputs.bin"), "rb").read()
    offset, failures = 0, 0
    for name, _, out_dtype, expected, exact in calls:
        size = expected.size * np.dtype(out_dtype).itemsize
        got = np.frombuffer(outputs[offset:offset + size], out_dtype).reshape(expected.shape)
        offset += size
        if exact:
            ok = np.array_equal(got, expected)
            detail = "" if ok else f"{np.count_nonzero(got != expected)} elements differ"
        else:
            error = np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-30))
            ok = error <= RELATIVE_TOLERANCE
            detail = f"max relative error {error:.2e}"
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {'exact' if exact and ok else detail}")
    if offset != len(outputs):
        sys.exit(f"harness wrote {len(outputs)} bytes, expected {offset}")
    print(f"{len(calls) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
