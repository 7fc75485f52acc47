"""Writes a copy of a good checkpoint broken by one rule of
docs/checkpoint-format.md that test/Import/bad-input.test does not already
break, for test/Import/malformed-checkpoint.test.

Usage: malformed_checkpoint.py SRC_DIR DST_DIR MODE
"""

import json
import os

from checkpoint_edits import CONFIG, read_weights, run, set_config, write_weights


def config_text(dst, change):
    """Rewrites config.json as change(text of the good one)."""
    path = os.path.join(dst, CONFIG)
    text = open(path).read()
    open(path, "w").write(change(text))


def edit_header(dst, change):
    """Rewrites the header as JSON after change(dict); the data stays."""
    header, data = read_weights(dst)
    entries = json.loads(header)
    change(entries)
    write_weights(dst, json.dumps(entries).encode(), data)


def header_text(dst, change):
    """Rewrites the header as change(its bytes); the data stays."""
    header, data = read_weights(dst)
    write_weights(dst, change(header), data)


def first_by_offset(entries):
    return min((v["data_offsets"][0], k) for k, v in entries.items() if k != "__metadata__")[1]


def drop_first(entries):
    del entries[first_by_offset(entries)]


MODES = {
    # config.json
    "config-not-object": lambda d: config_text(d, lambda t: "[1, 2]"),
    "config-duplicate-key": lambda d: config_text(d, lambda t: t.replace("{", '{"num_layers": 2, ', 1)),
    "config-float": lambda d: set_config(d, hidden_size=64.0),
    "config-bool-int": lambda d: set_config(d, num_layers=True),
    "config-int-bool": lambda d: set_config(d, subln=1),
    "config-top-k": lambda d: set_config(d, top_k=5),
    "config-kv-heads": lambda d: set_config(d, num_kv_heads=3),
    "config-odd-head": lambda d: set_config(d, num_heads=64, num_kv_heads=64),
    "config-rope": lambda d: set_config(d, rope_theta=0),
    "config-format": lambda d: set_config(d, format="gguf"),
    "config-exponents": lambda d: config_text(
        d, lambda t: t.replace('"rms_norm_eps": 1e-05', '"rms_norm_eps": 1E-5').replace(
            '"rope_theta": 10000.0', '"rope_theta": 1e4')),
    # the safetensors header
    "header-not-object": lambda d: header_text(d, lambda h: b"[]"),
    "header-not-utf8": lambda d: header_text(d, lambda h: h.replace(b'"norm.weight"', b'"norm.\xffeight"')),
    "header-duplicate-key": lambda d: header_text(d, lambda h: b'{"norm.weight": {}, ' + h[1:]),
    "metadata-not-strings": lambda d: edit_header(d, lambda e: e.update(__metadata__={"format": 1})),
    "entry-extra-key": lambda d: edit_header(d, lambda e: e["norm.weight"].update(stride=[1])),
    "entry-missing-key": lambda d: edit_header(d, lambda e: e["norm.weight"].pop("shape")),
    "dtype-unsupported": lambda d: edit_header(d, lambda e: e["norm.weight"].update(dtype="BF16")),
    "shape-negative": lambda d: edit_header(d, lambda e: e["norm.weight"].update(shape=[-64])),
    "shape-not-list": lambda d: edit_header(d, lambda e: e["norm.weight"].update(shape=64)),
    "offsets-not-pair": lambda d: edit_header(d, lambda e: e["norm.weight"].update(data_offsets=[0])),
    "shape-float": lambda d: edit_header(d, lambda e: e["norm.weight"].update(shape=[64.0])),
    "offsets-float": lambda d: edit_header(
        d, lambda e: e["norm.weight"].update(data_offsets=[float(x) for x in e["norm.weight"]["data_offsets"]])),
    "offsets-reversed": lambda d: edit_header(
        d, lambda e: e["norm.weight"].update(data_offsets=e["norm.weight"]["data_offsets"][::-1])),
    "gap": lambda d: edit_header(d, drop_first),
    "trailing-bytes": lambda d: write_weights(d, *(lambda h, data: (h, data + bytes(8)))(*read_weights(d))),
}


if __name__ == "__main__":
    run(MODES)
