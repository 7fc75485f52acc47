"""Compiles decoupled FFN layers (1-bit SwiGLU + routed int8 experts) for a
CPU, runs them, and compares them with reference.decoupled_ffn.

Usage: check_ffn.py --work DIR --compile "pquant-compile ..." --cc CC [--run PREFIX]

Covers 1 and 4 experts, top-k 1 and 2, gate weighting on and off, subln on
and off, D and F1 not multiples of the vector width, 1, 5, 9 and 13 tokens. The
whole FFN is compared within 1e-4 of the largest output magnitude: silu's
exp may differ from numpy's in the last bit, which can move one requantized
activation by one step.
"""

import numpy as np

import harness
from harness import hex_constant, packed_type

from pquant import checkpoint as ckpt
from pquant import reference as ref

TOLERANCE = 1e-4
# (D, F1, r, experts, top_k, gate_weighting, subln, tokens)
CASES = [(64, 96, 16, 4, 1, True, True, 5), (64, 96, 16, 4, 2, False, True, 5),
         (64, 96, 16, 1, 1, False, False, 1), (72, 90, 24, 4, 2, True, False, 5),
         (72, 90, 24, 4, 1, False, True, 1),
         # Enough tokens that experts (and the dense int8 linear) take blocks
         # of 4 tokens sharing each weight load: 13 tokens over 2 experts put
         # at least 7 on one.
         (64, 96, 16, 2, 1, True, True, 13), (64, 96, 16, 4, 2, False, False, 13),
         (72, 90, 24, 1, 1, False, True, 9)]


class Case:
    def __init__(self, index, d, f1, r, experts, top_k, gated, subln, tokens, rng):
        self.index, self.d, self.f1, self.r = index, d, f1, r
        self.experts, self.top_k, self.gated, self.subln = experts, top_k, gated, subln
        bit = lambda n, k: ref.BitLinearWeight(rng.choice(np.array([-1, 1], np.int8), (n, k)),
                                               np.float32(rng.uniform(0.5, 1.5) / np.sqrt(k)) * np.ones(1, np.float32))
        i8 = lambda n, k: ref.Int8LinearWeight(rng.integers(-127, 128, (n, k), dtype=np.int8),
                                               (rng.uniform(0.5, 1.5, n) / (127 * np.sqrt(k))).astype(np.float32))
        self.w = ref.FFNWeights(
            gate1=bit(f1, d), up1=bit(f1, d), down1=bit(d, f1),
            gate8=[i8(r, d) for _ in range(experts)], up8=[i8(r, d) for _ in range(experts)],
            down8=[i8(d, r) for _ in range(experts)],
            router=(rng.standard_normal((experts, d)) / np.sqrt(d)).astype(np.float32) if experts > 1 else None,
            alpha=np.float32(rng.uniform(1.5, 2.5)), beta=np.float32(rng.uniform(0.1, 0.3)))
        self.h = rng.standard_normal((tokens, d)).astype(np.float32)

    def mlir(self):
        d, f1, r, e, i = self.d, self.f1, self.r, self.experts, self.index
        lines = []

        def constant(name, array, type_text):
            lines.append(f"  %{name} = {hex_constant(array, type_text)}")
            return f"%{name}", type_text

        def binary(name, weight):
            n, k = weight.bits.shape
            return (constant(name, ckpt.pack_bits(weight.bits), packed_type(n, k)),
                    constant(name + "_s", weight.scale, "tensor<1xf32>"))

        def int8(name, weights):
            n, k = weights[0].weight.shape
            return (constant(name, np.stack([w.weight for w in weights]), f"tensor<{e}x{n}x{k}xi8>"),
                    constant(name + "_s", np.stack([w.scale for w in weights]), f"tensor<{e}x{n}xf32>"))

        ones = binary("g1", self.w.gate1) + binary("u1", self.w.up1) + binary("d1", self.w.down1)
        eights = int8("g8", self.w.gate8) + int8("u8", self.w.up8) + int8("d8", self.w.down8)
        router = [constant("r", self.w.router, f"tensor<{e}x{d}xf32>")] if e > 1 else []
        names = lambda group: ", ".join(v for v, _ in group)
        types = lambda group: ", ".join(t for _, t in group)
        attrs = [f"alpha = {float(self.w.alpha)!r} : f32", f"beta = {float(self.w.beta)!r} : f32",
                 f"top_k = {self.top_k} : i64", "eps = 1.0e-05 : f32"]
        attrs += ["gate_weighting"] * self.gated + ["subln"] * self.subln
        h_t = f"tensor<?x{d}xf32>"
        route = f" router({names(router)})" if router else ""
        route_t = f", router({types(router)})" if router else ""
        body = "\n".join(lines)
        return f"""
func.func @ffn_{i}(%h: {h_t}) -> {h_t} {{
{body}
  %y = pquant.decoupled_ffn %h binary({names(ones)}) int8({names(eights)}){route} {{{", ".join(attrs)}}}
      : {h_t}, binary({types(ones)}), int8({types(eights)}){route_t} -> {h_t}
  return %y : {h_t}
}}
"""

    def calls(self):
        expected = ref.decoupled_ffn(self.h, self.w, top_k=self.top_k, gate_weighting=self.gated,
                                     subln=self.subln, eps=1e-5)
        return [(f"ffn_{self.index}", [self.h], np.float32, expected, False)]


def main():
    args = harness.arguments(__doc__.splitlines()[0])
    rng = np.random.default_rng(args.seed)
    cases = [Case(i, *case, rng) for i, case in enumerate(CASES)]
    harness.check(args, "".join(case.mlir() for case in cases),
                  [call for case in cases for call in case.calls()], TOLERANCE)


if __name__ == "__main__":
    main()
