"""Compiles single pquant layers for the GPU, runs them on the GPU and
compares them with the numpy reference.

Usage: check_gpu_layers.py --work DIR [--stage build|run|all]
           --runtime PQUANT_SOURCE --lib BUILD/lib [--compile "pquant-compile -target=sm_90"]

One module holds a function per case; weights are arguments, packed by
gpu_harness.pack_gpu for the BitLinear kernels. Integer accumulators and every
output computed in the reference's own order of f32 operations (BitLinear and
int8 linears with their scales, quantize) must match exactly; outputs with f32
reductions in another order or f64 transcendental functions, within 1e-5 of the
largest magnitude. Shapes: K not a multiple of 32 or 128, N not a multiple of
the 8-row tile, M = 1 (decode kernels), 3, 37 and 64 (prefill kernels, with M
known only at run time where the type says `?`).
"""

import os
import sys

import numpy as np

import gpu_harness as gh
from gpu_harness import Call

from pquant import reference as ref

TOLERANCE = 1e-5
F32 = np.float32

# (K, N, M, M dynamic, per-row scale, unit scales: outputs are the accumulators)
BITLINEAR = [(64, 8, 1, False, False, True), (200, 37, 1, False, True, False),
             (200, 37, 3, False, True, False), (2048, 2048, 1, False, False, True),
             (4096, 11008, 1, False, False, True), (11008, 4096, 1, False, False, True),
             (5460, 2048, 1, False, True, False), (2048, 5460, 37, True, False, True),
             (5460, 61, 64, True, True, False), (96, 64, 1, False, False, False)]
INT8 = [(2048, 256, 1), (256, 2048, 3), (72, 40, 2), (90, 33, 1), (5460, 16, 4)]
FLOAT = [(64, 256, 1, False, False), (2048, 1000, 5, True, True), (72, 33, 2, False, False),
         (2048, 300, 1, False, True)]


def t(shape, dtype):
    return "tensor<" + "x".join(str(d) for d in shape) + f"x{dtype}>"


