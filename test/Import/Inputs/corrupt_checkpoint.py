"""Writes a broken copy of a good checkpoint, one defect per mode, for the
importer's bad-input tests.

Usage: corrupt_checkpoint.py SRC_DIR DST_DIR MODE
"""

import json
import os
import struct

import numpy as np

from pquant import checkpoint as ckpt

from checkpoint_edits import CONFIG, WEIGHTS, run


def edit_config(dst, change):
    path = os.path.join(dst, CONFIG)
    with open(path) as f:
        config = json.load(f)
    change(config)
    with open(path, "w") as f:
        json.dump(config, f)


def edit_tensors(dst, change):
    path = os.path.join(dst, WEIGHTS)
    tensors, _ = ckpt.read_safetensors(path)
    tensors = {name: np.array(array) for name, array in tensors.items()}
    change(tensors)
    ckpt.write_safetensors(path, tensors)


def edit_header(dst, change):
    """Rewrites the JSON header (keeping the data buffer) after change(header)."""
    path = os.path.join(dst, WEIGHTS)
    raw = open(path, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + size])
    change(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + raw[8 + size:])


def edit_bytes(dst, change):
    path = os.path.join(dst, WEIGHTS)
    raw = bytearray(open(path, "rb").read())
    with open(path, "wb") as f:
        f.write(change(raw))


def swap_offsets(header):
    """Makes the second tensor (by offset) overlap the first."""
    entries = sorted((v["data_offsets"], k) for k, v in header.items() if k != "__metadata__")
    (first_begin, _), _ = entries[0]
    (begin, end), name = entries[1]
    header[name]["data_offsets"] = [first_begin, first_begin + end - begin]


def set_padding_bit(tensors):
    down1 = tensors["layers.0.ffn.down1.weight"]  # K = ffn_bin_size, not a multiple of 8
    down1[0, -1] |= 0x80


MODES = {
    "no-config": lambda d: os.remove(os.path.join(d, CONFIG)),
    "config-not-json": lambda d: open(os.path.join(d, CONFIG), "w").write("{ hidden_size: 64 "),
    "config-missing-key": lambda d: edit_config(d, lambda c: c.pop("num_heads")),
    "config-unknown-key": lambda d: edit_config(d, lambda c: c.update(dropout=0.1)),
    "config-bad-value": lambda d: edit_config(d, lambda c: c.update(hidden_size=-64)),
    "config-heads": lambda d: edit_config(d, lambda c: c.update(num_heads=3)),
    "no-weights": lambda d: os.remove(os.path.join(d, WEIGHTS)),
    "too-short": lambda d: edit_bytes(d, lambda raw: raw[:5]),
    "header-too-long": lambda d: edit_bytes(d, lambda raw: struct.pack("<Q", len(raw)) + raw[8:]),
    "header-not-json": lambda d: edit_bytes(d, lambda raw: raw[:8] + b"[" + raw[9:]),
    "truncated": lambda d: edit_bytes(d, lambda raw: raw[:len(raw) // 2]),
    "offsets-past-end": lambda d: edit_header(
        d, lambda h: h["norm.weight"].update(data_offsets=[10 ** 12, 10 ** 12 + 256])),
    "overlap": lambda d: edit_header(d, swap_offsets),
    "huge-shape": lambda d: edit_header(d, lambda h: h["norm.weight"].update(shape=[2 ** 60, 2 ** 60])),
    "missing-tensor": lambda d: edit_tensors(d, lambda t: t.pop("layers.1.attn.v.scale")),
    "unexpected-tensor": lambda d: edit_tensors(d, lambda t: t.update({"layers.0.extra": np.zeros(4, np.float32)})),
    "wrong-dtype": lambda d: edit_tensors(
        d, lambda t: t.update({"layers.0.attn.q.scale": t["layers.0.attn.q.scale"].astype(np.float16)})),
    "wrong-shape": lambda d: edit_tensors(
        d, lambda t: t.update({"layers.0.ffn.gate8.weight": t["layers.0.ffn.gate8.weight"][:, :-1]})),
    "nan-scale": lambda d: edit_tensors(d, lambda t: t["layers.1.ffn.up1.scale"].fill(np.nan)),
    "int8-min": lambda d: edit_tensors(d, lambda t: t["layers.0.ffn.up8.weight"].flat.__setitem__(5, -128)),
    "padding-bits": lambda d: edit_tensors(d, set_padding_bit),
}


if __name__ == "__main__":
    run(MODES)
