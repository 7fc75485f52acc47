"""Checks the data pquant-import --inline-weights embedded against the numpy
loader (pquant.checkpoint.load_checkpoint), tensor by tensor, bit for bit.

Usage: check_inline_weights.py MODEL.mlir CHECKPOINT_DIR

For a latent checkpoint this compares the importer's quantization with the
reference's. Prints one line per kind of tensor checked; exits 1 on the
first mismatch.
"""

import re
import sys

import numpy as np

from pquant import checkpoint as ckpt

RESOURCE = re.compile(r'^\s*([\w.]+): "0x([0-9A-F]*)",?$')
SCALARS = re.compile(r"alpha = ([-+0-9.eE]+) : f32, beta = ([-+0-9.eE]+) : f32")


def resources(text):
    """name -> raw bytes of every blob in the module's dialect_resources."""
    blobs = {}
    for line in text[text.index("dialect_resources"):].splitlines():
        match = RESOURCE.match(line)
        if match:
            data = bytes.fromhex(match.group(2))
            blobs[match.group(1)] = data[4:]  # a blob starts with its alignment
    return blobs


def main():
    model_path, checkpoint_dir = sys.argv[1:3]
    text = open(model_path).read()
    config, weights = ckpt.load_checkpoint(checkpoint_dir)
    blobs = resources(text)
    counts = {}

    kinds = {spec.name: spec.kind for spec in ckpt.weight_specs(config)}
    for name, expected in weights.items():
        kind = kinds.get(name, "scale")
        if kind == "scalar":
            continue  # alpha and beta become attributes, checked below
        if name not in blobs:
            sys.exit(f"{name}: not embedded")
        raw = blobs.pop(name)
        if kind == "bit":
            n, k = expected.shape
            got = ckpt.unpack_bits(np.frombuffer(raw, np.uint8).reshape(n, -1), k)
        elif kind == "int8":
            got = np.frombuffer(raw, np.int8).reshape(expected.shape)
        else:
            dtype = np.float16 if len(raw) == 2 * expected.size else np.float32
            got = np.frombuffer(raw, dtype).reshape(expected.shape).astype(np.float32)
        if not np.array_equal(got, expected):
            bad = np.argwhere(got != expected)[0]
            sys.exit(f"{name}: element {tuple(bad)} is {got[tuple(bad)]}, reference {expected[tuple(bad)]}")
        counts[kind] = counts.get(kind, 0) + 1
    if blobs:
        sys.exit(f"unexpected embedded tensors: {sorted(blobs)}")

    # alpha and beta of each layer, in @prefill (the first entry point).
    prefill = text[text.index("@prefill"):text.index("@decode")]
    pairs = SCALARS.findall(prefill)
    if len(pairs) != config.num_layers:
        sys.exit(f"found {len(pairs)} alpha/beta pairs for {config.num_layers} layers")
    for layer, (alpha, beta) in enumerate(pairs):
        for name, printed in (("alpha", alpha), ("beta", beta)):
            expected = weights[f"layers.{layer}.ffn.{name}"][0]
            if np.float32(float(printed)) != expected:
                sys.exit(f"layers.{layer}.ffn.{name}: attribute {printed}, reference {expected}")
    counts["alpha/beta"] = 2 * len(pairs)
    for kind in sorted(counts):
        print(f"{kind}: {counts[kind]} tensors equal")


if __name__ == "__main__":
    main()
