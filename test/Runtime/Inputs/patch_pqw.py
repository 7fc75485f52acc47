"""Patches one field of a .pqw in place, without rebuilding the FlatBuffer,
so the file keeps its layout and checksum.

Usage: patch_pqw.py FILE tensor-count N     the length of Model.tensors
"""

import struct
import sys


def field(raw, table, index):
    """Absolute position of field `index` of the table at `table`, or None."""
    vtable = table - struct.unpack_from("<i", raw, table)[0]
    vtable_size = struct.unpack_from("<H", raw, vtable)[0]
    if 4 + 2 * index >= vtable_size:
        return None
    offset = struct.unpack_from("<H", raw, vtable + 4 + 2 * index)[0]
    return table + offset if offset else None


def main():
    path, what, value = sys.argv[1], sys.argv[2], int(sys.argv[3])
    raw = bytearray(open(path, "rb").read())
    model = struct.unpack_from("<I", raw, 0)[0]
    if what == "tensor-count":
        at = field(raw, model, 4)  # Model.tensors: a uoffset to the vector
        vector = at + struct.unpack_from("<I", raw, at)[0]
        struct.pack_into("<I", raw, vector, value)
    else:
        sys.exit(f"patch_pqw.py: unknown field {what}")
    open(path, "wb").write(raw)


if __name__ == "__main__":
    main()
