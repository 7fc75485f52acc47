"""Tests of pquant.export: the exported checkpoint computes what the PyTorch model computes, in both
storage formats and with folded scales, and the bundled examples/shakespeare checkpoint's logits from
PyTorch equal reference.Model's. Skipped when PyTorch is not installed."""

import os
import tempfile
import unittest

import numpy as np
from numpy.testing import assert_array_equal

from pquant import checkpoint as ckpt
from pquant import reference as R
from pquant.generate import generate_checkpoint, preset_config

try:
    import torch

    from pquant import export
    from pquant import nn as pqnn
except ImportError:  # pquant.nn needs torch
    torch = None

NEEDS_TORCH = unittest.skipIf(torch is None, "PyTorch is not installed (Debian: apt-get install python3-torch)")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUNDLED = os.path.join(ROOT, "examples", "shakespeare")
VALID_HEAD = os.path.join(ROOT, "test", "Integration", "CPU", "Inputs", "shakespeare-valid-head.txt")
TOKENS = np.frombuffer(b"KING RICHARD III:\nNow is the winter of our discontent", np.uint8).astype(np.int64)


def _model(preset, seed=0, **overrides):
    """Random weights of trained-like spread, alpha and beta moved off their initial values."""
    torch.manual_seed(seed)
    model = pqnn.PQuantLM(preset_config(preset, **overrides), init_std=0.1)
    with torch.no_grad():
        for layer in model.layers:
            layer.ffn.alpha.mul_(1 + 0.2 * torch.rand(1))
            layer.ffn.beta.mul_(1 + 2 * torch.rand(1))
    return model.eval()


def _reference_logits(path, tokens=TOKENS):
    return R.Model(*ckpt.load_checkpoint(path)).prefill(tokens)


