"""What the checkpoint-editing scripts of the importer's tests share: the
file names, reading and writing config.json and model.safetensors, and the
command line SRC_DIR DST_DIR MODE (copy SRC_DIR to DST_DIR, then edit it as
MODE says)."""

import json
import os
import shutil
import struct
import sys

CONFIG, WEIGHTS = "config.json", "model.safetensors"


def set_config(dst, **changes):
    path = os.path.join(dst, CONFIG)
    config = json.load(open(path))
    config.update(changes)
    json.dump(config, open(path, "w"))


def read_weights(dst):
    """(header bytes, data bytes) of the safetensors file."""
    raw = open(os.path.join(dst, WEIGHTS), "rb").read()
    (size,) = struct.unpack("<Q", raw[:8])
    return raw[8:8 + size], raw[8 + size:]


def write_weights(dst, header, data=b""):
    with open(os.path.join(dst, WEIGHTS), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def run(modes):
    """The scripts' main: copies SRC_DIR to DST_DIR and applies modes[MODE]."""
    src, dst, mode = sys.argv[1:4]
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    modes[mode](dst)
