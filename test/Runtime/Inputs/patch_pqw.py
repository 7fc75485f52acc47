"""Patches one field of a .pqw in place, without rebuilding the FlatBuffer,
so the file keeps its layout and (unless asked) its checksum.

Usage: patch_pqw.py FILE tensor-count N     the length of Model.tensors
       patch_pqw.py FILE config.FIELD N    a long field of Model.config
                                           (num_layers, max_seq_len, ...)
       patch_pqw.py FILE format-version N  Model.format_version
       patch_pqw.py FILE data-checksum     Model.data_checksum recomputed
                                           from the data section
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))

from pquant.artifact import data_checksum  # noqa: E402


def field(raw, table, index):
    """Absolute position of field `index` of the table at `table`, or None."""
    vtable = table - struct.unpack_from("<i", raw, table)[0]
    vtable_size = struct.unpack_from("<H", raw, vtable)[0]
    if 4 + 2 * index >= vtable_size:
        return None
    offset = struct.unpack_from("<H", raw, vtable + 4 + 2 * index)[0]
    return table + offset if offset else None


def main():
    path, what = sys.argv[1], sys.argv[2]
    value = int(sys.argv[3]) if len(sys.argv) > 3 else None
    raw = bytearray(open(path, "rb").read())
    model = struct.unpack_from("<I", raw, 0)[0]
    if what == "format-version":
        struct.pack_into("<I", raw, field(raw, model, 0), value)
    elif what == "data-checksum":
        # Model.data_offset, data_size, data_checksum: fields 5, 6, 7.
        offset, size = (struct.unpack_from("<Q", raw, field(raw, model, i))[0] for i in (5, 6))
        struct.pack_into("<Q", raw, field(raw, model, 7), data_checksum(raw[offset:offset + size]))
    elif what == "tensor-count":
        at = field(raw, model, 4)  # Model.tensors: a uoffset to the vector
        vector = at + struct.unpack_from("<I", raw, at)[0]
        struct.pack_into("<I", raw, vector, value)
    elif what.startswith("config."):
        # ModelConfig's long fields, in schema order (pqw.fbs).
        longs = {"vocab_size": 0, "hidden_size": 1, "num_layers": 2, "num_heads": 3, "num_kv_heads": 4,
                 "ffn_bin_size": 5, "ffn_hp_size": 6, "num_experts": 7, "top_k": 8, "max_seq_len": 13}
        name = what[len("config."):]
        if name not in longs:
            sys.exit(f"patch_pqw.py: unknown config field {name}")
        at = field(raw, model, 3)  # Model.config: a uoffset to the table
        config = at + struct.unpack_from("<I", raw, at)[0]
        position = field(raw, config, longs[name])
        if position is None:
            sys.exit(f"patch_pqw.py: config.{name} is not stored (default value)")
        struct.pack_into("<q", raw, position, value)
    else:
        sys.exit(f"patch_pqw.py: unknown field {what}")
    open(path, "wb").write(raw)


if __name__ == "__main__":
    main()