@NEEDS_TORCH
class ExportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_reference_computes_the_pytorch_logits(self):
        for preset in ("tiny", "tiny-dense", "tiny-top2"):
            with self.subTest(preset=preset):
                model = _model(preset, seed=1)
                export.export_checkpoint(model, self.path(preset))
                error = export.compare_with_reference(model, self.path(preset), TOKENS)
                self.assertLessEqual(error, 1e-4)  # in fact 0: the same float32 operations

    def test_packed_and_latent_exports_decode_alike(self):
        """The exporter's quantization (pquant.nn, torch) is the loader's (reference, numpy) exactly."""
        model = _model("tiny", seed=2, hidden_size=72, ffn_bin_size=90)
        packed = ckpt.decode_tensors(*export.checkpoint_tensors(model, "packed"), "packed")
        latent = ckpt.decode_tensors(*export.checkpoint_tensors(model, "latent"), "latent")
        self.assertEqual(packed.keys(), latent.keys())
        for name in packed:
            assert_array_equal(packed[name], latent[name], err_msg=name)

    def test_stored_form(self):
        model = _model("tiny", seed=3)
        config = export.export_checkpoint(model, self.path("c"))
        tensors, _ = ckpt.read_safetensors(os.path.join(self.path("c"), ckpt.WEIGHTS_FILE))
        self.assertEqual(config.format, "packed")
        self.assertEqual(tensors["layers.0.attn.q.weight"].dtype, np.uint8)
        self.assertEqual(tensors["layers.0.attn.q.scale"].shape, (1,))
        self.assertEqual(tensors["layers.1.ffn.down8.weight"].dtype, np.int8)
        self.assertEqual(tensors["layers.1.ffn.down8.scale"].shape, (4, 64))
        self.assertEqual(tensors["layers.1.ffn.alpha"][0], model.layers[1].ffn.alpha.item())
        bits, lam = R.binarize(model.layers[0].attn.q.weight.detach().numpy())
        assert_array_equal(ckpt.unpack_bits(tensors["layers.0.attn.q.weight"], 64), bits)
        self.assertEqual(tensors["layers.0.attn.q.scale"][0], lam[0])

    def test_folded_scales(self):
        model = _model("tiny", seed=4)
        export.export_checkpoint(model, self.path("plain"))
        export.export_checkpoint(model, self.path("folded"), fold_scales=True)
        tensors, _ = ckpt.read_safetensors(os.path.join(self.path("folded"), ckpt.WEIGHTS_FILE))
        self.assertEqual(tensors["layers.0.ffn.alpha"][0], 1.0)
        self.assertEqual(tensors["layers.0.ffn.beta"][0], 1.0)
        plain, folded = _reference_logits(self.path("plain")), _reference_logits(self.path("folded"))
        self.assertLessEqual(np.max(np.abs(plain - folded)) / np.max(np.abs(plain)), 1e-5)
        with self.assertRaisesRegex(ValueError, "packed"):
            export.checkpoint_tensors(model, "latent", fold_scales=True)

    def test_from_checkpoint_round_trip(self):
        model = _model("tiny-top2", seed=5)
        export.export_checkpoint(model, self.path("a"))
        again = pqnn.PQuantLM.from_checkpoint(self.path("a"))
        config, tensors = export.checkpoint_tensors(again)
        stored, _ = ckpt.read_safetensors(os.path.join(self.path("a"), ckpt.WEIGHTS_FILE))
        self.assertEqual(stored.keys(), tensors.keys())
        for name, value in stored.items():  # bits and int8 exactly; int8 scales within an ulp
            np.testing.assert_allclose(tensors[name], value, rtol=1.2e-7, atol=0, err_msg=name)
        self.assertEqual(export.compare_with_reference(again, self.path("a"), TOKENS), 0.0)

    def test_from_checkpoint_needs_per_tensor_scales(self):
        config = preset_config("tiny")
        ckpt.save_checkpoint(self.path("rows"), config, generate_checkpoint(config, 0, per_row_scales=True))
        with self.assertRaisesRegex(ValueError, "per-row scales"):
            pqnn.PQuantLM.from_checkpoint(self.path("rows"))

    def test_command_line(self):
        model = _model("tiny", seed=6)
        export.save_state(model, self.path("state.pt"))
        export.main([self.path("state.pt"), "-o", self.path("cli"), "--fold-scales"])
        export.export_checkpoint(model, self.path("api"), fold_scales=True)
        for name in (ckpt.CONFIG_FILE, ckpt.WEIGHTS_FILE):
            with open(os.path.join(self.path("cli"), name), "rb") as a, open(os.path.join(self.path("api"), name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)


@NEEDS_TORCH
class BundledModelTest(unittest.TestCase):
    """examples/shakespeare: PyTorch (eval mode, the checkpoint's weights) against reference.Model."""

    def test_pytorch_logits_equal_the_reference(self):
        model = pqnn.PQuantLM.from_checkpoint(BUNDLED)
        with open(VALID_HEAD, "rb") as f:
            text = np.frombuffer(f.read(), np.uint8).astype(np.int64)
        reference = R.Model(*ckpt.load_checkpoint(BUNDLED))
        for start in range(0, 256, 64):  # four windows, each from position 0
            window = text[start:start + 64]
            reference.reset()
            want = reference.prefill(window)
            with torch.no_grad():
                got = model(torch.from_numpy(window)[None])[0].numpy()
            error = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
            self.assertLessEqual(error, 1e-4, f"window at {start}: logits differ by {error:.2e} of the largest")

    def test_bundled_model_is_trained(self):
        """Teacher-forced NLL on the start of the validation text: a random model scores ~5.5 nats."""
        model = pqnn.PQuantLM.from_checkpoint(BUNDLED)
        with open(VALID_HEAD, "rb") as f:
            text = torch.from_numpy(np.frombuffer(f.read(), np.uint8).astype(np.int64))[:512]
        with torch.no_grad():
            logits = model(text[None], exact=False)[0]
        nll = torch.nn.functional.cross_entropy(logits[:-1], text[1:]).item()
        self.assertLess(nll, 1.5)


if __name__ == "__main__":
    unittest.main()
