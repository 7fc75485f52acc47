"""Numpy reference of the pQuant model math: the oracle compiled code is tested against.

docs/semantics.md is the specification; this module is its executable form. Its conventions:

* Activations, scales and weights of the float parts are float32, and every elementwise step is a float32
  operation, so compiled code doing the same float32 operations gets the same bits.
* Integer dot products (BitLinear, int8 linear) are exact, and the accumulators are exposed
  (`bitlinear_acc`, `int8_linear_acc`) because compiled kernels are compared on them bit for bit.
* Float reductions (sums, means, dot products) accumulate in float64 and are rounded to float32 once.
  That makes every result independent of the batch size and of the summation order, so a prefill of M
  tokens gives bit-identical logits to M decode steps, and it keeps the oracle within one float32 rounding
  of any correct float32 implementation.

Simple and obviously right beats fast: the model is evaluated one operation at a time with numpy.
Tensors are row-major and a token is a row.
"""

from dataclasses import dataclass

import numpy as np

F32 = np.float32
INT8_MAX = 127


# ----------------------------------------------------------------------------------------------------------
# Quantization


def round_half_away(x):
    """Round float32 `x` to an integral float32, ties away from zero: sign(x) * floor(|x| + 0.5).

    The formula is the definition, not an approximation of it: |x| + 0.5 is itself a float32 addition that
    rounds (0.49999997 + 0.5 == 1.0), and compiled code must reproduce exactly that, not call lround().
    """
    x = np.asarray(x, F32)
    return np.sign(x) * np.floor(np.abs(x) + F32(0.5))


def quant8(u):
    """Per-row int8 absmax quantization of `u` [..., K] -> (q int8 [..., K], s float32 [...]).

    s = max|u| / 127 and q = clamp(round_half_away(u / s), -127, 127), all in float32; an all-zero row
    gets s = 1 and q = 0, so dequantization q * s never divides by zero downstream.
    """
    u = np.asarray(u, F32)
    if not np.all(np.isfinite(u)):
        raise ValueError("quant8: input has non-finite values")
    m = np.max(np.abs(u), axis=-1, keepdims=True)
    s = np.where(m == 0, F32(1), m / F32(INT8_MAX))
    q = np.clip(round_half_away(u / s), -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, s[..., 0]


def binarize(w):
    """Quantize a latent (training-time) float32 weight to 1 bit -> (bits int8 +-1, lambda float32 [1]).

    B = sign(W - mean(W)) with sign(0) = -1 and lambda = mean(|W|), one scale per tensor. The means are
    accumulated in float64 and rounded to float32 once so every implementation agrees on the threshold.
    """
    w = np.asarray(w, F32)
    mu = F32(np.mean(w, dtype=np.float64))
    bits = np.where(w - mu > 0, 1, -1).astype(np.int8)
    lam = F32(np.mean(np.abs(w), dtype=np.float64))
    return bits, np.array([lam], F32)


# ----------------------------------------------------------------------------------------------------------
# Linear layers


def _dot64(a, b):
    """a [M, K] @ b[N, K]^T accumulated in float64 (not rounded)."""
    return np.asarray(a, np.float64) @ np.asarray(b, np.float64).T


def _matmul(a, b):
    """Float32 a [M, K] @ b [N, K]^T, accumulated in float64 and rounded to float32 once."""
    return _dot64(a, b).astype(F32)


def _int_matmul(q, w):
    """Exact int32 q [M, K] @ w [N, K]^T for int8 operands.

    Computed with float64 BLAS, which is exact here: every product and partial sum is an integer of
    magnitude at most 127 * 127 * K < 2^53, so no summation order rounds. K is bounded so the result also
    fits the int32 accumulators compiled kernels use.
    """
    k = np.shape(q)[-1]
    if INT8_MAX * INT8_MAX * k > np.iinfo(np.int32).max:
        raise ValueError(f"K = {k} is too large for int32 accumulators")
    return _dot64(q, w).astype(np.int32)


def bitlinear_acc(q, bits):
    """BitLinear accumulators: acc[m, n] = sum_k bits[n, k] * q[m, k] for int8 q and +-1 bits [N, K]."""
    return _int_matmul(q, bits)


def int8_linear_acc(q, w8):
    """Int8 linear accumulators: acc[m, n] = sum_k w8[n, k] * q[m, k] for int8 q and int8 w8 [N, K]."""
    return _int_matmul(q, w8)


def _dequantize(acc, weight_scale, s):
    """y[m, n] = f32(acc[m, n]) * weight_scale[n] * s[m], in that order, in float32."""
    return acc.astype(F32) * np.asarray(weight_scale, F32) * np.asarray(s, F32)[:, None]


def bitlinear(q, s, bits, scale):
    """W1A8 linear: y = f32(bitlinear_acc(q, bits)) * scale * s; scale is per tensor [1] or per row [N]."""
    return _dequantize(bitlinear_acc(q, bits), scale, s)


def int8_linear(q, s, w8, sw):
    """W8A8 linear: y = f32(int8_linear_acc(q, w8)) * sw * s; sw is per output row [N]."""
    return _dequantize(int8_linear_acc(q, w8), sw, s)


# ----------------------------------------------------------------------------------------------------------
# Float operations


def rmsnorm(x, w=None, eps=1e-5):
    """x / sqrt(mean(x^2) + eps) * w per row; without `w` it is the weightless norm subln uses."""
    x = np.asarray(x, F32)
    ms = np.mean(np.square(x, dtype=np.float64), axis=-1, keepdims=True).astype(F32)
    y = x / np.sqrt(ms + F32(eps))
    return y if w is None else y * np.asarray(w, F32)


def silu(x):
    """x / (1 + exp(-x)); exp overflows to inf for x < -88, which correctly gives -0."""
    x = np.asarray(x, F32)
    with np.errstate(over="ignore"):
        return x / (F32(1) + np.exp(-x))


def softmax(x):
    """Softmax over the last axis: exp(x - max) / sum, entries equal to -inf get probability 0."""
    x = np.asarray(x, F32)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True, dtype=np.float64).astype(F32)


