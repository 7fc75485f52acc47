"""Tests of pquant.generate: determinism, statistics of the random weights, presets and the CLI."""

import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from numpy.testing import assert_array_equal

from pquant import checkpoint as C
from pquant import reference as R
from pquant.generate import PRESETS, generate_checkpoint, preset_config

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class GenerateTest(unittest.TestCase):
    def test_deterministic_in_the_seed(self):
        config = preset_config("tiny")
        a, b, c = (generate_checkpoint(config, seed) for seed in (3, 3, 4))
        for name in a:
            assert_array_equal(a[name], b[name])
        self.assertFalse(np.array_equal(a["layers.0.attn.q.weight"], c["layers.0.attn.q.weight"]))

    def test_a_tensor_depends_only_on_seed_name_and_shape(self):
        small = generate_checkpoint(preset_config("tiny"), seed=1)
        deep = generate_checkpoint(preset_config("tiny", num_layers=3), seed=1)
        for name in small:
            assert_array_equal(small[name], deep[name])

    def test_every_preset_is_valid(self):
        for name in PRESETS:
            with self.subTest(preset=name):
                config = preset_config(name)
                self.assertEqual(config.to_dict(), {**PRESETS[name], "format": "packed"})
        self.assertEqual(preset_config("tiny-dense").num_experts, 1)
        with self.assertRaisesRegex(ValueError, "unknown preset"):
            preset_config("7b")

    def test_weight_statistics(self):
        config = preset_config("tiny")
        tensors = generate_checkpoint(config, seed=0)
        bits = C.unpack_bits(tensors["layers.0.ffn.gate1.weight"], 64)
        self.assertAlmostEqual(np.mean(bits == 1), 0.5, delta=0.02)
        self.assertEqual(tensors["layers.0.ffn.gate1.scale"][0], np.float32(1 / 8))  # 1 / sqrt(K)
        w8 = tensors["layers.1.ffn.down8.weight"].astype(int)
        assert_array_equal(np.abs(w8).max(axis=-1), 127)  # absmax-quantized rows reach +-127
        self.assertLess(np.mean(np.abs(w8)), 60)  # bell-shaped, not uniform over the range
        self.assertAlmostEqual(float(tensors["layers.0.ffn.alpha"][0]), 2.0, delta=0.2)
        self.assertAlmostEqual(float(tensors["layers.0.ffn.beta"][0]), 0.2, delta=0.02)

    def test_latent_scales_match_packed_ones(self):
        config = preset_config("tiny", format="latent")
        w = generate_checkpoint(config, seed=0)["layers.0.ffn.down1.weight"]  # K = 96
        _, lam = R.binarize(w)
        self.assertAlmostEqual(float(lam[0]) * np.sqrt(96), 1.0, delta=0.05)

    def test_activations_stay_in_range(self):
        config = preset_config("tiny", num_layers=6)
        model = R.Model(config, C.decode_tensors(config, generate_checkpoint(config, seed=0), "generated"))
        logits = model.prefill(np.arange(0, 256, 8))
        self.assertTrue(np.all(np.isfinite(logits)))
        self.assertTrue(1 < logits.std(axis=1).mean() < 4, logits.std(axis=1).mean())
        top = R.softmax(logits).max(axis=1)
        self.assertTrue(np.all((top > 0.02) & (top < 0.9)))  # neither flat nor one-hot


class CLITest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.out = os.path.join(tmp.name, "model")

    def run_cli(self, *args):
        env = {**os.environ, "PYTHONPATH": PYTHON_DIR}
        return subprocess.run([sys.executable, "-m", "pquant.generate", *args], env=env, capture_output=True,
                              text=True)

    def test_writes_a_loadable_checkpoint(self):
        result = self.run_cli("--preset", "tiny", "--seed", "5", "-o", self.out, "--format", "latent", "--f16",
                              "--set", "hidden_size=72", "--set", "num_heads=6", "--set", "num_kv_heads=3")
        self.assertEqual(result.returncode, 0, result.stderr)
        config, weights = C.load_checkpoint(self.out)
        self.assertEqual((config.hidden_size, config.format), (72, "latent"))
        tensors, _ = C.read_safetensors(os.path.join(self.out, C.WEIGHTS_FILE))
        self.assertEqual(tensors["norm.weight"].dtype, np.float16)
        self.assertEqual(tensors["layers.0.attn.q.weight"].shape, (72, 72))
        self.assertEqual(weights["layers.0.attn.q.weight"].dtype, np.int8)
        expected = generate_checkpoint(config, 5, f16=True)
        assert_array_equal(tensors["layers.1.ffn.up8.weight"], expected["layers.1.ffn.up8.weight"])

    def test_reports_bad_arguments(self):
        for args, message in [
            (("--set", "num_kv_head=2"), "unexpected keys"),
            (("--set", "hidden_size"), "expected key=value"),
            (("--set", "top_k=9"), "top_k 9 exceeds"),
            (("--seed", "-1"), "non-negative"),
        ]:
            with self.subTest(args=args):
                result = self.run_cli("--preset", "tiny", "-o", self.out, *args)
                self.assertEqual(result.returncode, 2)
                self.assertIn(message, result.stderr)
                self.assertFalse(os.path.exists(self.out))


if __name__ == "__main__":
    unittest.main()
