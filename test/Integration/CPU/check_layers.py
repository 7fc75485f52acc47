"""Compiles single pquant layers for a CPU, runs them, and compares them with
the numpy reference.

Usage: check_layers.py --work DIR --compile "pquant-compile -target=..." \
                       --cc "cc" [--run "qemu-aarch64"]

One module holds a function per (layer, case): BitLinear with unit scales
(its outputs are the integer accumulators, compared exactly), BitLinear with
per-row scales, quantize (q and s, compared exactly), the int8 linear and
silu(g)·u (compared exactly with exp rounded once from float64, as the
kernels evaluate it); then RoPE at positions up to 60000 (compared exactly
with cos and sin rounded once from float64).
harness.py generates the C harness that calls each through its
_mlir_ciface_ entry point; linking it with the object directly (no dlopen)
lets the same harness run statically linked under qemu.
"""

import numpy as np

import harness
from harness import hex_constant, packed_type

from pquant import checkpoint as ckpt
from pquant import reference as ref

# (K, N, M): every K the issue names, N not a multiple of the tile, M = 1, 3, 64;
# 320 x 520 x 72: an odd number of words per row, rows in 2 ranges (512 and 8) of the
# lookup kernel, 2 whole 32-token blocks and 8 tokens left to unpack-dot;
# 320 x 520 x 1: the lookup GEMV's word pairs and last odd word, and its
# last group of 4 tiles holding 1; 256 x 2100 x 260: 8 whole blocks, so the
# lookup kernel's ranges are 2048 rows (2 of them, the second of 52 rows),
# and 4 tokens left. With M = 1 the BitLinear is also compiled for one token
# (a static M, as decode has it).
CASES = [(64, 8, 1), (64, 13, 3), (200, 37, 1), (200, 37, 64), (320, 520, 72), (320, 520, 1),
         (2048, 100, 3), (2048, 256, 64), (5460, 29, 1), (5460, 29, 64), (5460, 61, 3),
         (256, 2100, 260)]
RELATIVE_TOLERANCE = 1e-5


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
        # Gates reaching past the range where exp overflows (g < -88).
        self.gate = (rng.standard_normal((m, k)) * 30).astype(np.float32)
        self.gate[0, : min(k, 4)] = [-100.0, 100.0, 0.0, -1e-30][: min(k, 4)]
        self.up = rng.standard_normal((m, k)).astype(np.float32)
        self.w8 = rng.integers(-127, 128, size=(n, k), dtype=np.int8)
        self.w8_scale = rng.uniform(0.001, 0.01, n).astype(np.float32)

    def mlir(self):
        k, n, i = self.k, self.n, self.index
        q_t, s_t, y_t = f"tensor<?x{k}xi8>", "tensor<?xf32>", f"tensor<?x{n}xf32>"
        one_token = self.bitlinear_mlir("gemv_", "1") if self.m == 1 else ""
        return f"""{self.bitlinear_mlir("", "?")}{one_token}
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
func.func @silu_{i}(%g: tensor<?x{k}xf32>, %u: tensor<?x{k}xf32>) -> tensor<?x{k}xf32> {{
  %y = pquant.silu_mul %g, %u : tensor<?x{k}xf32>
  return %y : tensor<?x{k}xf32>
}}
"""

    def bitlinear_mlir(self, prefix, tokens):
        """@{prefix}acc_i (unit scales) and @{prefix}scaled_i, for `tokens` (a size or ?) tokens."""
        k, n, i = self.k, self.n, self.index
        q_t, s_t, y_t = f"tensor<{tokens}x{k}xi8>", f"tensor<{tokens}xf32>", f"tensor<{tokens}x{n}xf32>"
        w = hex_constant(ckpt.pack_bits(self.bits), packed_type(n, k))
        bitlinear = (f"pquant.bitlinear %q, %s, %w, %ws : {q_t}, {s_t}, {packed_type(n, k)}, "
                     f"tensor<{{ws}}xf32> -> {y_t}")
        return f"""
func.func @{prefix}acc_{i}(%q: {q_t}, %s: {s_t}) -> {y_t} {{
  %w = {w}
  %ws = arith.constant dense<1.0> : tensor<1xf32>
  %y = {bitlinear.format(ws=1)}
  return %y : {y_t}
}}
func.func @{prefix}scaled_{i}(%q: {q_t}, %s: {s_t}) -> {y_t} {{
  %w = {w}
  %ws = {hex_constant(self.row_scale, f"tensor<{n}xf32>")}
  %y = {bitlinear.format(ws=n)}
  return %y : {y_t}
}}"""

    def calls(self):
        """(function, [(argument array, dtype name)], output dtype, expected array, exact?)"""
        ones = np.ones(self.m, np.float32)
        acc = ref.bitlinear_acc(self.q, self.bits).astype(np.float32)
        q8, s8 = ref.quant8(self.x)
        scaled = ref.bitlinear(self.q, self.s, self.bits, self.row_scale)
        one_token = [
            (f"gemv_acc_{self.index}", [self.q, ones], np.float32, acc, True),
            (f"gemv_scaled_{self.index}", [self.q, self.s], np.float32, scaled, False),
        ] if self.m == 1 else []
        return one_token + [
            (f"acc_{self.index}", [self.q, ones], np.float32, acc, True),
            (f"scaled_{self.index}", [self.q, self.s], np.float32, scaled, False),
            (f"quant_q_{self.index}", [self.x], np.int8, q8, True),
            (f"quant_s_{self.index}", [self.x], np.float32, s8, True),
            (f"int8_{self.index}", [self.q, self.s], np.float32,
             ref.int8_linear(self.q, self.s, self.w8, self.w8_scale), False),
            (f"silu_{self.index}", [self.gate, self.up], np.float32, silu_mul_rounded_once(self.gate, self.up),
             True),
        ]