def rope(x, positions, theta):
    """Rotary embedding, rotate-half (HF LLaMA) convention, on x [M, heads, Dh] at `positions` [M].

    inv_freq_i is theta^(-2i/Dh) rounded once to float32 (a compiler can fold the same constants), the
    angle is the float32 product position * inv_freq_i, and (x[i], x[i + Dh/2]) is rotated by it.
    """
    x = np.asarray(x, F32)
    half = x.shape[-1] // 2
    inv_freq = (float(theta) ** (-2.0 * np.arange(half) / x.shape[-1])).astype(F32)
    angle = (np.asarray(positions).astype(F32)[:, None] * inv_freq)[:, None, :]  # [M, 1, Dh/2]
    cos, sin = np.cos(angle), np.sin(angle)
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def attention(q, k, v, positions):
    """Causal grouped-query attention of queries q [M, H, Dh] over cached keys/values [T, Hkv, Dh].

    Query head h reads kv head h // (H / Hkv); the query at absolute position p sees cache rows 0..p.
    Scores are (q . k) * f32(1 / sqrt(Dh)), softmax is in float32. Returns [M, H, Dh].
    """
    heads, kv_heads, dh = q.shape[1], k.shape[1], q.shape[2]
    if heads % kv_heads:
        raise ValueError(f"{heads} query heads are not a multiple of {kv_heads} kv heads")
    k = np.repeat(k, heads // kv_heads, axis=1)  # kv head j serves query heads j*group .. j*group+group-1
    v = np.repeat(v, heads // kv_heads, axis=1)
    scores = np.einsum("mhd,thd->hmt", q.astype(np.float64), k.astype(np.float64)).astype(F32)
    scores *= F32(1 / np.sqrt(dh))
    future = np.arange(k.shape[0])[None, :] > np.asarray(positions)[:, None]  # [M, T]
    scores[:, future] = -np.inf
    p = softmax(scores)
    return np.einsum("hmt,thd->mhd", p.astype(np.float64), v.astype(np.float64)).astype(F32)


def router(h, w_router, top_k):
    """Pick the top_k experts per token: (experts int [M, k], gates float32 [M, k]).

    probs = softmax(w_router @ h) in float32; experts are ordered by decreasing probability, ties going
    to the lower index, and the gates are those probabilities, not renormalized over the k picked.
    """
    probs = softmax(_matmul(h, w_router))
    experts = np.argsort(-probs, axis=-1, kind="stable")[:, :top_k]
    return experts, np.take_along_axis(probs, experts, axis=-1)


# ----------------------------------------------------------------------------------------------------------
# Layers


@dataclass
class BitLinearWeight:
    """A 1-bit linear: bits int8 +-1 [N, K] and scale float32 [1] (per tensor) or [N] (per row)."""

    bits: np.ndarray
    scale: np.ndarray

    def __call__(self, q, s):
        return bitlinear(q, s, self.bits, self.scale)


@dataclass
class Int8LinearWeight:
    """An int8 linear: weight int8 [N, K] in [-127, 127] and per-row scale float32 [N]."""

    weight: np.ndarray
    scale: np.ndarray

    def __call__(self, q, s):
        return int8_linear(q, s, self.weight, self.scale)


@dataclass
class FFNWeights:
    """Weights of one decoupled FFN: the 1-bit branch, one int8 branch per expert, router, alpha, beta."""

    gate1: BitLinearWeight
    up1: BitLinearWeight
    down1: BitLinearWeight
    gate8: list  # of Int8LinearWeight, one per expert
    up8: list
    down8: list
    router: np.ndarray  # float32 [E, D], or None when there is a single expert
    alpha: np.float32
    beta: np.float32


def _glu(q, s, gate, up, down):
    """down(quant8(silu(gate(q, s)) * up(q, s))): the gated unit both FFN branches share."""
    return down(*quant8(silu(gate(q, s)) * up(q, s)))


def decoupled_ffn(h, w, *, top_k, gate_weighting, subln, eps):
    """The pQuant FFN on normed hidden states h [M, D] -> [M, D].

    y = alpha * sum_j g_j * expert_{e_j}(q, s) + beta * down1(...)(q, s), with (q, s) = quant8(subln(h))
    shared by both branches. The router reads h itself, not subln(h). g_j = 1 without gate weighting,
    and the single expert of a router-less FFN always runs with g = 1.
    """
    h = np.asarray(h, F32)
    q, s = quant8(rmsnorm(h, eps=eps) if subln else h)
    y1 = _glu(q, s, w.gate1, w.up1, w.down1)
    if w.router is None:
        experts, gates = np.zeros((len(h), 1), np.int64), np.ones((len(h), 1), F32)
    else:
        experts, gates = router(h, w.router, top_k)
    y8 = np.zeros_like(y1)
    for m in range(len(h)):
        for e, g in zip(experts[m], gates[m]):
            y_e = _glu(q[m : m + 1], s[m : m + 1], w.gate8[e], w.up8[e], w.down8[e])[0]
            y8[m] += (g if gate_weighting else F32(1)) * y_e
    return w.alpha * y8 + w.beta * y1


@dataclass
class DecoderLayer:
    """Weights of one decoder layer: attention (q, k, v, o BitLinears) and the decoupled FFN."""

    attn_norm: np.ndarray
    q: BitLinearWeight
    k: BitLinearWeight
    v: BitLinearWeight
    o: BitLinearWeight
    ffn_norm: np.ndarray
    ffn: FFNWeights


def _decoder_layer(weights, prefix, num_experts):
    """Build layer `prefix` ("layers.{i}.") from the decoded weights checkpoint.load_checkpoint returns."""

    def bit(name):
        return BitLinearWeight(weights[prefix + name + ".weight"], weights[prefix + name + ".scale"])

    def experts(name):
        w, s = weights[prefix + name + ".weight"], weights[prefix + name + ".scale"]
        return [Int8LinearWeight(w[e], s[e]) for e in range(num_experts)]

    ffn = FFNWeights(
        gate1=bit("ffn.gate1"),
        up1=bit("ffn.up1"),
        down1=bit("ffn.down1"),
        gate8=experts("ffn.gate8"),
        up8=experts("ffn.up8"),
        down8=experts("ffn.down8"),
        router=weights.get(prefix + "ffn.router.weight"),
        alpha=F32(weights[prefix + "ffn.alpha"][0]),
        beta=F32(weights[prefix + "ffn.beta"][0]),
    )
    return DecoderLayer(
        attn_norm=weights[prefix + "attn_norm.weight"],
        q=bit("attn.q"),
        k=bit("attn.k"),
        v=bit("attn.v"),
        o=bit("attn.o"),
        ffn_norm=weights[prefix + "ffn_norm.weight"],
        ffn=ffn,
    )


class Model:
    """A pQuant decoder with a KV cache, over a decoded checkpoint: Model(*load_checkpoint(path)).

    `prefill` and `decode` append to the cache from the current position `pos`; `reset` empties it.
    """

    def __init__(self, config, weights, int8_lm_head=False, int8_embedding=False):
        """`weights` is the decoded form of checkpoint.load_checkpoint: +-1 bits, float32 floats.

        With `int8_lm_head` the logits are those of pquant-compile --lm-head=int8: the lm_head's rows
        quantized with quant8, the normed activations too, then int8_linear. With `int8_embedding`
        the embedding is that of --embedding=int8: each row quant8-quantized, looked up as
        float32(q) * s (one float32 product). With tied embeddings each option changes only its use.
        """
        self.config = config
        embed = np.asarray(weights["embed.weight"], F32)
        self.norm = np.asarray(weights["norm.weight"], F32)
        self.lm_head = embed if config.tie_embeddings else np.asarray(weights["lm_head.weight"], F32)
        self.lm_head_int8 = quant8(self.lm_head) if int8_lm_head else None
        if int8_embedding:
            rows, scales = quant8(embed)
            embed = rows.astype(F32) * scales[:, None]
        self.embed = embed
        self.layers = [
            _decoder_layer(weights, f"layers.{i}.", config.num_experts) for i in range(config.num_layers)
        ]
        self.reset()

    def reset(self):
        """Forget every cached token."""
        c = self.config
        shape = (c.max_seq_len, c.num_kv_heads, c.hidden_size // c.num_heads)
        self.k_cache = [np.zeros(shape, F32) for _ in self.layers]
        self.v_cache = [np.zeros(shape, F32) for _ in self.layers]
        self.pos = 0

    def prefill(self, tokens):
        """Run tokens (a non-empty 1-D sequence of ids) at positions pos.. and return logits [M, V]."""
        c = self.config
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or len(tokens) == 0 or not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError("tokens must be a non-empty 1-D sequence of integers")
        if tokens.min() < 0 or tokens.max() >= c.vocab_size:
            raise ValueError(f"token ids must be in [0, {c.vocab_size})")
        if self.pos + len(tokens) > c.max_seq_len:
            raise ValueError(f"{self.pos} cached + {len(tokens)} new tokens exceed max_seq_len {c.max_seq_len}")
        positions = np.arange(self.pos, self.pos + len(tokens))
        x = self.embed[tokens]
        for i, layer in enumerate(self.layers):
            x = x + self._attention(i, rmsnorm(x, layer.attn_norm, c.rms_norm_eps), positions)
            h = rmsnorm(x, layer.ffn_norm, c.rms_norm_eps)
            x = x + decoupled_ffn(
                h, layer.ffn, top_k=c.top_k, gate_weighting=c.gate_weighting, subln=c.subln, eps=c.rms_norm_eps
            )
        self.pos += len(tokens)
        h = rmsnorm(x, self.norm, c.rms_norm_eps)
        if self.lm_head_int8 is not None:
            return int8_linear(*quant8(h), *self.lm_head_int8)
        return _matmul(h, self.lm_head)

    def decode(self, token):
        """Run one token at position pos and return its logits [V]."""
        return self.prefill([token])[0]

    def _attention(self, i, h, positions):
        """Attention block of layer i on normed h [M, D]: q/k/v share one quant8(h); writes the KV cache."""
        c, layer = self.config, self.layers[i]
        m, dh = len(h), c.hidden_size // c.num_heads
        q8, s = quant8(h)
        q = rope(layer.q(q8, s).reshape(m, c.num_heads, dh), positions, c.rope_theta)
        k = rope(layer.k(q8, s).reshape(m, c.num_kv_heads, dh), positions, c.rope_theta)
        self.k_cache[i][positions] = k
        self.v_cache[i][positions] = layer.v(q8, s).reshape(m, c.num_kv_heads, dh)
        end = positions[-1] + 1
        out = attention(q, self.k_cache[i][:end], self.v_cache[i][:end], positions)
        return layer.o(*quant8(out.reshape(m, c.num_heads * dh)))
