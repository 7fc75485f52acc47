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
# Fused decode chains: (D, F, norm weight, int8 rows); see make().
FUSED = [(2048, 5460, "f32", 256), (72, 90, "f16", 40), (200, 61, None, 8)]
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

    # Decode (M = 1) quantizes fused into the BitLinear GEMV that reads them
    # (every block quantizes the row itself): plain, after an RMS norm with
    # and without weight, q also read by int8 and expert linears (stored by
    # block 0), and gate and up whose SiLU product is the GEMV's output; the
    # experts' SiLU product quantized by the down expert linear, which also
    # computes the combine and the residual add.
    for i, (d, f, weight, e) in enumerate(FUSED):
        x = (rng.standard_normal((1, d)) * rng.uniform(0.5, 3)).astype(F32)
        x[0, :2] = [0.0, -x[0, 2]]
        bits = {name: rng.choice(np.array([-1, 1], np.int8), size=shape)
                for name, shape in (("q", (d, d)), ("k", (37, d)), ("g", (f, d)), ("u", (f, d)), ("down", (d, f)))}
        scales = {name: rng.uniform(0.01, 0.1, b.shape[0] if name in ("k", "down") else 1).astype(F32)
                  for name, b in bits.items()}
        w8 = rng.integers(-127, 128, size=(e, d), dtype=np.int8)
        sw = rng.uniform(0.001, 0.01, e).astype(F32)
        ne = 4
        experts = {name: (rng.integers(-127, 128, size=(ne,) + shape, dtype=np.int8),
                          rng.uniform(0.001, 0.01, (ne, shape[0])).astype(F32))
                   for name, shape in (("g8", (e, d)), ("u8", (e, d)), ("d8", (d, e)))}
        ids = np.array([[int(rng.integers(ne))]], np.int32)
        gates = rng.uniform(0.2, 1, (1, 1)).astype(F32)
        alpha, beta = F32(2.1), F32(0.19)
        args, sig = [x], [f"%x: {t([1, d], 'f32')}"]
        norm_w = None
        if weight:
            norm_w = (1 + 0.1 * rng.standard_normal(d)).astype(np.float16 if weight == "f16" else F32)
            args.append(norm_w)
            sig.append(f"%nw: {t([d], weight)}")
        for name in bits:
            args += [gh.pack_gpu(bits[name]), scales[name]]
            sig += [f"%w{name}: {gh.packed_gpu_type(*bits[name].shape)}", f"%s{name}: {t([scales[name].size], 'f32')}"]
        args += [w8, sw]
        sig += [f"%w8: {t([e, d], 'i8')}", f"%sw8: {t([e], 'f32')}"]
        for name, (w, ws) in experts.items():
            args += [w, ws]
            sig += [f"%w{name}: {t(w.shape, 'i8')}", f"%s{name}: {t(ws.shape, 'f32')}"]
        args += [ids, gates]
        sig += [f"%ids: {t([1, 1], 'i32')}", f"%gates: {t([1, 1], 'f32')}"]
        w_router = (rng.standard_normal((ne, d)) * 0.05).astype(F32)
        args.append(w_router)
        sig.append(f"%wr: {t([ne, d], 'f32')}")

        def ex(res, q, s, name, k):
            w, ws = experts[name]
            return (f"  %{res} = pquant.expert_linear %{q}, %{s}, %w{name}, %s{name}, %ids {{slot = 0 : i64}} : "
                    f"{t([1, k], 'i8')}, {st}, {t(w.shape, 'i8')}, {t(ws.shape, 'f32')}, {t([1, 1], 'i32')} "
                    f"-> {t([1, w.shape[1]], 'f32')}")
        xt, qt, st = t([1, d], "f32"), t([1, d], "i8"), t([1], "f32")

        def bl(res, q, s, name, n, k):
            return (f"  %{res} = pquant.bitlinear %{q}, %{s}, %w{name}, %s{name} : {t([1, k], 'i8')}, {st}, "
                    f"{gh.packed_gpu_type(*bits[name].shape)}, {t([scales[name].size], 'f32')} -> {t([1, n], 'f32')}")
        norm = f" weight(%nw)" if weight else ""
        norm_t = f", {t([d], weight)}" if weight else ""
        body = [
            # attention-like: norm (with the block's weight) -> quantize -> q, k; o with a residual
            f"  %h = pquant.rms_norm %x{norm} {{eps = 1.0e-05 : f32}} : {xt}{norm_t}",
            f"  %q1, %s1 = pquant.quantize %h : {xt} -> {qt}, {st}",
            bl("yq", "q1", "s1", "q", d, d), bl("yk", "q1", "s1", "k", 37, d),
            f"  %q2, %s2 = pquant.quantize %yq : {xt} -> {qt}, {st}",
            bl("yo", "q2", "s2", "q", d, d),
            f"  %x1 = arith.addf %x, %yo : {xt}",
            # FFN-like: norm (with the block's weight) -> router, and -> subln (weightless
            # norm) -> quantize -> gate, up (SiLU product) and an int8 linear; the GEMV
            # computes both norms, beside the norm + router in one launch
            f"  %hf = pquant.rms_norm %x1{norm} {{eps = 1.0e-05 : f32}} : {xt}{norm_t}",
            f"  %rids, %rg = pquant.router %hf, %wr {{top_k = 1 : i64}} : {xt}, {t([ne, d], 'f32')} "
            f"-> {t([1, 1], 'i32')}, {t([1, 1], 'f32')}",
            f"  %n = pquant.rms_norm %hf {{eps = 1.0e-05 : f32}} : {xt}",
            f"  %q3, %s3 = pquant.quantize %n : {xt} -> {qt}, {st}",
            bl("g", "q3", "s3", "g", f, d), bl("u", "q3", "s3", "u", f, d),
            f"  %a = pquant.silu_mul %g, %u : {t([1, f], 'f32')}",
            f"  %q4, %s4 = pquant.quantize %a : {t([1, f], 'f32')} -> {t([1, f], 'i8')}, {st}",
            bl("y", "q4", "s4", "down", d, f),
            f"  %y8 = pquant.int8_linear %q3, %s3, %w8, %sw8 : {qt}, {st}, {t([e, d], 'i8')}, {t([e], 'f32')} "
            f"-> {t([1, e], 'f32')}",
            ex("eg", "q3", "s3", "g8", d), ex("eu", "q3", "s3", "u8", d),
            f"  %ea = pquant.silu_mul %eg, %eu : {t([1, e], 'f32')}",
            f"  %q5, %s5 = pquant.quantize %ea : {t([1, e], 'f32')} -> {t([1, e], 'i8')}, {st}",
            ex("ed", "q5", "s5", "d8", e),
            f"  %c = pquant.combine binary(%y) experts(%ed) gates(%gates) {{alpha = {float(alpha)!r} : f32, "
            f"beta = {float(beta)!r} : f32, gate_weighting}} : {xt}, experts({xt}), gates({t([1, 1], 'f32')})",
            f"  %x2 = arith.addf %x1, %c : {xt}",
        ]
        # (name, shape, type, exact)
        results = [("yk", [1, 37], "f32", True), ("x1", [1, d], "f32", True), ("y8", [1, e], "f32", True),
                   ("x2", [1, d], "f32", True), ("rids", [1, 1], "i32", True), ("rg", [1, 1], "f32", False)]
        body.append("  return " + ", ".join("%" + r[0] for r in results) + " : "
                     + ", ".join(t(r[1], r[2]) for r in results))
        # The reference, with exp rounded once from f64 as the kernels do.
        h = ref.rmsnorm(x, None if norm_w is None else norm_w.astype(F32))
        q1, s1 = ref.quant8(h)
        yq = ref.bitlinear(q1, s1, bits["q"], scales["q"])
        yk = ref.bitlinear(q1, s1, bits["k"], scales["k"])
        q2, s2 = ref.quant8(yq)
        x1 = x + ref.bitlinear(q2, s2, bits["q"], scales["q"])
        hf = ref.rmsnorm(x1, None if norm_w is None else norm_w.astype(F32))
        rids, rg = ref.router(hf, w_router, 1)
        q3, s3 = ref.quant8(ref.rmsnorm(hf))
        g = ref.bitlinear(q3, s3, bits["g"], scales["g"])
        u = ref.bitlinear(q3, s3, bits["u"], scales["u"])
        with np.errstate(over="ignore"):
            a = g / (F32(1) + np.exp(-g.astype(np.float64)).astype(F32)) * u
        y = ref.bitlinear(*ref.quant8(a), bits["down"], scales["down"])
        y8 = ref.int8_linear(q3, s3, w8, sw)
        j = ids[0, 0]
        eg = ref.int8_linear(q3, s3, experts["g8"][0][j], experts["g8"][1][j])
        eu = ref.int8_linear(q3, s3, experts["u8"][0][j], experts["u8"][1][j])
        with np.errstate(over="ignore"):
            ea = eg / (F32(1) + np.exp(-eg.astype(np.float64)).astype(F32)) * eu
        ed = ref.int8_linear(*ref.quant8(ea), experts["d8"][0][j], experts["d8"][1][j])
        x2 = x1 + (alpha * (F32(0) + gates[0, 0] * ed) + beta * y)
        add(f"fused_{i}", ", ".join(sig), "\n".join(body), [t(r[1], r[2]) for r in results],
            Call(f"fused_{i}", args, [(tuple(r[1]), np.int32 if r[2] == "i32" else F32) for r in results],
                 [yk, x1, y8, x2, rids.astype(np.int32), rg], [r[3] for r in results], 1))

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

    # An RMS norm whose output a router also reads: one kernel for both.
    for top, (m, d, e, weight) in zip((1, 2), [(1, 2048, 8, "f16"), (3, 200, 5, None)]):
        x = (rng.standard_normal((m, d)) * 2).astype(F32)
        w = (rng.standard_normal((e, d)) * 0.05).astype(F32)
        args, sig, norm, norm_t = [x, w], f"%x: {t([m, d], 'f32')}, %w: {t([e, d], 'f32')}", "", ""
        nw = None
        if weight:
            nw = (1 + 0.1 * rng.standard_normal(d)).astype(np.float16)
            args.append(nw)
            sig += f", %nw: {t([d], weight)}"
            norm, norm_t = " weight(%nw)", f", {t([d], weight)}"
        h = ref.rmsnorm(x, None if nw is None else nw.astype(F32))
        ids, gate = ref.router(h, w, top)
        add(f"norm_router_{top}", sig,
            f"  %h = pquant.rms_norm %x{norm} {{eps = 1.0e-05 : f32}} : {t([m, d], 'f32')}{norm_t}\n"
            f"  %ids, %g = pquant.router %h, %w {{top_k = {top} : i64}} : {t([m, d], 'f32')}, "
            f"{t([e, d], 'f32')} -> {t([m, top], 'i32')}, {t([m, top], 'f32')}\n"
            f"  return %h, %ids, %g : {t([m, d], 'f32')}, {t([m, top], 'i32')}, {t([m, top], 'f32')}",
            [t([m, d], "f32"), t([m, top], "i32"), t([m, top], "f32")],
            Call(f"norm_router_{top}", args, [((m, d), F32), ((m, top), np.int32), ((m, top), F32)],
                 [h, ids.astype(np.int32), gate], [False, True, False], m))

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

    # Decode attention whose query and key come through RoPE: one kernel
    # does RoPE, the cache write and the attention (each block for its
    # head). RoPE's cos and sin rounded once from f64, as the kernels do.
    def rope_f64(x, positions, theta):
        half = x.shape[-1] // 2
        inv_freq = (float(theta) ** (-2.0 * np.arange(half) / x.shape[-1])).astype(F32)
        angle = (positions.astype(F32)[:, None] * inv_freq)[:, None, :].astype(np.float64)
        cos, sin = np.cos(angle).astype(F32), np.sin(angle).astype(F32)
        a, c = x[..., :half], x[..., half:]
        return np.concatenate([a * cos - c * sin, c * cos + a * sin], axis=-1)

    for i, (layers, rows, heads, kv, dh, layer, start) in enumerate(
            [(2, 64, 4, 2, 16, 1, 5), (1, 2048, 32, 32, 64, 0, 1500), (1, 16, 3, 1, 8, 0, 15)]):
        q = rng.standard_normal((1, heads, dh)).astype(F32)
        k = rng.standard_normal((1, kv, dh)).astype(F32)
        v = rng.standard_normal((1, kv, dh)).astype(F32)
        keys = rng.standard_normal((layers, rows, kv, dh)).astype(F32)
        values = rng.standard_normal((layers, rows, kv, dh)).astype(F32)
        positions = np.array([start], np.int32)
        new_keys, new_values = keys.copy(), values.copy()
        new_keys[layer, start] = rope_f64(k, positions, 10000.0)[0]
        new_values[layer, start] = v[0]
        want = ref.attention(rope_f64(q, positions, 10000.0), new_keys[layer, :start + 1],
                             new_values[layer, :start + 1], np.array([start]))
        qt, kt, ct = t([1, heads, dh], "f32"), t([1, kv, dh], "f32"), f"memref<{layers}x{rows}x{kv}x{dh}xf32>"
        add(f"rope_attention_{i}",
            f"%q: {qt}, %k: {kt}, %v: {kt}, %p: {t([1], 'i32')}, %kc: {ct}, %vc: {ct}, %start: index",
            f"  %qr = pquant.rope %q, %p {{theta = 1.0e+04 : f32}} : {qt}, {t([1], 'i32')}\n"
            f"  %kr = pquant.rope %k, %p {{theta = 1.0e+04 : f32}} : {kt}, {t([1], 'i32')}\n"
            f"  %y = pquant.attention %qr, %kr, %v cache(%kc, %vc) layer {layer} at %start : {qt}, {kt}, {kt}, {ct}\n"
            f"  return %y : {qt}",
            [qt], Call(f"rope_attention_{i}", [q, k, v, positions, keys, values, np.array(start, np.int64)],
                       [((1, heads, dh), F32)], [want, new_keys, new_values], [False, True, True], 1,
                       arg_outputs=[4, 5]))

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
