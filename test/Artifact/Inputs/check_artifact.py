"""Checks a .pqw artifact against its checkpoint, independently of the
compiler: decodes the FlatBuffer header with flatc, recomputes the checksum
of the data section (pquant.artifact, written from the format's
definition), and compares every tensor with the numpy loader's view of the
checkpoint, unpacking packed 1-bit tensors from the layout the header
records.

Usage: check_artifact.py SCHEMA.fbs MODEL.pqw CHECKPOINT_DIR WORK_DIR
"""

import json
import os
import subprocess
import sys

import numpy as np

from pquant import checkpoint as ckpt
from pquant.artifact import data_checksum
from pquant import reference as ref

DTYPES = {"F32": np.float32, "F16": np.float16, "I8": np.int8, "I64": np.uint64}


def unpack(words, layout):
    """±1 matrix [rows, cols] from storage words [row blocks, word blocks, tile rows, tile words]."""
    rows, cols, word = layout["rows"], layout["cols"], layout["word"]
    tile_rows, tile_words = layout["tile_rows"], layout["tile_words"]
    out = np.empty((rows, cols), np.int8)
    flat = words.reshape(-1)
    per_row = -(-cols // word)
    blocks = -(-per_row // tile_words)
    for r in range(rows):
        for c in range(cols):
            w = c // word
            index = (((r // tile_rows) * blocks + w // tile_words) * tile_rows + r % tile_rows) * tile_words \
                + w % tile_words
            bit = c % word if not layout.get("msb_first") else word - 1 - c % word
            out[r, c] = 1 if (int(flat[index]) >> bit) & 1 else -1
    return out


def main():
    schema, model, checkpoint_dir, work = sys.argv[1:5]
    subprocess.run(["flatc", "--json", "--raw-binary", "--strict-json", "-o", work, schema, "--", model],
                   check=True)
    header = json.load(open(os.path.join(work, os.path.splitext(os.path.basename(model))[0] + ".json")))
    raw = open(model, "rb").read()
    start, size = header["data_offset"], header["data_size"]
    data = raw[start:start + size]
    assert start % 64 == 0 and len(data) == size, "data section misplaced"
    assert len(raw) == start + size, "bytes after the data section"
    print("checksum", "ok" if data_checksum(data) == header["data_checksum"] else "WRONG")

    config, weights = ckpt.load_checkpoint(checkpoint_dir)
    print("config", "ok" if all(header["config"][k] == v for k, v in config.to_dict().items() if k != "format")
          else "WRONG")
    kinds = {}
    for tensor in header["tensors"]:
        assert tensor["offset"] % 64 == 0, tensor["name"]
        chunk = data[tensor["offset"]:tensor["offset"] + tensor["size"]]
        array = np.frombuffer(chunk, DTYPES[tensor["dtype"]]).reshape(tensor["shape"])
        expected = weights[tensor["name"]]
        if "quantization" in tensor:  # --lm-head=int8 / --embedding=int8: quant8 of each row
            rows, scales = ref.quant8(expected)
            expected = rows if tensor["quantization"] == "int8_rows" else scales
            got, kind = array, f"{tensor['quantization']} of {tensor['name']}"
        elif "packed" in tensor:
            got, kind = unpack(array, tensor["packed"]), "packed 1-bit"
        else:
            got, kind = array.astype(expected.dtype), tensor["dtype"]
        same = np.array_equal(got, expected)
        kinds[kind] = kinds.get(kind, 0) + 1 if same else float("nan")
        if not same:
            print("WRONG", tensor["name"])
    for kind in sorted(kinds):
        print(f"{kind}: {kinds[kind]} tensors equal")


if __name__ == "__main__":
    main()
