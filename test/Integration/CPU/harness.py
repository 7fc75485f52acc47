"""Shared machinery of the CPU integration checks: a C harness generated to
call compiled functions through their _mlir_ciface_ entry points on given
inputs, compiling and running it (natively or under qemu), and comparing
its outputs with expected arrays.

A call is (function name, [input arrays], output dtype, expected array,
exact?): exact calls must match bit for bit, the others within `tolerance`
of the largest expected magnitude.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np

def packed_type(n, k):
    """The tensor type of an N x K 1-bit weight in checkpoint byte packing."""
    return (f"tensor<{n}x{-(-k // 8)}x1x1xi8, #pquant.packed<rows = {n}, cols = {k}, word = 8, "
            f"tile = [1, 1], bit_order = lsb_first>>")


def hex_constant(array, type_text):
    """An arith.constant holding `array`'s bytes."""
    return f'arith.constant dense<"0x{np.ascontiguousarray(array).tobytes().hex().upper()}"> : {type_text}'


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


def arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--work", required=True)
    parser.add_argument("--compile", required=True, help="pquant-compile command with target flags")
    parser.add_argument("--cc", required=True, help="C compiler command that links the harness")
    parser.add_argument("--run", default="", help="prefix to run the harness (e.g. qemu-aarch64)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def runtime_library(args):
    """The runtime archive beside the pquant-compile in use, for the target
    args.cc links: compiled kernels call its thread pool."""
    compiler = shutil.which(shlex.split(args.compile)[0])
    lib = os.path.join(os.path.dirname(os.path.realpath(compiler)), "..", "lib")
    suffix = "_aarch64" if "aarch64" in args.cc else ""
    return os.path.normpath(os.path.join(lib, f"libpquant_runtime{suffix}.a"))


def compile_and_run(args, module, source, harness_args):
    """Compiles `module` to an object, links it with the C `source` and the
    runtime, and runs the result (under args.run) with `harness_args`."""
    base = os.path.splitext(module)[0]
    run(shlex.split(args.compile) + [module, "--emit=object", "-o", base + ".o"])
    run(shlex.split(args.cc) + [source, base + ".o", runtime_library(args), "-o",
                                base + "-harness", "-lm", "-lpthread"])
    run(shlex.split(args.run) + [base + "-harness"] + harness_args)


def check(args, module_text, calls, tolerance):
    """Compiles `module_text`, runs every call, prints one line per call and
    a summary, and exits 1 if any call is off."""
    os.makedirs(args.work, exist_ok=True)
    path = lambda name: os.path.join(args.work, name)
    with open(path("module.mlir"), "w") as f:
        f.write(module_text)
    source, blob = build_harness(calls)
    with open(path("harness.c"), "w") as f:
        f.write(source)
    with open(path("inputs.bin"), "wb") as f:
        f.write(blob)

    compile_and_run(args, path("module.mlir"), path("harness.c"),
                    [path("inputs.bin"), path("outputs.bin")])

    outputs = open(path("outputs.bin"), "rb").read()
    offset, failures = 0, 0
    for name, _, out_dtype, expected, exact in calls:
        size = expected.size * np.dtype(out_dtype).itemsize
        got = np.frombuffer(outputs[offset:offset + size], out_dtype).reshape(expected.shape)
        offset += size
        if exact:
            ok = np.array_equal(got, expected)
            detail = "exact" if ok else f"{np.count_nonzero(got != expected)} elements differ"
        else:
            scale = max(float(np.max(np.abs(expected))), 1e-30)
            error = float(np.max(np.abs(got.astype(np.float64) - expected))) / scale
            ok = error <= tolerance
            detail = f"max error {error:.2e} of the largest magnitude"
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if offset != len(outputs):
        sys.exit(f"harness wrote {len(outputs)} bytes, expected {offset}")
    print(f"{len(calls) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)