ROPE_HEADS, ROPE_DIM, ROPE_THETA = 4, 64, 10000.0


def rope_module():
    """RoPE of [M, heads * Dh] rows: reshaped to heads, rotated, flattened back."""
    width, shape = ROPE_HEADS * ROPE_DIM, f"tensor<?x{ROPE_HEADS}x{ROPE_DIM}xf32>"
    return f"""
func.func @rope(%x: tensor<?x{width}xf32>, %p: tensor<?xi32>) -> tensor<?x{width}xf32> {{
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x{width}xf32>
  %h = tensor.expand_shape %x [[0], [1, 2]] output_shape [%m, {ROPE_HEADS}, {ROPE_DIM}] : tensor<?x{width}xf32> into {shape}
  %r = pquant.rope %h, %p {{theta = {ROPE_THETA:e} : f32}} : {shape}, tensor<?xi32>
  %y = tensor.collapse_shape %r [[0], [1, 2]] : {shape} into tensor<?x{width}xf32>
  return %y : tensor<?x{width}xf32>
}}
"""


def rope_call(rng):
    """The RoPE check: the reference's rotation with cos and sin of the f32 angles rounded once
    from float64, which is what the kernels compute."""
    m = 37
    x = rng.standard_normal((m, ROPE_HEADS * ROPE_DIM)).astype(np.float32)
    positions = np.concatenate([np.arange(8), rng.integers(0, 60000, m - 8)]).astype(np.int32)
    half = ROPE_DIM // 2
    inv_freq = (ROPE_THETA ** (-2.0 * np.arange(half) / ROPE_DIM)).astype(np.float32)
    angle = positions.astype(np.float32)[:, None] * inv_freq
    cos = np.cos(angle.astype(np.float64)).astype(np.float32)[:, None, :]
    sin = np.sin(angle.astype(np.float64)).astype(np.float32)[:, None, :]
    a, b = np.split(x.reshape(m, ROPE_HEADS, ROPE_DIM), 2, axis=-1)
    want = np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1).reshape(m, -1)
    return ("rope", [x, positions], np.float32, want, True)


def silu_mul_rounded_once(g, u):
    """g / (1 + exp(-g)) · u in float32, exp computed in float64 and rounded once."""
    with np.errstate(over="ignore"):
        e = np.exp(-g.astype(np.float64)).astype(np.float32)
    return g / (np.float32(1) + e) * u


def main():
    args = harness.arguments(__doc__.splitlines()[0])
    rng = np.random.default_rng(args.seed)
    cases = [Case(i, k, n, m, rng) for i, (k, n, m) in enumerate(CASES)]
    calls = [call for case in cases for call in case.calls()] + [rope_call(rng)]
    harness.check(args, "".join(case.mlir() for case in cases) + rope_module(), calls, RELATIVE_TOLERANCE)


if __name__ == "__main__":
    main()
