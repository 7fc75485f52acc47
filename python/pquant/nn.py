"""PyTorch modules of a pQuant model, for quantization-aware training and for checking exported checkpoints.

    from pquant.nn import PQuantLM
    model = PQuantLM(config)                 # checkpoint.Config: the same hyper-parameters the compiler reads
    logits = model(tokens)                   # tokens [B, T] int64 -> logits [B, T, V]

The forward pass computes what docs/semantics.md specifies, with the quantizers applied to latent float32
weights on every call (quantization-aware training):

* ``BitLinear``: weights sign(W - mean W) (sign(0) = -1) times one scale mean|W|, activations per-token int8
  absmax; the integer dot product is formed first and then scaled, ``acc * lambda * s``, as the reference
  does. Straight-through estimators: the gradient reaches the latent weights as if the layer were the
  dequantized product ``x_q @ W_q^T`` (d/dW = x_q, d/dx = W_q), the usual BitNet recipe; the scales are
  treated as constants.
* ``Int8Experts``: per-output-row int8 absmax weights, the same estimator.
* ``DecoupledFFN``: the pQuant layer, a 1-bit SwiGLU branch and ``num_experts`` int8 SwiGLU experts picked
  by a top-k linear + softmax router reading the un-normed input, combined as alpha * y8 + beta * y1 with
  learnable alpha, beta initialised to 2.0 and 0.2. ``BitNetFFN`` is the 1-bit-only baseline.
* ``PQuantLM``: the LLaMA-style decoder (RMSNorm, RoPE, causal grouped-query attention with 1-bit q/k/v/o).

Every quantized value is exact: integer-valued float32 tensors whose products and sums stay below 2^24, so
matrix products of them are exact on CPU and on GPUs (TF32 and BF16 represent [-127, 127] exactly too).

Two numeric modes. ``exact=True`` (the default in eval mode) performs the float32 operations of
``reference.py``: float reductions (norm means, attention and router products, the LM head, softmax sums)
accumulated in float64 and rounded once, silu spelled x / (1 + exp(-x)), and exp and the RoPE tables'
cos and sin evaluated by numpy. The quantizers then see the reference's bits and the
logits agree with it on the exported checkpoint to float32 rounding, however deep the model; see
`reference_exp` for why the transcendental functions matter. It is for evaluation (no gradients through
exp) and runs on the CPU or moves exp's inputs there. ``exact=False`` (the default in training) uses
plain float32 and PyTorch's fused ops.

Works with PyTorch 1.13 (Debian's python3-torch) and 2.x; only core ops are used.
"""

import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import checkpoint as ckpt

INT8_MAX = 127

# ----------------------------------------------------------------------------------------------------------
# Quantizers (docs/semantics.md "Quantization"), each the float32 formula of the reference


def round_half_away(x):
    """sign(x) * floor(|x| + 0.5), in the tensor's dtype: ties go away from zero."""
    return torch.sign(x) * torch.floor(torch.abs(x) + 0.5)


@torch.no_grad()
def quant8(u):
    """Per-row int8 absmax quantization of u [..., K] -> (q [..., K] integer-valued float32, s [...]).

    s = max|u| / 127 (1 for an all-zero row), q = clamp(round_half_away(u / s), -127, 127).
    """
    m = torch.abs(u).amax(dim=-1)
    s = torch.where(m == 0, torch.ones_like(m), m / INT8_MAX)
    q = torch.clamp(round_half_away(u / s.unsqueeze(-1)), -INT8_MAX, INT8_MAX)
    return q, s


@torch.no_grad()
def binarize(w):
    """1-bit quantization of a latent weight -> (bits +-1 float32, lambda 0-d float32).

    mean(W) and mean(|W|) are accumulated in float64 and rounded to float32 once, as the reference does.
    """
    mu = w.mean(dtype=torch.float64).to(w.dtype)
    bits = (w - mu > 0).to(w.dtype) * 2 - 1
    lam = torch.abs(w).mean(dtype=torch.float64).to(w.dtype)
    return bits, lam


def _straight_through(value, grad_source):
    """A tensor equal to `value` (exactly: grad_source - grad_source is 0) whose gradient flows to
    grad_source unchanged."""
    return value + (grad_source - grad_source.detach())


