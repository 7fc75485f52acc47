"""Writes a hostile copy of a good checkpoint: inputs built to exhaust the
reader's stack, memory or time rather than to be merely malformed.

Usage: hostile_checkpoint.py SRC_DIR DST_DIR MODE
"""

import json
import os

from checkpoint_edits import CONFIG, run, set_config, write_weights


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


if __name__ == "__main__":
    run(MODES)
