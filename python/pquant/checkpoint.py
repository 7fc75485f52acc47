"""pQuant checkpoints: safetensors in pure numpy, config.json, 1-bit packing, validation, decoding.

A checkpoint is a directory holding config.json and model.safetensors (docs/checkpoint-format.md is the
specification the C++ importer implements too). Two forms of the tensors appear here:

* the stored form, what the file holds: packed U8 bits (or latent F32 weights), F16 or F32 tables;
* the decoded form `load_checkpoint` returns and `reference.Model` runs: bits unpacked to int8 +-1, latent
  weights quantized, every float tensor float32, names unchanged (a latent weight gains its `.scale`).

Every malformed input raises ValueError naming the file and the tensor, never a numpy error or a crash,
because the files come from other programs.
"""

import dataclasses
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from . import reference

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMATS = ("packed", "latent")

# ----------------------------------------------------------------------------------------------------------
# safetensors

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I8": np.dtype("i1"), "U8": np.dtype("u1")}
_HEADER_ALIGN = 8  # the data buffer starts 8-byte aligned, as the reference writer pads it
_MAX_HEADER_BYTES = 100 << 20  # the reference reader's limit: a larger header is a corrupt length


def _dtype_name(array):
    """The safetensors dtype name of a numpy array, or None when the format here does not support it."""
    kinds = {("f", 4): "F32", ("f", 2): "F16", ("i", 1): "I8", ("u", 1): "U8"}
    return kinds.get((array.dtype.kind, array.dtype.itemsize))


def _json_object(pairs):
    """object_pairs_hook rejecting duplicate keys, which json.loads would otherwise silently merge."""
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key '{key}'")
        obj[key] = value
    return obj


def _name_mismatch(what, expected, actual):
    """'missing <what>s [...], unexpected <what>s [...]' for the names that differ, or '' if none do."""
    missing = [n for n in expected if n not in actual]
    unexpected = sorted(set(actual) - set(expected))
    return ", ".join(f"{kind} {what}s {names}" for kind, names in (("missing", missing), ("unexpected", unexpected))
                     if names)


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def write_safetensors(path, tensors, metadata=None):
    """Write `tensors` (name -> array of F32/F16/I8/U8) and optional str -> str `metadata` to `path`.

    Tensors are laid out by decreasing element size, then by name: the output is deterministic and every
    tensor's data is aligned to its element size, since the header is space-padded to 8 bytes.
    """
    arrays = {}
    for name, value in tensors.items():
        array = np.asarray(value)
        dtype = _dtype_name(array)
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"{path}: invalid tensor name {name!r}")
        if dtype is None:
            raise ValueError(f"{path}: tensor '{name}': unsupported dtype {array.dtype}")
        arrays[name] = (dtype, np.ascontiguousarray(array, _DTYPES[dtype]))
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError(f"{path}: metadata must map str to str")

    header = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    order = sorted(arrays, key=lambda n: (-arrays[n][1].itemsize, n))
    for name in order:
        dtype, array = arrays[name]
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-(8 + len(raw)) % _HEADER_ALIGN)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for name in order:
            f.write(arrays[name][1].reshape(-1).view(np.uint8).data)


def _parse_entry(path, name, entry, data_size):
    """Check one header entry -> (dtype, shape, begin, end)."""
    where = f"{path}: tensor '{name}'"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ValueError(f"{where}: entry must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPES:
        raise ValueError(f"{where}: unsupported dtype {dtype!r} (supported: {', '.join(_DTYPES)})")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise ValueError(f"{where}: shape {shape!r} is not a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise ValueError(f"{where}: data_offsets {offsets!r} is not a pair of integers")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise ValueError(f"{where}: data_offsets [{begin}, {end}] out of range (data buffer is {data_size} bytes)")
    if end - begin != math.prod(shape) * _DTYPES[dtype].itemsize:
        raise ValueError(f"{where}: data_offsets [{begin}, {end}] do not hold {dtype} {shape}")
    return _DTYPES[dtype], tuple(shape), begin, end


def _parse_header(path, raw, data_size):
    """Decode and check the JSON header -> ({name: (dtype, shape, begin, end)} in file order, metadata)."""
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_json_object)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"{path}: bad safetensors header: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: bad safetensors header: not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: __metadata__ must map str to str")
    entries = {name: _parse_entry(path, name, entry, data_size) for name, entry in header.items()}

    expected = 0  # the tensors must tile the data buffer: no overlap, no gap, nothing left over
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != expected:
            problem = "overlaps the previous tensor" if begin < expected else f"leaves a gap at byte {expected}"
            raise ValueError(f"{path}: tensor '{name}': data_offsets [{begin}, {end}] {problem}")
        expected = end
    if expected != data_size:
        raise ValueError(f"{path}: {data_size - expected} bytes at the end of the data buffer belong to no tensor")
    return entries, metadata