def quant8_ste(u):
    """quant8 with a straight-through estimator: q as a tensor whose gradient is d/du = 1/s."""
    q, s = quant8(u)
    return _straight_through(q, u / s.unsqueeze(-1)), s


def binarize_ste(w):
    """binarize with a straight-through estimator: the bits' gradient reaches w as d/dw = 1/lambda."""
    bits, lam = binarize(w)
    return _straight_through(bits, w / lam), lam


def int8_weight_ste(w):
    """Per-output-row int8 quantization of w [..., N, K] with a straight-through estimator."""
    w8, scale = quant8(w)
    return _straight_through(w8, w / scale.unsqueeze(-1)), scale


# ----------------------------------------------------------------------------------------------------------
# Float operations with the reference's accumulation in exact mode


def rms_norm(x, weight, eps, exact):
    """x / sqrt(mean(x^2) + eps) * weight per row (no weight: subln); mean in float64 when exact."""
    if exact:
        ms = torch.square(x.double()).mean(dim=-1, keepdim=True).to(x.dtype)
    else:
        ms = torch.square(x).mean(dim=-1, keepdim=True)
    y = x / torch.sqrt(ms + torch.tensor(eps, dtype=x.dtype))
    return y if weight is None else y * weight


def reference_exp(x):
    """numpy's float32 exp of x (any device): the function reference.py evaluates.

    Float32 exp is not correctly rounded, and numpy's differs from PyTorch's in about a third of all
    inputs by an ulp or two. Upstream of a quantizer such an ulp can move a value across a rounding
    boundary, and in a trained model that one changed integer grows through the layers into logit
    differences of 1e-3 to 1e-1 (docs/training.md). Exact mode therefore borrows the reference's exp.
    """
    with np.errstate(over="ignore"):
        return torch.from_numpy(np.exp(x.detach().to("cpu", torch.float32).contiguous().numpy())).to(x.device)


def silu(x, exact):
    # The fused op in training: the spelled-out formula has a NaN gradient where exp(-x) overflows.
    return x / (1 + reference_exp(-x)) if exact else F.silu(x)


def softmax(x, exact):
    """Softmax over the last axis; numpy's exp and the sum in float64 when exact (the reference's)."""
    if not exact:
        return torch.softmax(x, dim=-1)
    e = reference_exp(x - x.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True, dtype=torch.float64).to(x.dtype)


def matmul_t(a, b, exact):
    """a [..., K] @ b [N, K]^T, accumulated in float64 and rounded once when exact."""
    if exact:
        return F.linear(a.double(), b.double()).to(a.dtype)
    return F.linear(a, b)


def rope_tables(length, head_dim, theta, device, exact):
    """cos, sin [length, head_dim / 2] float32 of angle = f32(position) * f32(theta^(-2i/Dh)).

    Exact mode takes numpy's float32 cos and sin, as the reference does (see reference_exp); training
    takes PyTorch's (the tables the bundled model was trained with).
    """
    half = head_dim // 2
    if exact:
        inv_freq = (float(theta) ** (-2.0 * np.arange(half) / head_dim)).astype(np.float32)
        angle = np.arange(length).astype(np.float32)[:, None] * inv_freq
        return torch.from_numpy(np.cos(angle)).to(device), torch.from_numpy(np.sin(angle)).to(device)
    inv_freq = (float(theta) ** (-2.0 * torch.arange(half, dtype=torch.float64) / head_dim)).float()
    angle = torch.arange(length, dtype=torch.float32).unsqueeze(1) * inv_freq.unsqueeze(0)
    return torch.cos(angle).to(device), torch.sin(angle).to(device)


