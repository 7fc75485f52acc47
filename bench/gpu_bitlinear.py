"""Builds bench/gpu_bitlinear.c: the BitLinear GEMV (batch 1) kernels pquant
generates for the GPU, for the issue's shapes and the 1.3B model's, in one
object with a C driver that times them (see that file).

    /usr/bin/python3 bench/gpu_bitlinear.py --out DIR [--build build]

Shapes are N x K (output rows x input columns).
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "Integration", "GPU"))

import gpu_harness as gh  # noqa: E402

SHAPES = [(4096, 11008), (11008, 4096), (2048, 2048), (5460, 2048), (2048, 5460)]


def module():
    funcs = []
    for i, (n, k) in enumerate(SHAPES):
        w = gh.packed_gpu_type(n, k)
        funcs.append(
            f"func.func @gemv_{i}(%q: tensor<1x{k}xi8>, %s: tensor<1xf32>, %w: {w}, %ws: tensor<1xf32>)"
            f" -> tensor<1x{n}xf32> {{\n"
            f"  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x{k}xi8>, tensor<1xf32>, {w}, tensor<1xf32>"
            f" -> tensor<1x{n}xf32>\n  return %y : tensor<1x{n}xf32>\n}}")
    return "\n".join(funcs) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--tools", help="directory of pquant-compile (default: BUILD/bin)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = lambda name: os.path.join(args.out, name)
    with open(path("gpu_bitlinear.mlir"), "w") as f:
        f.write(module())
    shapes = ", ".join(f"{{{n}, {k}, pquant_gpu_entry_gemv_{i}}}" for i, (n, k) in enumerate(SHAPES))
    declarations = "\n".join(f"void pquant_gpu_entry_gemv_{i}(void *, int64_t, const uint64_t *);"
                             for i in range(len(SHAPES)))
    with open(path("gpu_bitlinear_shapes.h"), "w") as f:
        f.write(f"{declarations}\n#define PQ_BENCH_SHAPES {shapes}\n")
    tools = args.tools or os.path.join(args.build, "bin")
    subprocess.run([os.path.join(tools, "pquant-compile"), path("gpu_bitlinear.mlir"), "-target=sm_90",
                    "--emit=object", "-o", path("gpu_bitlinear.o")], check=True)
    subprocess.run(["clang-22", "-O2", os.path.join(ROOT, "bench", "gpu_bitlinear.c"), path("gpu_bitlinear.o"),
                    "-I", args.out, "-I", os.path.join(ROOT, "runtime", "src"),
                    "-I", os.path.join(ROOT, "runtime", "include"), "-L", os.path.join(args.build, "lib"),
                    "-lpquant_cuda", "-lpquant_runtime", "-ldl", "-lm", "-o", path("gpu_bitlinear")], check=True)


if __name__ == "__main__":
    main()
