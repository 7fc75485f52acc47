"""Tests of pquant.nn: the PyTorch quantizers, layers and model against pquant.reference, the
straight-through gradients, and a few training steps. Skipped when PyTorch is not installed."""

import os
import sys
import unittest

import numpy as np
from numpy.testing import assert_array_equal

from pquant import reference as R
from pquant.generate import preset_config

try:
    import torch

    from pquant import export
    from pquant import nn as pqnn
except ImportError:  # pquant.nn needs torch
    torch = None

NEEDS_TORCH = unittest.skipIf(torch is None, "PyTorch is not installed (Debian: apt-get install python3-torch)")
F32 = np.float32


def _tokens(text=b"First Citizen:\nBefore we proceed any further, hear me speak."):
    return np.frombuffer(text, np.uint8).astype(np.int64)


def _perturbed_model(preset, seed, **overrides):
    """A model of `preset` with random weights of trained-like spread and alpha, beta away from init."""
    torch.manual_seed(seed)
    model = pqnn.PQuantLM(preset_config(preset, **overrides), init_std=0.1)
    with torch.no_grad():
        for layer in model.layers:
            layer.ffn.alpha.mul_(1 + 0.2 * torch.rand(1))
            layer.ffn.beta.mul_(1 + 2 * torch.rand(1))
            layer.attn_norm.weight.add_(0.1 * torch.randn_like(layer.attn_norm.weight))
    return model.eval()


@NEEDS_TORCH
class QuantizerTest(unittest.TestCase):
    def test_quant8_matches_reference(self):
        rng = np.random.default_rng(0)
        u = (rng.standard_normal((64, 37)) * rng.uniform(0.01, 10, (64, 1))).astype(F32)
        u[3] = 0  # all-zero row: s = 1, q = 0
        u[5, :3] = [2.5, -127.0, -0.5]  # with the row max 127: ties that go away from zero
        u[5, 3:] = 0
        q, s = pqnn.quant8(torch.from_numpy(u))
        want_q, want_s = R.quant8(u)
        assert_array_equal(q.numpy().astype(np.int8), want_q)
        assert_array_equal(s.numpy(), want_s)
        assert_array_equal(q.numpy()[5, :3], [3, -127, -1])

    def test_binarize_matches_reference(self):
        rng = np.random.default_rng(1)
        for shape in [(48, 40), (7, 9)]:
            w = (rng.standard_normal(shape) * 0.02 + 0.003).astype(F32)
            bits, lam = pqnn.binarize(torch.from_numpy(w))
            want_bits, want_lam = R.binarize(w)
            assert_array_equal(bits.numpy().astype(np.int8), want_bits)
            self.assertEqual(lam.item(), want_lam[0])

    def test_sign_of_zero_is_minus_one(self):
        w = torch.tensor([[1.0, -1.0, 0.0, 0.0]])  # mean 0: W - mean = 0 binarizes to -1
        bits, lam = pqnn.binarize(w)
        assert_array_equal(bits.numpy(), [[1, -1, -1, -1]])
        self.assertEqual(lam.item(), 0.5)