def apply_rope(x, cos, sin):
    """Rotate-half RoPE of x [B, T, heads, Dh] with tables [T, Dh / 2]."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # [T, 1, half]: broadcast over the heads
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


# ----------------------------------------------------------------------------------------------------------
# Linear layers


class BitLinear(nn.Module):
    """W1A8 linear layer without bias: latent float32 weight [out, in], quantized on every call."""

    def __init__(self, in_features, out_features, init_std=0.02):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * init_std)

    def quantized(self):
        """(bits +-1 [out, in], lambda 0-d): what the forward pass and the exporter use."""
        return binarize(self.weight)

    def forward_quantized(self, q, s):
        """y = (q @ bits^T) * lambda * s for an already quantized input (q [..., in], s [...])."""
        bits, lam = binarize_ste(self.weight)
        return F.linear(q, bits) * lam * s.unsqueeze(-1)

    def forward(self, x):
        return self.forward_quantized(*quant8_ste(x))

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Int8Experts(nn.Module):
    """E int8 (W8A8) linear layers without bias: latent weight [E, out, in], int8 per output row."""

    def __init__(self, num_experts, in_features, out_features, init_std=0.02):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_experts, out_features, in_features) * init_std)

    def quantized(self):
        """(w8 [E, out, in] integer-valued, scale [E, out])."""
        return quant8(self.weight)

    def forward_quantized(self, q, s):
        """Every expert on its input: q [M, in] shared (s [M]) or per expert q [M, E, in] (s [M, E])
        -> [M, E, out] = (q @ w8_e^T) * scale_e * s."""
        w8, scale = int8_weight_ste(self.weight)
        acc = torch.einsum("mk,enk->men" if q.dim() == 2 else "mek,enk->men", q, w8)
        return acc * scale * s.unsqueeze(-1) if s.dim() == 2 else acc * scale * s[:, None, None]


# ----------------------------------------------------------------------------------------------------------
# Feed-forward blocks


class DecoupledFFN(nn.Module):
    """The pQuant FFN (docs/semantics.md "The decoupled FFN") on normed hidden states h [M, D]."""

    def __init__(self, config, init_std=0.02, out_std=0.02):
        super().__init__()
        d, f1, r, e = config.hidden_size, config.ffn_bin_size, config.ffn_hp_size, config.num_experts
        self.top_k, self.gate_weighting = config.top_k, config.gate_weighting
        self.subln, self.eps = config.subln, config.rms_norm_eps
        self.gate1, self.up1 = BitLinear(d, f1, init_std), BitLinear(d, f1, init_std)
        self.down1 = BitLinear(f1, d, out_std)
        self.gate8, self.up8 = Int8Experts(e, d, r, init_std), Int8Experts(e, d, r, init_std)
        self.down8 = Int8Experts(e, r, d, out_std)
        self.router = nn.Linear(d, e, bias=False) if e > 1 else None
        if self.router is not None:
            nn.init.normal_(self.router.weight, std=init_std)
        self.alpha = nn.Parameter(torch.tensor([2.0]))
        self.beta = nn.Parameter(torch.tensor([0.2]))
        self.aux_loss = None  # Switch-style load-balancing loss of the last training forward

    def forward(self, h, exact):
        self.aux_loss = None
        x = rms_norm(h, None, self.eps, exact) if self.subln else h
        q, s = quant8_ste(x)
        y1 = self.down1(silu(self.gate1.forward_quantized(q, s), exact) * self.up1.forward_quantized(q, s))

        hidden = silu(self.gate8.forward_quantized(q, s), exact) * self.up8.forward_quantized(q, s)  # [M, E, r]
        y_all = self.down8.forward_quantized(*quant8_ste(hidden))  # [M, E, D]: every expert, then pick
        if self.router is None:
            y8 = y_all[:, 0]
        else:
            probs = softmax(matmul_t(h, self.router.weight, exact), exact)  # [M, E]
            # Decreasing probability, ties to the lower index (a stable sort of -probs).
            experts = torch.sort(-probs.detach(), dim=-1, stable=True)[1][:, :self.top_k] if self.top_k > 1 \
                else torch.argmax(probs.detach(), dim=-1, keepdim=True)
            gates = torch.gather(probs, 1, experts)
            y8 = None
            for j in range(self.top_k):
                y_j = torch.gather(y_all, 1, experts[:, j, None, None].expand(-1, 1, y_all.shape[-1]))[:, 0]
                if self.gate_weighting:
                    y_j = gates[:, j:j + 1] * y_j
                y8 = y_j if y8 is None else y8 + y_j
            if self.training:
                fraction = F.one_hot(experts[:, 0], probs.shape[-1]).to(probs.dtype).mean(dim=0)
                self.aux_loss = probs.shape[-1] * torch.sum(fraction * probs.mean(dim=0))
        return self.alpha * y8 + self.beta * y1


class BitNetFFN(nn.Module):
    """The 1-bit-only baseline: a BitLinear SwiGLU of width ffn_bin_size, no experts, no alpha/beta."""

    def __init__(self, config, init_std=0.02, out_std=0.02):
        super().__init__()
        d, f = config.hidden_size, config.ffn_bin_size
        self.subln, self.eps = config.subln, config.rms_norm_eps
        self.gate1, self.up1 = BitLinear(d, f, init_std), BitLinear(d, f, init_std)
        self.down1 = BitLinear(f, d, out_std)
        self.aux_loss = None

    def forward(self, h, exact):
        x = rms_norm(h, None, self.eps, exact) if self.subln else h
        q, s = quant8_ste(x)
        return self.down1(silu(self.gate1.forward_quantized(q, s), exact) * self.up1.forward_quantized(q, s))


# ----------------------------------------------------------------------------------------------------------
# The decoder


class Attention(nn.Module):
    """Causal grouped-query attention with 1-bit q, k, v, o sharing one quant8 of the input."""

    def __init__(self, config, init_std=0.02, out_std=0.02):
        super().__init__()
        d, dh = config.hidden_size, config.head_dim
        self.heads, self.kv_heads, self.head_dim = config.num_heads, config.num_kv_heads, dh
        self.q = BitLinear(d, self.heads * dh, init_std)
        self.k = BitLinear(d, self.kv_heads * dh, init_std)
        self.v = BitLinear(d, self.kv_heads * dh, init_std)
        self.o = BitLinear(self.heads * dh, d, out_std)

    def forward(self, h, cos, sin, exact, dropout):
        b, t, _ = h.shape
        q8, s = quant8_ste(h)
        q = apply_rope(self.q.forward_quantized(q8, s).view(b, t, self.heads, self.head_dim), cos, sin)
        k = apply_rope(self.k.forward_quantized(q8, s).view(b, t, self.kv_heads, self.head_dim), cos, sin)
        v = self.v.forward_quantized(q8, s).view(b, t, self.kv_heads, self.head_dim)
        group = self.heads // self.kv_heads  # kv head j serves query heads j*group .. j*group+group-1
        q, k, v = q.transpose(1, 2), k.repeat_interleave(group, 2).transpose(1, 2), \
            v.repeat_interleave(group, 2).transpose(1, 2)  # [B, H, T, Dh]
        scale = torch.tensor(1 / math.sqrt(self.head_dim), dtype=torch.float32)
        scores = (torch.matmul(q.double(), k.double().transpose(-1, -2)).float() if exact
                  else torch.matmul(q, k.transpose(-1, -2))) * scale
        future = torch.ones(t, t, dtype=torch.bool, device=h.device).triu(1)
        p = softmax(scores.masked_fill(future, float("-inf")), exact)
        p = F.dropout(p, dropout, self.training)
        out = torch.matmul(p.double(), v.double()).float() if exact else torch.matmul(p, v)
        return self.o(out.transpose(1, 2).reshape(b, t, self.heads * self.head_dim))


class DecoderLayer(nn.Module):
    def __init__(self, config, arch, init_std, out_std):
        super().__init__()
        d = config.hidden_size
        self.attn_norm = RMSNormWeight(d)
        self.attn = Attention(config, init_std, out_std)
        self.ffn_norm = RMSNormWeight(d)
        self.ffn = (DecoupledFFN if arch == "pquant" else BitNetFFN)(config, init_std, out_std)

    def forward(self, x, cos, sin, exact, eps, dropout):
        x = x + F.dropout(self.attn(rms_norm(x, self.attn_norm.weight, eps, exact), cos, sin, exact, dropout),
                          dropout, self.training)
        h = rms_norm(x, self.ffn_norm.weight, eps, exact)
        y = self.ffn(h.reshape(-1, h.shape[-1]), exact).view_as(h)
        return x + F.dropout(y, dropout, self.training)


class RMSNormWeight(nn.Module):
    """Holds an RMSNorm's weight (named `<norm>.weight`, as in the checkpoint); rms_norm applies it."""

    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))