def read_safetensors(path):
    """Read a safetensors file -> (dict name -> np.ndarray in file order, metadata dict, {} if none).

    The arrays are writable views into one buffer holding the file's data.
    """
    with open(path, "rb") as f:
        buffer = bytearray(os.fstat(f.fileno()).st_size)
        f.readinto(buffer)
    if len(buffer) < 8:
        raise ValueError(f"{path}: file too short for a safetensors header ({len(buffer)} bytes)")
    header_size = int.from_bytes(buffer[:8], "little")
    if header_size > min(len(buffer) - 8, _MAX_HEADER_BYTES):
        raise ValueError(f"{path}: header length {header_size} exceeds the file ({len(buffer)} bytes)")
    data_start = 8 + header_size
    entries, metadata = _parse_header(path, bytes(buffer[8:data_start]), len(buffer) - data_start)
    tensors = {
        name: np.frombuffer(buffer, dtype, math.prod(shape), data_start + begin).reshape(shape)
        for name, (dtype, shape, begin, _) in entries.items()
    }
    return tensors, metadata


# ----------------------------------------------------------------------------------------------------------
# config.json


# What each Config field type accepts: (description, predicate). Sizes are positive, floats finite > 0.
_FIELD_RULES = {
    int: ("an integer >= 1", lambda v: _is_int(v) and v >= 1),
    bool: ("a boolean", lambda v: isinstance(v, bool)),
    float: ("a positive finite number", lambda v: (_is_int(v) or isinstance(v, float)) and 0 < v < math.inf),
    str: (" or ".join(map(repr, FORMATS)), lambda v: v in FORMATS),
}


