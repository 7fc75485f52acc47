"""Reading .pqw artifacts from Python: the data section's checksum, computed
as include/pquant/Artifact/DataChecksum.h defines it (format version 2), for
tests that check an artifact independently of the C++ code."""

import numpy as np

FNV_BASIS = 14695981039346656037
FNV_PRIME = 1099511628211
LANES = 8
MASK = (1 << 64) - 1


def fnv1a64(data, h=FNV_BASIS):
    """FNV-1a 64 over bytes."""
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK
    return h


def data_checksum(data):
    """Words (little-endian, the last zero-padded) folded into 8 FNV-1a lanes
    by index mod 8, then FNV-1a 64 over the lanes' bytes and the size."""
    data = bytes(data)
    words = np.frombuffer(data + bytes(-len(data) % 8), "<u8")
    whole = len(words) // LANES * LANES
    lanes = np.full(LANES, FNV_BASIS, np.uint64)
    prime = np.uint64(FNV_PRIME)
    for block in words[:whole].reshape(-1, LANES):
        lanes = (lanes ^ block) * prime  # uint64 arrays wrap modulo 2^64
    lanes = [int(lane) for lane in lanes]
    for i, word in enumerate(words[whole:]):
        lanes[i] = ((lanes[i] ^ int(word)) * FNV_PRIME) & MASK
    return fnv1a64(b"".join(lane.to_bytes(8, "little") for lane in lanes) + len(data).to_bytes(8, "little"))
