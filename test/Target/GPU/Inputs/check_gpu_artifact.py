"""Checks the .pqw of a GPU model against its checkpoint, independently of the
compiler: the FlatBuffer header (flatc), the data checksum, every tensor (the
1-bit ones in the GPU kernels' layout, word = 32, tile = [8, 4]), and the
kernels: chip, PTX for that chip defining each named kernel, and the id over
PTX and names that the host code must match.

Usage: check_gpu_artifact.py SCHEMA.fbs MODEL.pqw CHECKPOINT_DIR WORK_DIR
"""

import json
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "Integration", "GPU"))

import gpu_harness as gh  # noqa: E402

from pquant import checkpoint as ckpt  # noqa: E402
from pquant.artifact import data_checksum, fnv1a64  # noqa: E402

DTYPES = {"F32": np.float32, "F16": np.float16, "I8": np.int8, "I32": np.uint32}


def main():
    schema, model, checkpoint_dir, work = sys.argv[1:5]
    subprocess.run(["flatc", "--json", "--raw-binary", "--strict-json", "-o", work, schema, "--", model],
                   check=True)
    header = json.load(open(os.path.join(work, os.path.splitext(os.path.basename(model))[0] + ".json")))
    raw = open(model, "rb").read()
    start, size = header["data_offset"], header["data_size"]
    data = raw[start:start + size]
    print("target", header["target"]["triple"])
    print("checksum", "ok" if data_checksum(data) == header["data_checksum"] else "WRONG")

    gpu = header["gpu"]
    ptx, names = gpu["ptx"], gpu["kernels"]
    h = fnv1a64(ptx.encode() + b"\0")
    for name in names:
        h = fnv1a64(name.encode() + b"\0", h)
    print("chip", gpu["chip"], "ptx target", re.search(r"\.target (\S+)", ptx).group(1))
    print("kernels id", "ok" if h == int(gpu["kernels_id"]) else "WRONG")
    entries = set(re.findall(r"\.entry (\w+)\(", ptx))
    print(f"{len(names)} kernels,", "all in the PTX" if entries == set(names) else "WRONG names")

    _, weights = ckpt.load_checkpoint(checkpoint_dir)
    kinds = {}
    for tensor in header["tensors"]:
        chunk = data[tensor["offset"]:tensor["offset"] + tensor["size"]]
        array = np.frombuffer(chunk, DTYPES[tensor["dtype"]]).reshape(tensor["shape"])
        expected = weights[tensor["name"]]
        if "packed" in tensor:
            same, kind = np.array_equal(array, gh.pack_gpu(expected)), "packed 1-bit"
        else:
            same, kind = np.array_equal(array, expected.astype(array.dtype)), tensor["dtype"]
        kinds[kind] = kinds.get(kind, 0) + 1 if same else float("nan")
        if not same:
            print("WRONG", tensor["name"])
    for kind in sorted(kinds):
        print(f"{kind}: {kinds[kind]} tensors equal")


if __name__ == "__main__":
    main()