@dataclass(frozen=True)
class Config:
    """Model hyper-parameters (config.json). Construction validates, so every Config is consistent."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    ffn_bin_size: int
    ffn_hp_size: int
    num_experts: int
    top_k: int
    gate_weighting: bool
    subln: bool
    rope_theta: float
    rms_norm_eps: float
    max_seq_len: int
    tie_embeddings: bool
    format: str = "packed"

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            expected, ok = _FIELD_RULES[field.type]
            if not ok(value):
                raise ValueError(f"{field.name} = {value!r} must be {expected}")
        if self.hidden_size % self.num_heads or self.head_dim % 2:
            raise ValueError(
                f"hidden_size {self.hidden_size} must be num_heads {self.num_heads} times an even head size")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads {self.num_heads} must be a multiple of num_kv_heads {self.num_kv_heads}")
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k {self.top_k} exceeds num_experts {self.num_experts}")

    @property
    def head_dim(self):
        return self.hidden_size // self.num_heads

    @classmethod
    def from_dict(cls, d, source="config"):
        """Build from a dict (parsed config.json): every key required but format; unknown keys rejected."""
        if not isinstance(d, dict):
            raise ValueError(f"{source}: config must be a JSON object")
        present = {"format": None, **d}  # format is the one optional key
        problem = _name_mismatch("key", [f.name for f in dataclasses.fields(cls)], present)
        if problem:
            raise ValueError(f"{source}: {problem}")
        try:
            return cls(**d)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def load(cls, path):
        """Read config.json at `path`."""
        with open(path, "rb") as f:
            try:
                d = json.loads(f.read().decode("utf-8"), object_pairs_hook=_json_object)
            except ValueError as e:
                raise ValueError(f"{path}: not valid JSON: {e}") from None
        return cls.from_dict(d, source=path)

    def save(self, path):
        with open(path, "w") as f:
            f.write(json.dumps(self.to_dict(), indent=2) + "\n")


# ----------------------------------------------------------------------------------------------------------
# 1-bit packing


def packed_width(k):
    """Bytes per packed row of K bits."""
    return -(-k // 8)


def pack_bits(bits):
    """Pack +-1 (or bool, True = +1) weights [N, K] -> uint8 [N, ceil(K/8)].

    Weight (n, k) is bit k % 8, least significant first, of byte [n, k // 8]; 1 means +1, 0 means -1,
    and the padding bits past K are 0.
    """
    bits = np.asarray(bits)
    if bits.ndim != 2:
        raise ValueError(f"bits must be 2-D [N, K], got shape {bits.shape}")
    if bits.dtype != bool:
        if not np.all((bits == 1) | (bits == -1)):
            raise ValueError("bits must be +-1 or bool")
        bits = bits > 0
    return np.packbits(bits, axis=1, bitorder="little")


def unpack_bits(packed, k):
    """Inverse of pack_bits: uint8 [N, ceil(K/8)] -> int8 +-1 [N, K]; padding bits are ignored."""
    packed = np.asarray(packed)
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != packed_width(k):
        raise ValueError(f"expected uint8 [N, {packed_width(k)}] for K = {k}, got {packed.dtype} {packed.shape}")
    bits = np.unpackbits(packed, axis=1, count=k, bitorder="little").astype(np.int8)
    return bits * 2 - 1


def _padding_is_zero(packed, k):
    """Whether the bits past K in the last byte of each packed row are all 0, as the format requires."""
    if k % 8 == 0:
        return True
    return not np.any(packed[:, -1] >> (k % 8))


# ----------------------------------------------------------------------------------------------------------
# Checkpoint schema


@dataclass(frozen=True)
class WeightSpec:
    """One logical weight of the model.

    kind: "embedding" (embed, lm_head) and "norm" are F32 or F16 tables; "router" and "scalar" (alpha,
    beta) are F32; "bit" is a 1-bit weight [N, K]; "int8" is the int8 experts [E, N, K]. Shape is logical.
    """

    name: str
    kind: str
    shape: tuple


def weight_specs(config):
    """Every logical weight of a model with `config`, in a fixed order."""
    d, f1, r, e = config.hidden_size, config.ffn_bin_size, config.ffn_hp_size, config.num_experts
    q_dim, kv_dim = config.num_heads * config.head_dim, config.num_kv_heads * config.head_dim
    specs = [WeightSpec("embed.weight", "embedding", (config.vocab_size, d))]
    for i in range(config.num_layers):
        p = f"layers.{i}."
        specs += [
            WeightSpec(p + "attn_norm.weight", "norm", (d,)),
            WeightSpec(p + "attn.q.weight", "bit", (q_dim, d)),
            WeightSpec(p + "attn.k.weight", "bit", (kv_dim, d)),
            WeightSpec(p + "attn.v.weight", "bit", (kv_dim, d)),
            WeightSpec(p + "attn.o.weight", "bit", (d, q_dim)),
            WeightSpec(p + "ffn_norm.weight", "norm", (d,)),
            WeightSpec(p + "ffn.gate1.weight", "bit", (f1, d)),
            WeightSpec(p + "ffn.up1.weight", "bit", (f1, d)),
            WeightSpec(p + "ffn.down1.weight", "bit", (d, f1)),
            WeightSpec(p + "ffn.gate8.weight", "int8", (e, r, d)),
            WeightSpec(p + "ffn.up8.weight", "int8", (e, r, d)),
            WeightSpec(p + "ffn.down8.weight", "int8", (e, d, r)),
        ]
        if e > 1:
            specs.append(WeightSpec(p + "ffn.router.weight", "router", (e, d)))
        specs += [WeightSpec(p + "ffn.alpha", "scalar", (1,)), WeightSpec(p + "ffn.beta", "scalar", (1,))]
    specs.append(WeightSpec("norm.weight", "norm", (d,)))
    if not config.tie_embeddings:
        specs.append(WeightSpec("lm_head.weight", "embedding", (config.vocab_size, d)))
    return specs


def scale_name(weight_name):
    """`layers.0.attn.q.weight` -> `layers.0.attn.q.scale`."""
    return weight_name.removesuffix(".weight") + ".scale"


def stored_tensors(spec, fmt):
    """The tensors `spec` is stored as in format `fmt`: [(name, allowed dtypes, allowed shapes)]."""
    if spec.kind in ("embedding", "norm"):
        return [(spec.name, ("F32", "F16"), [spec.shape])]
    if spec.kind in ("router", "scalar") or fmt == "latent":
        return [(spec.name, ("F32",), [spec.shape])]
    if spec.kind == "bit":
        n, k = spec.shape
        return [(spec.name, ("U8",), [(n, packed_width(k))]), (scale_name(spec.name), ("F32",), [(1,), (n,)])]
    return [(spec.name, ("I8",), [spec.shape]), (scale_name(spec.name), ("F32",), [spec.shape[:-1]])]


def check_tensors(config, tensors, source):
    """Raise ValueError (naming `source` and the tensor) unless `tensors` is exactly the stored form of a
    model with `config`: names, dtypes, shapes, finite floats, int8 in [-127, 127], zero padding bits."""
    expected = {}
    for spec in weight_specs(config):
        for name, dtypes, shapes in stored_tensors(spec, config.format):
            expected[name] = (spec, dtypes, shapes)
    problem = _name_mismatch("tensor", expected, tensors)
    if problem:
        raise ValueError(f"{source}: {problem} (format {config.format!r})")
    for name, (spec, dtypes, shapes) in expected.items():
        array = np.asarray(tensors[name])
        dtype = _dtype_name(array)
        where = f"{source}: tensor '{name}'"
        if dtype not in dtypes:
            raise ValueError(f"{where}: dtype {dtype or array.dtype}, expected {' or '.join(dtypes)}")
        if array.shape not in shapes:
            allowed = " or ".join(str(list(s)) for s in shapes)
            raise ValueError(f"{where}: shape {list(array.shape)}, expected {allowed}")
        if dtype in ("F32", "F16") and not np.all(np.isfinite(array)):
            raise ValueError(f"{where}: non-finite values")
        if dtype == "I8" and np.any(array == -128):
            raise ValueError(f"{where}: value -128 outside [-127, 127]")
        if dtype == "U8" and not _padding_is_zero(array, spec.shape[1]):
            raise ValueError(f"{where}: padding bits past K = {spec.shape[1]} are not 0")


def decode_tensors(config, tensors, source):
    """Check stored `tensors`, then decode them: bits to int8 +-1, latent weights quantized (adding their
    `.scale`), floats to float32. This is the form reference.Model runs."""
    check_tensors(config, tensors, source)
    decoded = {}
    for spec in weight_specs(config):
        array = tensors[spec.name]
        if spec.kind in ("bit", "int8") and config.format == "latent":
            quantize = reference.binarize if spec.kind == "bit" else reference.quant8
            decoded[spec.name], decoded[scale_name(spec.name)] = quantize(array)
        elif spec.kind == "bit":
            decoded[spec.name] = unpack_bits(array, spec.shape[1])
            decoded[scale_name(spec.name)] = np.array(tensors[scale_name(spec.name)], np.float32)
        elif spec.kind == "int8":
            decoded[spec.name] = np.array(array, np.int8)
            decoded[scale_name(spec.name)] = np.array(tensors[scale_name(spec.name)], np.float32)
        else:
            decoded[spec.name] = np.array(array, np.float32)
    return decoded


def load_checkpoint(path):
    """Load checkpoint directory `path` -> (Config, decoded weights), see `decode_tensors`."""
    config = Config.load(os.path.join(path, CONFIG_FILE))
    weights_path = os.path.join(path, WEIGHTS_FILE)
    tensors, _ = read_safetensors(weights_path)
    return config, decode_tensors(config, tensors, weights_path)


def save_checkpoint(path, config, tensors):
    """Write `tensors`, the stored form for config.format, and `config` to directory `path` (created if
    needed), after checking them as a loader would, so a checkpoint written here always loads."""
    check_tensors(config, tensors, path)
    os.makedirs(path, exist_ok=True)
    config.save(os.path.join(path, CONFIG_FILE))
    write_safetensors(os.path.join(path, WEIGHTS_FILE), tensors)