@NEEDS_TORCH
class LayerTest(unittest.TestCase):
    def test_bitlinear_is_the_reference_bitlinear(self):
        torch.manual_seed(0)
        layer = pqnn.BitLinear(40, 24)
        x = torch.randn(5, 40)
        q, s = R.quant8(x.numpy())
        bits, lam = R.binarize(layer.weight.detach().numpy())
        with torch.no_grad():
            assert_array_equal(layer(x).numpy(), R.bitlinear(q, s, bits, lam))

    def test_int8_experts_are_reference_int8_linears(self):
        torch.manual_seed(0)
        experts = pqnn.Int8Experts(3, 24, 10)
        x = torch.randn(4, 24)
        q, s = pqnn.quant8(x)
        with torch.no_grad():
            got = experts.forward_quantized(q, s).numpy()  # [M, E, N]
        rq, rs = R.quant8(x.numpy())
        for e in range(3):
            w8, sw = R.quant8(experts.weight[e].detach().numpy())
            assert_array_equal(got[:, e], R.int8_linear(rq, rs, w8, sw))

    def test_straight_through_gradients(self):
        """d/dx = grad_y @ (bits * lambda), d/dW = grad_y^T @ (q * s): the dequantized product's."""
        torch.manual_seed(0)
        layer = pqnn.BitLinear(16, 8)
        x = torch.randn(3, 16, requires_grad=True)
        grad_y = torch.randn(3, 8)
        layer(x).backward(grad_y)
        bits, lam = pqnn.binarize(layer.weight)
        q, s = pqnn.quant8(x.detach())
        torch.testing.assert_close(x.grad, grad_y @ (bits * lam), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(layer.weight.grad, grad_y.T @ (q * s[:, None]), rtol=1e-5, atol=1e-6)

    def test_decoupled_ffn_matches_reference(self):
        for preset in ("tiny", "tiny-dense", "tiny-top2"):
            with self.subTest(preset=preset):
                model = _perturbed_model(preset, seed=3)
                config = model.config
                config_tensors = export.checkpoint_tensors(model)
                from pquant.checkpoint import decode_tensors

                weights = decode_tensors(config_tensors[0], config_tensors[1], "test")
                layer = R._decoder_layer(weights, "layers.0.", config.num_experts)
                h = np.random.default_rng(4).standard_normal((9, config.hidden_size)).astype(F32)
                want = R.decoupled_ffn(h, layer.ffn, top_k=config.top_k, gate_weighting=config.gate_weighting,
                                       subln=config.subln, eps=config.rms_norm_eps)
                with torch.no_grad():
                    got = model.layers[0].ffn(torch.from_numpy(h), exact=True).numpy()
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


@NEEDS_TORCH
class ModelTest(unittest.TestCase):
    def test_fast_mode_is_close_to_exact_mode(self):
        model = _perturbed_model("tiny", seed=5)
        tokens = torch.from_numpy(_tokens())[None]
        with torch.no_grad():
            exact, fast = model(tokens), model(tokens, exact=False)
        self.assertLess(float((exact - fast).abs().max() / exact.abs().max()), 1e-3)

    def test_batch_rows_are_independent(self):
        model = _perturbed_model("tiny", seed=6)
        tokens = torch.from_numpy(_tokens()[:32]).reshape(2, 16)
        with torch.no_grad():
            both = model(tokens)
            assert_array_equal(both[1].numpy(), model(tokens[1:])[0].numpy())

    def test_rejects_too_long_input(self):
        model = _perturbed_model("tiny", seed=0)
        with self.assertRaisesRegex(ValueError, "max_seq_len"):
            model(torch.zeros(1, model.config.max_seq_len + 1, dtype=torch.long))

    def test_bitnet_model(self):
        config = preset_config("tiny")
        model = pqnn.PQuantLM(config, arch="bitnet")
        self.assertFalse(hasattr(model.layers[0].ffn, "gate8"))
        self.assertEqual(model(torch.zeros(1, 4, dtype=torch.long)).shape, (1, 4, 256))
        with self.assertRaisesRegex(ValueError, "no pQuant checkpoint form"):
            export.checkpoint_tensors(model)
        with self.assertRaisesRegex(ValueError, "arch"):
            pqnn.PQuantLM(config, arch="fp16")


@NEEDS_TORCH
class TrainingTest(unittest.TestCase):
    def _train(self, steps=12, seed=0):
        torch.manual_seed(seed)
        model = pqnn.PQuantLM(preset_config("tiny", num_layers=1), dropout=0.1)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95))
        text = torch.from_numpy(_tokens(b"to be or not to be, that is the question. ")[:40])
        losses = []
        for _ in range(steps):
            logits = model(text[None, :-1])
            loss = torch.nn.functional.cross_entropy(logits[0], text[1:])
            optimizer.zero_grad()
            (loss + 0.01 * model.aux_loss()).backward()
            optimizer.step()
            losses.append(loss.item())
        return model, losses

    def test_loss_decreases_and_every_parameter_learns(self):
        torch.manual_seed(0)
        model = pqnn.PQuantLM(preset_config("tiny", num_layers=1))
        text = torch.from_numpy(_tokens())
        loss = torch.nn.functional.cross_entropy(model(text[None, :-1])[0], text[1:]) + model.aux_loss()
        loss.backward()
        no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
        self.assertEqual(no_grad, [])  # alpha, beta, the router, every latent weight
        _, losses = self._train()
        self.assertLess(losses[-1], losses[0] - 0.5)

    def test_training_is_reproducible(self):
        (a, la), (b, lb) = self._train(steps=4), self._train(steps=4)
        self.assertEqual(la, lb)
        for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
            self.assertTrue(torch.equal(pa, pb), name)


@NEEDS_TORCH
class ScriptTest(unittest.TestCase):
    def test_train_shakespeare_smoke(self):
        """The training script end to end on a tiny model and a few steps: it reports losses, a score and
        a reference-vs-PyTorch error of 0, and writes a checkpoint that loads."""
        import json
        import subprocess
        import tempfile

        here = os.path.dirname(os.path.abspath(__file__))
        script = os.path.join(here, "..", "examples", "train_shakespeare.py")
        text = b"ROMEO:\nBut soft, what light through yonder window breaks?\n" * 40
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data.txt")
            with open(data, "wb") as f:
                f.write(text)
            out = os.path.join(tmp, "out")
            subprocess.run([sys.executable, script, "--out", out, "--data", data, "--hidden-size", "32",
                            "--num-layers", "1", "--num-heads", "2", "--num-kv-heads", "1", "--ffn-bin-size", "32",
                            "--ffn-hp-size", "8", "--max-seq-len", "32", "--steps", "6", "--warmup", "2",
                            "--batch-size", "2", "--eval-every", "3", "--eval-batches", "1", "--sample-tokens", "4",
                            "--threads", "1", "--device", "cpu"], check=True, capture_output=True)
            with open(os.path.join(out, "summary.json")) as f:
                summary = json.load(f)
            self.assertEqual(summary["steps"], 6)
            self.assertEqual(summary["reference_vs_torch_rel_error"], 0.0)
            val = len(text) - int(len(text) * 0.9)  # scored in chunks of 32, each chunk's first byte unpredicted
            self.assertEqual(summary["val_score"]["predicted"], val - -(-val // 32))
            from pquant.checkpoint import load_checkpoint

            config, _ = load_checkpoint(os.path.join(out, "checkpoint"))
            self.assertEqual(config.hidden_size, 32)


if __name__ == "__main__":
    unittest.main()
