"""Seeded random pQuant checkpoints whose numerics mean something.

    PYTHONPATH=python python3 -m pquant.generate --preset tiny --seed 0 -o /tmp/tiny [--format latent]
        [--f16] [--per-row-scales] [--set hidden_size=72 ...]

Random weights are drawn so that activations behave like a trained model's: every linear layer maps a
unit-RMS input to an output of roughly unit RMS, so the residual stream grows only slowly with depth,
softmaxes are neither flat nor one-hot, and nothing overflows. The choices, with K a layer's input width:

* 1-bit weights: uniform random sign bits, drawn directly as packed bytes (no float weights exist, so the
  1.3b preset fits in memory and time). The scale is lambda = 1/sqrt(K): a sum of K random-sign unit terms
  has RMS sqrt(K). With --per-row-scales each row gets lambda * exp(0.1 * N(0, 1)), as after folding.
  Latent format: W ~ N(0, pi/(2K)), whose quantization gives lambda = mean|W| ~= 1/sqrt(K) again.
* int8 expert weights: a latent W ~ N(0, 1/K) quantized per row with the absmax rule, as a trained
  model is exported: values bell-shaped over [-127, 127], each row reaching +-127, scale ~3.5/(127 sqrt(K)).
  Latent format stores W itself.
* embed and lm_head: N(0, 1) * 2/sqrt(D); normed rows times this head give logits of standard deviation
  ~2, like a trained LM's. Norm weights: 1 + 0.1 * N(0, 1). Router: N(0, 1/D), so its logits are ~N(0, 1)
  and the top expert takes ~40-60% of the probability.
* alpha and beta: 2.0 and 0.2 (pQuant's initial values), each times 1 + U(-0.1, 0.1) per layer.

Each tensor has its own generator seeded by (seed, crc32(name)): a tensor's values depend only on the
seed, its name and its shape, so changing num_layers or vocab_size leaves the other tensors as they were.
"""

import argparse
import json
import math
import os
import sys
import zlib

import numpy as np

from . import reference
from .checkpoint import FORMATS, WEIGHTS_FILE, Config, packed_width, save_checkpoint, scale_name, weight_specs

_TINY = dict(
    vocab_size=256, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2, ffn_bin_size=96, ffn_hp_size=16,
    num_experts=4, top_k=1, gate_weighting=True, subln=True, rope_theta=10000.0, rms_norm_eps=1e-5,
    max_seq_len=64, tie_embeddings=False,
)
PRESETS = {
    "tiny": _TINY,
    "tiny-dense": {**_TINY, "num_experts": 1, "subln": False, "num_kv_heads": 4, "tie_embeddings": True},
    "tiny-top2": {**_TINY, "top_k": 2, "gate_weighting": False},
    "1.3b": dict(
        vocab_size=32000, hidden_size=2048, num_layers=24, num_heads=32, num_kv_heads=32, ffn_bin_size=5460,
        ffn_hp_size=256, num_experts=8, top_k=1, gate_weighting=True, subln=True, rope_theta=10000.0,
        rms_norm_eps=1e-5, max_seq_len=2048, tie_embeddings=False,
    ),
}
_SCALAR_MEANS = {"alpha": 2.0, "beta": 0.2}


def preset_config(name, **overrides):
    """The Config of preset `name` with `overrides` (config keys, format included) applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return Config.from_dict({**PRESETS[name], **overrides}, source=f"preset {name}")


def _normal(rng, shape, std):
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)


def _random_bits(rng, n, k):
    """Uniform random packed bits [n, ceil(k/8)] with the padding bits past k cleared."""
    packed = np.frombuffer(rng.bytes(n * packed_width(k)), np.uint8).reshape(n, packed_width(k)).copy()
    if k % 8:
        packed[:, -1] &= (1 << (k % 8)) - 1
    return packed


def _generate_weight(spec, rng, fmt, f16, per_row_scales):
    """The stored tensors of one logical weight: {name: array}."""
    fan_in = spec.shape[-1]
    table_dtype = np.float16 if f16 else np.float32
    if spec.kind == "embedding":
        return {spec.name: _normal(rng, spec.shape, 2 / math.sqrt(fan_in)).astype(table_dtype)}
    if spec.kind == "norm":
        return {spec.name: (1 + _normal(rng, spec.shape, 0.1)).astype(table_dtype)}
    if spec.kind == "router":
        return {spec.name: _normal(rng, spec.shape, 1 / math.sqrt(fan_in))}
    if spec.kind == "scalar":
        mean = _SCALAR_MEANS[spec.name.rsplit(".", 1)[1]]
        return {spec.name: np.array([mean * (1 + rng.uniform(-0.1, 0.1))], np.float32)}
    if spec.kind == "bit" and fmt == "latent":
        return {spec.name: _normal(rng, spec.shape, math.sqrt(math.pi / 2 / fan_in))}
    if spec.kind == "bit":
        n = spec.shape[0]
        scale = np.full(1, 1 / math.sqrt(fan_in), np.float32)
        if per_row_scales:
            scale = scale * np.exp(_normal(rng, (n,), 0.1))
        return {spec.name: _random_bits(rng, n, fan_in), scale_name(spec.name): scale}
    latent = _normal(rng, spec.shape, 1 / math.sqrt(fan_in))  # int8 experts
    if fmt == "latent":
        return {spec.name: latent}
    w8, scale = reference.quant8(latent)
    return {spec.name: w8, scale_name(spec.name): scale}


def generate_checkpoint(config, seed, *, f16=False, per_row_scales=False):
    """Random stored tensors for `config` in config.format, deterministic in (config, seed, options).

    f16 stores embeddings and norms as F16; per_row_scales gives packed 1-bit weights per-row scales.
    """
    tensors = {}
    for spec in weight_specs(config):
        rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
        tensors.update(_generate_weight(spec, rng, config.format, f16, per_row_scales))
    return tensors


def _parse_set(item):
    """`key=value` with a JSON value (64, 1e-6, true) -> (key, value)."""
    key, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"--set {item!r}: expected key=value")
    try:
        return key, json.loads(value)
    except ValueError:
        raise ValueError(f"--set {item!r}: value is not a JSON number or boolean") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pquant.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", required=True, choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0, help="non-negative random seed (default 0)")
    parser.add_argument("-o", "--output", required=True, help="checkpoint directory to write (created)")
    parser.add_argument("--format", choices=FORMATS, default="packed")
    parser.add_argument("--f16", action="store_true", help="store embeddings and norms as F16")
    parser.add_argument("--per-row-scales", action="store_true", help="per-row scales on packed 1-bit weights")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key of the preset, e.g. --set hidden_size=72 (repeatable)")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    try:
        overrides = dict(_parse_set(item) for item in args.set)
        config = preset_config(args.preset, **{"format": args.format, **overrides})
        tensors = generate_checkpoint(config, args.seed, f16=args.f16, per_row_scales=args.per_row_scales)
        save_checkpoint(args.output, config, tensors)
    except ValueError as e:
        parser.error(str(e))
    size = os.path.getsize(os.path.join(args.output, WEIGHTS_FILE))
    print(f"wrote {args.output}: {len(tensors)} tensors, {size} bytes of weights", file=sys.stderr)


if __name__ == "__main__":
    main()
