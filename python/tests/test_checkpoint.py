"""Tests of pquant.checkpoint: bit packing, safetensors I/O and its validation, config, checkpoints."""

import json
import os
import struct
import tempfile
import unittest

import numpy as np
from numpy.testing import assert_array_equal

from pquant import checkpoint as C
from pquant import reference as R
from pquant.generate import generate_checkpoint, preset_config


class TempDirTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def path(self, name):
        return os.path.join(self.dir, name)


class PackBitsTest(unittest.TestCase):
    def test_layout_by_hand(self):
        bits = np.array([[1, -1, -1, 1, -1, -1, -1, -1, 1], [-1, 1, -1, -1, -1, -1, -1, 1, -1]])
        # Row 0: bits 0 and 3 of byte 0 (LSB first) -> 0b1001 = 9, then weight 8 is bit 0 of byte 1.
        # Row 1: bits 1 and 7 -> 0b10000010 = 130; byte 1 has weight 8 = -1 and zero padding.
        assert_array_equal(C.pack_bits(bits), np.array([[9, 1], [130, 0]], np.uint8))
        assert_array_equal(C.pack_bits(bits > 0), C.pack_bits(bits))

    def test_round_trip(self):
        rng = np.random.default_rng(0)
        for k in (1, 7, 8, 9, 64, 72, 100):
            with self.subTest(k=k):
                bits = rng.choice(np.array([-1, 1], np.int8), (5, k))
                packed = C.pack_bits(bits)
                self.assertEqual(packed.shape, (5, -(-k // 8)))
                self.assertTrue(C._padding_is_zero(packed, k))
                unpacked = C.unpack_bits(packed, k)
                self.assertEqual(unpacked.dtype, np.int8)
                assert_array_equal(unpacked, bits)

    def test_rejects_bad_input(self):
        with self.assertRaisesRegex(ValueError, "must be"):
            C.pack_bits(np.array([[1, 0, -1]]))
        with self.assertRaisesRegex(ValueError, "K = 9"):
            C.unpack_bits(np.zeros((2, 1), np.uint8), 9)


def _raw_safetensors(header, data=b"", pad=True):
    """Bytes of a safetensors file with `header` (a dict, or raw JSON bytes) and `data`."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        raw += b" " * (-(8 + len(raw)) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


class SafetensorsTest(TempDirTest):
    def test_round_trip(self):
        tensors = {
            "b.f32": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
            "a.f16": np.array([1.5, -np.float16(65504)], np.float16),
            "c.i8": np.array([[-127], [127], [0]], np.int8),
            "d.u8": np.arange(5, dtype=np.uint8),
            "scalar": np.array(3.25, np.float32),
            "empty": np.zeros((0, 4), np.float32),
        }
        path = self.path("t.safetensors")
        C.write_safetensors(path, tensors, metadata={"producer": "test"})
        read, metadata = C.read_safetensors(path)
        self.assertEqual(metadata, {"producer": "test"})
        self.assertEqual(set(read), set(tensors))
        for name, value in tensors.items():
            self.assertEqual(read[name].dtype, value.dtype, name)
            assert_array_equal(read[name], value)

    def test_layout_is_aligned_and_deterministic(self):
        tensors = {"z": np.ones(3, np.uint8), "y": np.ones(3, np.float16), "x": np.ones(3, np.float32)}
        path = self.path("t.safetensors")
        C.write_safetensors(path, tensors)
        with open(path, "rb") as f:
            data = f.read()
        header_len = struct.unpack("<Q", data[:8])[0]
        self.assertEqual((8 + header_len) % 8, 0)
        header = json.loads(data[8 : 8 + header_len])
        self.assertNotIn("__metadata__", header)
        self.assertEqual(list(header), ["x", "y", "z"])  # by decreasing element size, then name
        self.assertEqual([header[n]["data_offsets"] for n in "xyz"], [[0, 12], [12, 18], [18, 21]])
        self.assertEqual(len(data), 8 + header_len + 21)
        C.write_safetensors(path, dict(reversed(tensors.items())))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_reads_a_file_written_by_hand(self):
        header = {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "b": {"dtype": "I8", "shape": [1, 1], "data_offsets": [8, 9]}}
        path = self.path("t.safetensors")
        with open(path, "wb") as f:
            f.write(_raw_safetensors(header, struct.pack("<ff", 1.0, -2.0) + b"\xff", pad=False))
        tensors, metadata = C.read_safetensors(path)
        assert_array_equal(tensors["w"], np.float32([1.0, -2.0]))
        assert_array_equal(tensors["b"], np.int8([[-1]]))
        self.assertEqual(metadata, {"format": "pt"})

    def test_malformed_files(self):
        def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
            return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}

        eight = b"\0" * 8
        cases = {
            "too short": (b"\x01\x00", None, "too short"),
            "header longer than file": (struct.pack("<Q", 1000) + b"{}", None, "exceeds the file"),
            "not JSON": (_raw_safetensors(b"{not json"), None, "bad safetensors header"),
            "not an object": (_raw_safetensors(b"[1, 2]"), None, "not a JSON object"),
            "duplicate name": (_raw_safetensors(b'{"w":1,"w":2}'), None, "duplicate key 'w'"),
            "bad metadata": (_raw_safetensors({"__metadata__": {"a": 1}}), None, "__metadata__"),
            "unsupported dtype": (_raw_safetensors({"w": entry("BF16", (4,))}, eight), "w", "unsupported dtype"),
            "missing field": (_raw_safetensors({"w": {"dtype": "F32", "shape": [2]}}, eight), "w", "exactly"),
            "bad shape": (_raw_safetensors({"w": entry(shape=(-2,))}, eight), "w", "shape"),
            "bad offsets": (_raw_safetensors({"w": entry(offsets=(0,))}, eight), "w", "pair of integers"),
            "out of range": (_raw_safetensors({"w": entry(offsets=(4, 12))}, eight), "w", "out of range"),
            "size mismatch": (_raw_safetensors({"w": entry(shape=(3,))}, eight), "w", r"do not hold F32 \[3\]"),
            "overlap": (_raw_safetensors({"a": entry(), "w": entry(offsets=(4, 12))}, eight + eight[:4]),
                        "w", "overlaps"),
            "gap": (_raw_safetensors({"w": entry(offsets=(4, 12))}, eight + eight[:4]), "w", "gap"),
            "trailing bytes": (_raw_safetensors({"w": entry()}, eight + b"\0"), None, "1 bytes at the end"),
        }
        path = self.path("bad.safetensors")
        for case, (data, tensor, message) in cases.items():
            with self.subTest(case=case):
                with open(path, "wb") as f:
                    f.write(data)
                with self.assertRaises(ValueError) as cm:
                    C.read_safetensors(path)
                self.assertIn(path, str(cm.exception))
                self.assertRegex(str(cm.exception), message)
                if tensor:
                    self.assertIn(f"tensor '{tensor}'", str(cm.exception))

    def test_writer_rejects_what_it_cannot_store(self):
        path = self.path("t.safetensors")
        with self.assertRaisesRegex(ValueError, "tensor 'w': unsupported dtype float64"):
            C.write_safetensors(path, {"w": np.zeros(2)})
        with self.assertRaisesRegex(ValueError, "invalid tensor name"):
            C.write_safetensors(path, {"__metadata__": np.zeros(2, np.float32)})
        with self.assertRaisesRegex(ValueError, "metadata"):
            C.write_safetensors(path, {}, metadata={"a": 1})


class ConfigTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.base = preset_config("tiny").to_dict()

    def test_round_trip_through_json(self):
        config = preset_config("tiny-top2", format="latent")
        config.save(self.path("config.json"))
        self.assertEqual(C.Config.load(self.path("config.json")), config)
        self.assertEqual(config.head_dim, 16)

    def test_format_defaults_to_packed(self):
        del self.base["format"]
        self.assertEqual(C.Config.from_dict(self.base).format, "packed")

    def test_invalid_configs(self):
        cases = [
            ({"hidden_size": None}, "hidden_size = None"),
            ({"hidden_size": 64.0}, "hidden_size = 64.0 must be an integer"),
            ({"num_layers": True}, "num_layers = True must be an integer"),
            ({"num_experts": 0}, "num_experts = 0"),
            ({"subln": 1}, "subln = 1 must be a boolean"),
            ({"rms_norm_eps": 0}, "rms_norm_eps = 0 must be a positive"),
            ({"rope_theta": float("inf")}, "rope_theta"),
            ({"format": "gguf"}, "format = 'gguf'"),
            ({"hidden_size": 66}, "even head size"),
            ({"hidden_size": 68}, "even head size"),  # 68 / 4 heads = 17
            ({"num_kv_heads": 3}, "multiple of num_kv_heads"),
            ({"top_k": 5}, "top_k 5 exceeds"),
            ({"num_kv_head": 2}, r"unexpected keys \['num_kv_head'\]"),
        ]
        for override, message in cases:
            with self.subTest(override=override):
                with self.assertRaisesRegex(ValueError, "my.json: .*" + message):
                    C.Config.from_dict({**self.base, **override}, source="my.json")
        with self.assertRaisesRegex(ValueError, r"my.json: missing keys \['vocab_size'\]"):
            C.Config.from_dict({k: v for k, v in self.base.items() if k != "vocab_size"}, source="my.json")

    def test_load_names_the_file(self):
        with open(self.path("config.json"), "w") as f:
            f.write('{"vocab_size": 1,')
        with self.assertRaisesRegex(ValueError, "config.json: not valid JSON"):
            C.Config.load(self.path("config.json"))


class CheckpointTest(TempDirTest):
    def test_packed_round_trip(self):
        config = preset_config("tiny", ffn_bin_size=100)  # down1 has K = 100: padding bits
        tensors = generate_checkpoint(config, seed=1, per_row_scales=True)
        C.save_checkpoint(self.dir, config, tensors)
        loaded_config, weights = C.load_checkpoint(self.dir)
        self.assertEqual(loaded_config, config)
        down1 = weights["layers.1.ffn.down1.weight"]
        self.assertEqual((down1.dtype, down1.shape), (np.int8, (64, 100)))
        assert_array_equal(C.pack_bits(down1), tensors["layers.1.ffn.down1.weight"])
        assert_array_equal(weights["layers.1.ffn.down1.scale"], tensors["layers.1.ffn.down1.scale"])
        assert_array_equal(weights["layers.0.ffn.up8.weight"], tensors["layers.0.ffn.up8.weight"])
        self.assertEqual(set(weights), set(tensors))
        # Saving what was read gives the same bytes.
        read, _ = C.read_safetensors(self.path(C.WEIGHTS_FILE))
        C.save_checkpoint(self.path("copy"), config, read)
        with open(self.path(C.WEIGHTS_FILE), "rb") as a, open(self.path("copy/" + C.WEIGHTS_FILE), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_latent_checkpoint_is_quantized_on_load(self):
        config = preset_config("tiny-dense", format="latent")
        tensors = generate_checkpoint(config, seed=2)
        C.save_checkpoint(self.dir, config, tensors)
        _, weights = C.load_checkpoint(self.dir)
        bits, lam = R.binarize(tensors["layers.0.attn.o.weight"])
        assert_array_equal(weights["layers.0.attn.o.weight"], bits)
        assert_array_equal(weights["layers.0.attn.o.scale"], lam)
        w8, sw = R.quant8(tensors["layers.1.ffn.down8.weight"])
        assert_array_equal(weights["layers.1.ffn.down8.weight"], w8)
        assert_array_equal(weights["layers.1.ffn.down8.scale"], sw)
        self.assertEqual(sw.shape, (1, 64))
        self.assertNotIn("lm_head.weight", weights)  # tied

    def test_f16_tables_are_converted_to_f32(self):
        config = preset_config("tiny")
        tensors = generate_checkpoint(config, seed=3, f16=True)
        self.assertEqual(tensors["embed.weight"].dtype, np.float16)
        C.save_checkpoint(self.dir, config, tensors)
        _, weights = C.load_checkpoint(self.dir)
        self.assertEqual(weights["embed.weight"].dtype, np.float32)
        assert_array_equal(weights["embed.weight"], tensors["embed.weight"].astype(np.float32))

    def test_malformed_checkpoints(self):
        config = preset_config("tiny", ffn_bin_size=100)
        good = generate_checkpoint(config, seed=4)
        bad_padding = good["layers.0.ffn.down1.weight"].copy()
        bad_padding[3, -1] |= 0x80
        int8_min = good["layers.1.ffn.gate8.weight"].copy()
        int8_min[0, 0, 0] = -128
        cases = [
            ("missing", {k: v for k, v in good.items() if k != "layers.1.attn.k.scale"}, "layers.1.attn.k.scale",
             "missing tensors"),
            ("unexpected", {**good, "layers.0.ffn.router.bias": np.zeros(4, np.float32)}, "layers.0.ffn.router.bias",
             "unexpected tensors"),
            ("dtype", {**good, "norm.weight": good["norm.weight"].astype(np.int8)}, "norm.weight", "dtype I8"),
            ("shape", {**good, "layers.0.attn.q.scale": np.ones(2, np.float32)}, "layers.0.attn.q.scale",
             r"shape \[2\], expected \[1\] or \[64\]"),
            ("non-finite scale", {**good, "layers.0.attn.v.scale": np.float32([np.nan])}, "layers.0.attn.v.scale",
             "non-finite"),
            ("int8 -128", {**good, "layers.1.ffn.gate8.weight": int8_min}, "layers.1.ffn.gate8.weight", "-128"),
            ("padding", {**good, "layers.0.ffn.down1.weight": bad_padding}, "layers.0.ffn.down1.weight",
             "padding bits past K = 100"),
        ]
        for case, tensors, name, message in cases:
            with self.subTest(case=case):
                path = self.path(case)
                with self.assertRaisesRegex(ValueError, message) as cm:
                    C.save_checkpoint(path, config, tensors)
                self.assertFalse(os.path.exists(path))  # nothing written
                self.assertIn(name, str(cm.exception))
                # The loader applies the same checks to files written by others.
                os.makedirs(path)
                config.save(os.path.join(path, C.CONFIG_FILE))
                C.write_safetensors(os.path.join(path, C.WEIGHTS_FILE), tensors)
                with self.assertRaisesRegex(ValueError, message) as cm:
                    C.load_checkpoint(path)
                self.assertIn(os.path.join(path, C.WEIGHTS_FILE), str(cm.exception))
                self.assertIn(name, str(cm.exception))

    def test_format_must_match_tensors(self):
        latent = generate_checkpoint(preset_config("tiny", format="latent"), seed=5)
        with self.assertRaisesRegex(ValueError, "layers.0.attn.q.scale"):
            C.save_checkpoint(self.dir, preset_config("tiny"), latent)


if __name__ == "__main__":
    unittest.main()