ARCHS = ("pquant", "bitnet")


class PQuantLM(nn.Module):
    """A pQuant (or, with arch="bitnet", a 1-bit-only BitNet) decoder over `config` (checkpoint.Config).

    Parameter names are the checkpoint's tensor names (`layers.0.attn.q.weight`, `layers.0.ffn.alpha`), so
    pquant.export maps them one to one. For arch="bitnet" the FFN is a 1-bit SwiGLU of width ffn_bin_size
    and ffn_hp_size, num_experts, top_k and gate_weighting are ignored; such a model has no checkpoint form.
    """

    def __init__(self, config, arch="pquant", dropout=0.0, init_std=0.02):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
        self.config, self.arch, self.dropout = config, arch, dropout
        d, v = config.hidden_size, config.vocab_size
        out_std = init_std / math.sqrt(2 * config.num_layers)  # residual-branch outputs, as GPT-2
        self.embed = nn.Embedding(v, d)
        nn.init.normal_(self.embed.weight, std=init_std)
        self.layers = nn.ModuleList(DecoderLayer(config, arch, init_std, out_std) for _ in range(config.num_layers))
        self.norm = RMSNormWeight(d)
        self.lm_head = None
        if not config.tie_embeddings:
            self.lm_head = nn.Linear(d, v, bias=False)
            nn.init.normal_(self.lm_head.weight, std=init_std)
        self._rope = {}

    def _rope_tables(self, t, device, exact):
        key = (t, str(device), exact)
        if key not in self._rope:
            c = self.config
            self._rope[key] = rope_tables(t, c.head_dim, c.rope_theta, device, exact)
        return self._rope[key]

    def forward(self, tokens, exact=None):
        """tokens [B, T] (positions 0..T-1) -> logits [B, T, V] float32.

        exact defaults to eval mode: float64 reductions as the reference (see the module docstring).
        """
        if exact is None:
            exact = not self.training
        c = self.config
        if tokens.shape[-1] > c.max_seq_len:
            raise ValueError(f"{tokens.shape[-1]} tokens exceed max_seq_len {c.max_seq_len}")
        cos, sin = self._rope_tables(tokens.shape[-1], tokens.device, exact)
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, exact, c.rms_norm_eps, self.dropout)
        head = self.embed.weight if self.lm_head is None else self.lm_head.weight
        return matmul_t(rms_norm(x, self.norm.weight, c.rms_norm_eps, exact), head, exact)

    def aux_loss(self):
        """Sum of the routers' load-balancing losses of the last training forward (0 without routers)."""
        losses = [layer.ffn.aux_loss for layer in self.layers if layer.ffn.aux_loss is not None]
        return sum(losses) if losses else torch.zeros(())

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())

    @classmethod
    def from_checkpoint(cls, path):
        """A model (eval mode) whose forward pass reproduces checkpoint `path`'s quantized weights.

        The latent weights are rebuilt from the quantized ones: bits * lambda (quantizes back to the same
        bits and lambda exactly) and w8 * scale per row (back to the same w8, scale within an ulp). 1-bit
        weights must have per-tensor scales, the form training produces.
        """
        config, weights = ckpt.load_checkpoint(path)
        config = ckpt.Config.from_dict({**config.to_dict(), "format": "packed"})
        model = cls(config)
        state = {}
        for spec in ckpt.weight_specs(config):
            value = torch.from_numpy(weights[spec.name].astype("float32"))
            if spec.kind in ("bit", "int8"):
                scale = torch.from_numpy(weights[ckpt.scale_name(spec.name)])
                if spec.kind == "bit":
                    if scale.numel() != 1:
                        raise ValueError(f"{path}: '{spec.name}' has per-row scales; only per-tensor scales "
                                         "can be turned back into latent weights")
                    if torch.all(value == value.flatten()[0]):
                        raise ValueError(f"{path}: '{spec.name}' has all bits equal")
                    value = value * scale[0]
                else:
                    value = value * scale.unsqueeze(-1)
            state[spec.name] = value
        model.load_state_dict(state)
        return model.eval()


def configure_deterministic():
    """Deterministic kernels where PyTorch has them (cuBLAS needs its workspace pinned before first use)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