def make(seed):
    rng = np.random.default_rng(seed)
    funcs, calls = [], []

    def add(name, signature, body, result_types, call):
        funcs.append(f"func.func @{name}({signature}) -> ({', '.join(result_types)}) {{\n{body}\n}}")
        calls.append(call)

    for i, (k, n, m, dynamic, per_row, unit) in enumerate(BITLINEAR):
        bits = rng.choice(np.array([-1, 1], np.int8), size=(n, k))
        q = rng.integers(-127, 128, size=(m, k), dtype=np.int8)
        q[0, :4] = [127, -127, 0, -1]
        s = np.ones(m, F32) if unit else rng.uniform(0.001, 0.05, m).astype(F32)
        ws = (np.ones(1, F32) if unit else
              rng.uniform(0.01, 0.1, n if per_row else 1).astype(F32))
        mt = "?" if dynamic else m
        w_type = gh.packed_gpu_type(n, k)
        y_type = t([mt, n], "f32")
        add(f"bitlinear_{i}",
            f"%q: {t([mt, k], 'i8')}, %s: {t([mt], 'f32')}, %w: {w_type}, %ws: {t([ws.size], 'f32')}",
            f"  %y = pquant.bitlinear %q, %s, %w, %ws : {t([mt, k], 'i8')}, {t([mt], 'f32')}, {w_type}, "
            f"{t([ws.size], 'f32')} -> {y_type}\n  return %y : {y_type}",
            [y_type],
            Call(f"bitlinear_{i}", [q, s, gh.pack_gpu(bits), ws], [((m, n), F32)],
                 [ref.bitlinear(q, s, bits, ws)], [True], m))

    for i, (k, n, m) in enumerate(INT8):
        q = rng.integers(-127, 128, size=(m, k), dtype=np.int8)
        s = rng.uniform(0.001, 0.05, m).astype(F32)
        w8 = rng.integers(-127, 128, size=(n, k), dtype=np.int8)
        sw = rng.uniform(0.001, 0.01, n).astype(F32)
        y_type = t([m, n], "f32")
        add(f"int8_{i}",
            f"%q: {t([m, k], 'i8')}, %s: {t([m], 'f32')}, %w: {t([n, k], 'i8')}, %ws: {t([n], 'f32')}",
            f"  %y = pquant.int8_linear %q, %s, %w, %ws : {t([m, k], 'i8')}, {t([m], 'f32')}, "
            f"{t([n, k], 'i8')}, {t([n], 'f32')} -> {y_type}\n  return %y : {y_type}",
            [y_type],
            Call(f"int8_{i}", [q, s, w8, sw], [((m, n), F32)], [ref.int8_linear(q, s, w8, sw)], [True], m))

    # Expert dispatch: each token reads its own expert, for both routing slots.
    e, n, k, m, top = 8, 256, 2048, 5, 2
    q = rng.integers(-127, 128, size=(m, k), dtype=np.int8)
    s = rng.uniform(0.001, 0.05, m).astype(F32)
    w8 = rng.integers(-127, 128, size=(e, n, k), dtype=np.int8)
    sw = rng.uniform(0.001, 0.01, (e, n)).astype(F32)
    ids = np.stack([rng.permutation(e)[:top] for _ in range(m)]).astype(np.int32)
    for slot in range(top):
        want = np.stack([ref.int8_linear(q[j:j + 1], s[j:j + 1], w8[ids[j, slot]], sw[ids[j, slot]])[0]
                         for j in range(m)])
        y_type = t([m, n], "f32")
        add(f"expert_{slot}",
            f"%q: {t([m, k], 'i8')}, %s: {t([m], 'f32')}, %w: {t([e, n, k], 'i8')}, %ws: {t([e, n], 'f32')}, "
            f"%ids: {t([m, top], 'i32')}",
            f"  %y = pquant.expert_linear %q, %s, %w, %ws, %ids {{slot = {slot} : i64}} : {t([m, k], 'i8')}, "
            f"{t([m], 'f32')}, {t([e, n, k], 'i8')}, {t([e, n], 'f32')}, {t([m, top], 'i32')} -> {y_type}\n"
            f"  return %y : {y_type}",
            [y_type], Call(f"expert_{slot}", [q, s, w8, sw, ids], [((m, n), F32)], [want], [True], m))

    for i, (m, k) in enumerate([(3, 2048), (2, 200), (1, 5460)]):
        x = (rng.standard_normal((m, k)) * rng.uniform(0.1, 4)).astype(F32)
        if m > 1:
            x[1] = 0.0
        q, s = ref.quant8(x)
        add(f"quantize_{i}", f"%x: {t([m, k], 'f32')}",
            f"  %q, %s = pquant.quantize %x : {t([m, k], 'f32')} -> {t([m, k], 'i8')}, {t([m], 'f32')}\n"
            f"  return %q, %s : {t([m, k], 'i8')}, {t([m], 'f32')}",
            [t([m, k], "i8"), t([m], "f32")],
            Call(f"quantize_{i}", [x], [((m, k), np.int8), ((m,), F32)], [q, s], [True, True], m))

    for i, (m, d, weight) in enumerate([(3, 2048, "f32"), (2, 72, None), (1, 64, "f16")]):
        x = (rng.standard_normal((m, d)) * 3).astype(F32)
        args = [x]
        if weight:
            w = (1 + 0.1 * rng.standard_normal(d)).astype(np.float16 if weight == "f16" else F32)
            args.append(w)
            text = (f"  %y = pquant.rms_norm %x weight(%w) {{eps = 1.0e-05 : f32}} : {t([m, d], 'f32')}, "
                    f"{t([d], weight)}")
            signature = f"%x: {t([m, d], 'f32')}, %w: {t([d], weight)}"
            want = ref.rmsnorm(x, w.astype(F32))
        else:
            text = f"  %y = pquant.rms_norm %x {{eps = 1.0e-05 : f32}} : {t([m, d], 'f32')}"
            signature = f"%x: {t([m, d], 'f32')}"
            want = ref.rmsnorm(x)
        add(f"rms_norm_{i}", signature, text + f"\n  return %y : {t([m, d], 'f32')}", [t([m, d], "f32")],
            Call(f"rms_norm_{i}", args, [((m, d), F32)], [want], [False], m))

    m, f = 2, 5460
    g = (rng.standard_normal((m, f)) * 4).astype(F32)
    g[0, :3] = [-100.0, 90.0, 0.0]
    u = rng.standard_normal((m, f)).astype(F32)
    add("silu_mul", f"%g: {t([m, f], 'f32')}, %u: {t([m, f], 'f32')}",
        f"  %y = pquant.silu_mul %g, %u : {t([m, f], 'f32')}\n  return %y : {t([m, f], 'f32')}",
        [t([m, f], "f32")], Call("silu_mul", [g, u], [((m, f), F32)], [ref.silu(g) * u], [False], m))

    m, d = 3, 2048
    y1, ya, yb = (rng.standard_normal((m, d)).astype(F32) for _ in range(3))
    gates = rng.uniform(0, 1, (m, 2)).astype(F32)
    alpha, beta = F32(2.1), F32(0.19)
    want = alpha * (F32(0) + gates[:, :1] * ya + gates[:, 1:] * yb) + beta * y1
    mt = t([m, d], "f32")
    add("combine", f"%b: {mt}, %e0: {mt}, %e1: {mt}, %g: {t([m, 2], 'f32')}",
        f"  %y = pquant.combine binary(%b) experts(%e0, %e1) gates(%g) {{alpha = {float(alpha)!r} : f32, "
        f"beta = {float(beta)!r} : f32, gate_weighting}} : {mt}, experts({mt}, {mt}), gates({t([m, 2], 'f32')})\n"
        f"  return %y : {mt}",
        [mt], Call("combine", [y1, ya, yb, gates], [((m, d), F32)], [want], [False], m))

    for top in (1, 2):
        m, d, e = 4, 2048, 8
        h = rng.standard_normal((m, d)).astype(F32)
        w = (rng.standard_normal((e, d)) * 0.05).astype(F32)
        ids, gate = ref.router(h, w, top)
        add(f"router_{top}", f"%h: {t([m, d], 'f32')}, %w: {t([e, d], 'f32')}",
            f"  %ids, %g = pquant.router %h, %w {{top_k = {top} : i64}} : {t([m, d], 'f32')}, "
            f"{t([e, d], 'f32')} -> {t([m, top], 'i32')}, {t([m, top], 'f32')}\n"
            f"  return %ids, %g : {t([m, top], 'i32')}, {t([m, top], 'f32')}",
            [t([m, top], "i32"), t([m, top], "f32")],
            Call(f"router_{top}", [h, w], [((m, top), np.int32), ((m, top), F32)],
                 [ids.astype(np.int32), gate], [True, False], m))

    m, heads, dh = 3, 4, 64
    x = rng.standard_normal((m, heads, dh)).astype(F32)
    positions = np.array([0, 5, 2047], np.int32)
    xt = t([m, heads, dh], "f32")
    add("rope", f"%x: {xt}, %p: {t([m], 'i32')}",
        f"  %y = pquant.rope %x, %p {{theta = 1.0e+04 : f32}} : {xt}, {t([m], 'i32')}\n  return %y : {xt}",
        [xt], Call("rope", [x, positions], [((m, heads, dh), F32)],
                   [ref.rope(x, positions, 10000.0)], [False], m))

    # Attention: new rows written at `start`, earlier rows read, later ones not.
    for i, (layers, rows, heads, kv, dh, layer, start, m) in enumerate(
            [(2, 64, 4, 2, 16, 1, 5, 3), (2, 2048, 32, 32, 64, 0, 100, 1), (1, 16, 2, 1, 128, 0, 0, 2),
             (1, 64, 3, 3, 48, 0, 60, 4)]):
        q = rng.standard_normal((m, heads, dh)).astype(F32)
        k = rng.standard_normal((m, kv, dh)).astype(F32)
        v = rng.standard_normal((m, kv, dh)).astype(F32)
        keys = rng.standard_normal((layers, rows, kv, dh)).astype(F32)
        values = rng.standard_normal((layers, rows, kv, dh)).astype(F32)
        new_keys, new_values = keys.copy(), values.copy()
        written = min(m, rows - start)
        new_keys[layer, start:start + written] = k[:written]
        new_values[layer, start:start + written] = v[:written]
        visible = min(start + m, rows)
        want = ref.attention(q, new_keys[layer, :visible], new_values[layer, :visible],
                             np.arange(start, start + m))
        qt, kt, ct = t([m, heads, dh], "f32"), t([m, kv, dh], "f32"), f"memref<{layers}x{rows}x{kv}x{dh}xf32>"
        add(f"attention_{i}", f"%q: {qt}, %k: {kt}, %v: {kt}, %kc: {ct}, %vc: {ct}, %start: index",
            f"  %y = pquant.attention %q, %k, %v cache(%kc, %vc) layer {layer} at %start : {qt}, {kt}, {kt}, {ct}\n"
            f"  return %y : {qt}",
            [qt], Call(f"attention_{i}", [q, k, v, keys, values, np.array(start, np.int64)],
                       [((m, heads, dh), F32)], [want, new_keys, new_values], [False, True, True], m,
                       arg_outputs=[3, 4]))

    for i, (v, d, dtype) in enumerate([(256, 64, "f32"), (1000, 72, "f16")]):
        table = rng.standard_normal((v, d)).astype(np.float16 if dtype == "f16" else F32)
        tokens = np.array([0, v - 1, 17, 3], np.int32)
        add(f"embedding_{i}", f"%w: {t([v, d], dtype)}, %tok: {t([4], 'i32')}",
            f"  %y = pquant.embedding %w, %tok : {t([v, d], dtype)}, {t([4], 'i32')} -> {t([4, d], 'f32')}\n"
            f"  return %y : {t([4, d], 'f32')}",
            [t([4, d], "f32")], Call(f"embedding_{i}", [table, tokens], [((4, d), F32)],
                                     [table[tokens].astype(F32)], [True], 4))

    for i, (k, n, m, dynamic, f16) in enumerate(FLOAT):
        x = rng.standard_normal((m, k)).astype(F32)
        w = (rng.standard_normal((n, k)) * 0.05).astype(np.float16 if f16 else F32)
        mt = "?" if dynamic else m
        wt = t([n, k], "f16" if f16 else "f32")
        add(f"float_{i}", f"%x: {t([mt, k], 'f32')}, %w: {wt}",
            f"  %y = pquant.float_linear %x, %w : {t([mt, k], 'f32')}, {wt} -> {t([mt, n], 'f32')}\n"
            f"  return %y : {t([mt, n], 'f32')}",
            [t([mt, n], "f32")], Call(f"float_{i}", [x, w], [((m, n), F32)],
                                       [ref._matmul(x, w.astype(F32))], [False], m))
    return "\n".join(funcs) + "\n", calls


def main():
    args = gh.arguments(__doc__.splitlines()[0])
    gh.main(args, lambda: make(args.seed), TOLERANCE)


if __name__ == "__main__":
    main()
