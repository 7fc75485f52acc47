"""Writes a hostile copy of a good checkpoint: inputs built to exhaust the
reader's stack, memory or time rather than to be merely malformed.

Usage: hostile_checkpoint.py SRC_DIR DST_DIR MODE
"""

import json
import os
import shutil
import struct
import sys

CONFIG, WEIGHTS = "config.json", "model.safetensors"


def write_weights(dst, header_text, data=b""):
    with open(os.path.join(dst, WEIGHTS), "wb") as f:
        f.write(struct.pack("<Q", len(header_text)) + header_text + data)


def set_config(dst, **changes):
    path = os.path.join(dst, CONFIG)
    config = json.load(open(path))
    config.update(changes)
    json.dump(config, open(path, "w"))


def many_tensors(dst):
    """100000 empty tensors: a header that claims a huge tensor count."""
    header = {f"t{i}": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]} for i in range(100000)}
    write_weights(dst, json.dumps(header).encode())


MODES = {
    # llvm::json::parse recurses once per level: a million would overflow the stack.
    "deep-config": lambda d: open(os.path.join(d, CONFIG), "w").write("[" * 1000000),
    "deep-header": lambda d: write_weights(d, b'{"a": ' + b"[" * 1000000),
    "deep-string": lambda d: open(os.path.join(d, CONFIG), "w").write('{"x": "' + "[" * 100000 + '"}'),
    "element-2-60": lambda d: write_weights(
        d, json.dumps({"norm.weight": {"dtype": "F32", "shape": [2 ** 60], "data_offsets": [0, 0]}}).encode()),
    "billion-layers": lambda d: set_config(d, num_layers=10 ** 9),
    "billion-experts": lambda d: set_config(d, num_experts=10 ** 9, top_k=1),
    "huge-vocab": lambda d: set_config(d, vocab_size=2 ** 62),
    "many-tensors": many_tensors,
}


def main():
    src, dst, mode = sys.argv[1:4]
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    MODES[mode](dst)


if __name__ == "__main__":
    main()
