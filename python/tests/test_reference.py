"""Tests of pquant.reference: hand-computed cases and invariants of the ops, and the Model's KV cache."""

import unittest

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from pquant import reference as R
from pquant.checkpoint import decode_tensors
from pquant.generate import generate_checkpoint, preset_config

F32 = np.float32


def _random_q(rng, shape):
    return rng.integers(-127, 128, shape).astype(np.int8)


def _random_bits(rng, shape):
    return rng.choice(np.array([-1, 1], np.int8), shape)


class QuantizationTest(unittest.TestCase):
    def test_quant8_by_hand(self):
        u = np.array([[2.5, -127.0, -0.5], [5.0, -254.0, 1.0], [0.0, 0.0, 0.0]], F32)
        q, s = R.quant8(u)
        # Row 0: s = 1 and the ties 2.5, -0.5 go away from zero (round-half-even would give 2 and 0).
        # Row 1: s = 2, u / s = [2.5, -127, 0.5]. Row 2: all zero -> s = 1, q = 0.
        assert_array_equal(q, [[3, -127, -1], [3, -127, 1], [0, 0, 0]])
        assert_array_equal(s, F32([1, 2, 1]))
        self.assertEqual(q.dtype, np.int8)
        self.assertEqual(s.dtype, F32)

    def test_quant8_general_row(self):
        q, s = R.quant8(F32([[0.3, -1.2, 0.6]]))
        self.assertEqual(s[0], F32(1.2) / F32(127))
        assert_array_equal(q, [[32, -127, 64]])  # 31.75 -> 32, 63.5 -> 64

    def test_quant8_rejects_non_finite(self):
        with self.assertRaisesRegex(ValueError, "non-finite"):
            R.quant8(F32([[1.0, np.inf]]))

    def test_round_half_away_is_the_float32_formula(self):
        x = F32([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4999998, 0.49999997])
        # The last value: 0.49999997 + 0.5 rounds to 1.0 in float32, so the defined result is 1.
        assert_array_equal(R.round_half_away(x), F32([-3, -2, -1, 1, 2, 3, 2, 1]))

    def test_binarize_by_hand(self):
        bits, lam = R.binarize(F32([[0.1, 0.3], [-0.2, 0.6]]))  # mean 0.2, mean |w| 0.3
        assert_array_equal(bits, [[-1, 1], [-1, 1]])
        assert_allclose(lam, [0.3], rtol=1e-7)
        bits, lam = R.binarize(F32([[1.0, 2.0, 3.0]]))  # 2 equals the mean: sign(0) = -1
        assert_array_equal(bits, [[-1, -1, 1]])
        assert_array_equal(lam, F32([2.0]))


class LinearTest(unittest.TestCase):
    def test_bitlinear_by_hand(self):
        q = np.array([[1, 2, 3], [-4, 5, -6]], np.int8)
        bits = np.array([[1, -1, 1], [-1, -1, 1]], np.int8)
        assert_array_equal(R.bitlinear_acc(q, bits), [[2, 0], [-15, -7]])
        y = R.bitlinear(q, F32([0.25, 0.1]), bits, F32([0.5, 2.0]))
        assert_allclose(y, [[0.25, 0.0], [-0.75, -1.4]], rtol=1e-6)
        y = R.bitlinear(q, F32([0.25, 0.1]), bits, F32([0.5]))  # per-tensor scale
        assert_allclose(y, [[0.25, 0.0], [-0.75, -0.35]], rtol=1e-6)

    def test_int8_linear_by_hand(self):
        q = np.array([[10, -20]], np.int8)
        w8 = np.array([[127, -127], [1, 2]], np.int8)
        assert_array_equal(R.int8_linear_acc(q, w8), [[3810, -30]])
        assert_allclose(R.int8_linear(q, F32([0.5]), w8, F32([0.01, 1.0])), [[19.05, -15.0]], rtol=1e-6)

    def test_all_plus_one_bitlinear_is_sum_of_q(self):
        rng = np.random.default_rng(0)
        q, s = _random_q(rng, (5, 100)), F32(rng.uniform(0.01, 1, 5))
        y = R.bitlinear(q, s, np.ones((3, 100), np.int8), F32([0.125]))
        expected = q.sum(axis=1).astype(F32) * F32(0.125) * s
        assert_array_equal(y, np.repeat(expected[:, None], 3, axis=1))

    def test_bit_serial_identity(self):
        rng = np.random.default_rng(1)
        q, bits = _random_q(rng, (4, 100)), _random_bits(rng, (7, 100))
        plus = (bits == 1).astype(np.int64)
        bit_serial = 2 * (q.astype(np.int64) @ plus.T) - q.astype(np.int64).sum(axis=1, keepdims=True)
        assert_array_equal(R.bitlinear_acc(q, bits), bit_serial)

    def test_accumulators_are_exact_at_the_extremes(self):
        rng = np.random.default_rng(2)
        k = 5000
        q = np.vstack([np.full(k, -127, np.int8), _random_q(rng, k)])
        w8 = np.vstack([np.full(k, 127, np.int8), _random_q(rng, k)])
        acc = R.int8_linear_acc(q, w8)
        self.assertEqual(acc.dtype, np.int32)
        assert_array_equal(acc, q.astype(np.int64) @ w8.T.astype(np.int64))
        self.assertEqual(acc[0, 0], -127 * 127 * k)

    def test_k_too_large_for_int32_is_rejected(self):
        k = 2**31 // (127 * 127) + 1
        with self.assertRaisesRegex(ValueError, "int32"):
            R.int8_linear_acc(np.zeros((1, k), np.int8), np.zeros((1, k), np.int8))


class FloatOpsTest(unittest.TestCase):
    def test_rmsnorm_by_hand(self):
        y = R.rmsnorm(F32([[3.0, 4.0]]), F32([1.0, 2.0]), eps=1e-5)  # mean square 12.5
        assert_allclose(y, [[3 / np.sqrt(12.50001), 8 / np.sqrt(12.50001)]], rtol=1e-6)
        assert_allclose(R.rmsnorm(F32([[3.0, 4.0]]), eps=1e-5), [[0.8485278, 1.1313704]], rtol=1e-6)

    def test_silu(self):
        with np.errstate(over="raise", invalid="raise"):
            y = R.silu(F32([0.0, 1.0, -1.0, -100.0, 100.0]))
        assert_allclose(y, [0.0, 0.7310586, -0.2689414, 0.0, 100.0], rtol=1e-6, atol=1e-30)

    def test_rope_at_position_zero_is_identity(self):
        x = np.random.default_rng(3).standard_normal((1, 3, 8)).astype(F32)
        assert_array_equal(R.rope(x, [0], 10000.0), x)

    def test_rope_by_hand(self):
        # Dh = 4, theta = 100: inv_freq = [1, 0.1]; at position 2 the pairs (x0, x2), (x1, x3) turn by 2, 0.2.
        x = F32([[[1.0, 2.0, 3.0, 4.0]]])
        a = np.array([2.0, 0.2])
        expected = np.concatenate([[1, 2] * np.cos(a) - [3, 4] * np.sin(a), [3, 4] * np.cos(a) + [1, 2] * np.sin(a)])
        assert_allclose(R.rope(x, [2], 100.0)[0, 0], expected, rtol=1e-6)

    def test_softmax_ignores_minus_infinity(self):
        assert_allclose(R.softmax(F32([[0.0, np.log(3.0), -np.inf]])), [[0.25, 0.75, 0.0]], rtol=1e-6)


def _plain_attention(q, k, v, positions):
    """Textbook causal multi-head attention, one query and one head at a time."""
    out = np.zeros(q.shape)
    for m, p in enumerate(positions):
        for h in range(q.shape[1]):
            scores = k[: p + 1, h].astype(np.float64) @ q[m, h] / np.sqrt(q.shape[2])
            weights = np.exp(scores - scores.max())
            out[m, h] = weights / weights.sum() @ v[: p + 1, h]
    return out


class AttentionTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(4)
        self.q = rng.standard_normal((3, 4, 8)).astype(F32)
        self.k = rng.standard_normal((6, 4, 8)).astype(F32)
        self.v = rng.standard_normal((6, 4, 8)).astype(F32)
        self.positions = np.array([2, 3, 4])

    def test_matches_plain_attention_when_kv_heads_equal_heads(self):
        out = R.attention(self.q, self.k, self.v, self.positions)
        assert_allclose(out, _plain_attention(self.q, self.k, self.v, self.positions), rtol=1e-5, atol=1e-6)

    def test_grouped_query_head_h_reads_kv_head_h_over_group(self):
        k2, v2 = self.k[:, :2], self.v[:, :2]  # 2 kv heads serve 4 query heads: heads 0, 1 -> 0; 2, 3 -> 1
        repeated = R.attention(self.q, k2[:, [0, 0, 1, 1]], v2[:, [0, 0, 1, 1]], self.positions)
        assert_array_equal(R.attention(self.q, k2, v2, self.positions), repeated)

    def test_is_causal(self):
        k, v = self.k.copy(), self.v.copy()
        k[5], v[5] = 1e3, -1e3  # position 5 is after every query
        expected = R.attention(self.q, self.k, self.v, self.positions)
        assert_array_equal(R.attention(self.q, k, v, self.positions), expected)


def _ffn_weights(rng, d=16, f1=24, r=8, experts=3):
    def bit(n, k):
        return R.BitLinearWeight(_random_bits(rng, (n, k)), F32(rng.uniform(0.5, 1.5, n) / np.sqrt(k)))

    def int8(n, k):
        return R.Int8LinearWeight(_random_q(rng, (n, k)), F32(rng.uniform(0.5, 1.5, n) / (40 * np.sqrt(k))))

    return R.FFNWeights(
        gate1=bit(f1, d), up1=bit(f1, d), down1=bit(d, f1),
        gate8=[int8(r, d) for _ in range(experts)], up8=[int8(r, d) for _ in range(experts)],
        down8=[int8(d, r) for _ in range(experts)],
        router=rng.standard_normal((experts, d)).astype(F32) if experts > 1 else None,
        alpha=F32(2.0), beta=F32(0.2),
    )


class FFNTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(5)
        self.h = self.rng.standard_normal((8, 16)).astype(F32)

    def _branches(self, w, subln):
        """(y1, [y8 of every expert]) for all tokens, computed op by op."""
        q, s = R.quant8(R.rmsnorm(self.h, eps=1e-5) if subln else self.h)
        y1 = w.down1(*R.quant8(R.silu(w.gate1(q, s)) * w.up1(q, s)))
        y8 = [dn(*R.quant8(R.silu(g(q, s)) * u(q, s))) for g, u, dn in zip(w.gate8, w.up8, w.down8)]
        return y1, y8

    def test_top_k_equal_to_experts_is_the_dense_gated_mixture(self):
        w = _ffn_weights(self.rng)
        y = R.decoupled_ffn(self.h, w, top_k=3, gate_weighting=True, subln=True, eps=1e-5)
        probs = R.softmax(self.h.astype(np.float64) @ w.router.T.astype(np.float64))  # router sees h, not subln(h)
        y1, y8 = self._branches(w, subln=True)
        dense = w.alpha * sum(probs[:, [e]] * y8[e] for e in range(3)) + w.beta * y1
        assert_allclose(y, dense, rtol=1e-5, atol=1e-6)

    def test_top1_without_gate_weighting_runs_the_argmax_expert(self):
        w = _ffn_weights(self.rng)
        y = R.decoupled_ffn(self.h, w, top_k=1, gate_weighting=False, subln=False, eps=1e-5)
        best = np.argmax(self.h @ w.router.T, axis=1)
        self.assertGreater(len(set(best)), 1)  # the tokens do not all pick one expert
        y1, y8 = self._branches(w, subln=False)
        expected = np.stack([w.alpha * y8[e][m] + w.beta * y1[m] for m, e in enumerate(best)])
        assert_allclose(y, expected, rtol=1e-6)

    def test_single_expert_has_gate_one(self):
        w = _ffn_weights(self.rng, experts=1)
        y = R.decoupled_ffn(self.h, w, top_k=1, gate_weighting=True, subln=True, eps=1e-5)
        y1, y8 = self._branches(w, subln=True)
        assert_array_equal(y, w.alpha * y8[0] + w.beta * y1)

    def test_router_breaks_ties_towards_lower_index(self):
        experts, gates = R.router(self.h[:2], np.zeros((4, 16), F32), top_k=2)
        assert_array_equal(experts, [[0, 1], [0, 1]])
        assert_array_equal(gates, F32([[0.25, 0.25], [0.25, 0.25]]))


class ModelTest(unittest.TestCase):
    def _model(self, preset, **overrides):
        config = preset_config(preset, **overrides)
        return R.Model(config, decode_tensors(config, generate_checkpoint(config, seed=7), "generated"))

    def test_prefill_equals_decode_steps(self):
        tokens = np.random.default_rng(8).integers(0, 256, 12)
        for preset in ("tiny", "tiny-dense", "tiny-top2"):
            with self.subTest(preset=preset):
                model = self._model(preset)
                prefill = model.prefill(tokens)
                model.reset()
                decode = np.stack([model.decode(t) for t in tokens])
                self.assertEqual(prefill.shape, (12, 256))
                assert_array_equal(prefill, decode)
                self.assertTrue(np.all(np.isfinite(prefill)))

    def test_first_token_by_composing_the_ops(self):
        # At position 0 attention returns v itself (one cached token), so one layer is a chain of ops.
        config = preset_config("tiny", num_layers=1)
        w = decode_tensors(config, generate_checkpoint(config, seed=9), "generated")
        eps, token = config.rms_norm_eps, 200
        x = w["embed.weight"][[token]]
        q8, s = R.quant8(R.rmsnorm(x, w["layers.0.attn_norm.weight"], eps))
        v = R.bitlinear(q8, s, w["layers.0.attn.v.weight"], w["layers.0.attn.v.scale"]).reshape(2, 16)
        attn = v[[0, 0, 1, 1]].reshape(1, 64)  # 4 query heads share 2 kv heads
        x = x + R.bitlinear(*R.quant8(attn), w["layers.0.attn.o.weight"], w["layers.0.attn.o.scale"])
        model = R.Model(config, w)
        h = R.rmsnorm(x, w["layers.0.ffn_norm.weight"], eps)
        x = x + R.decoupled_ffn(h, model.layers[0].ffn, top_k=1, gate_weighting=True, subln=True, eps=eps)
        logits = R.rmsnorm(x, w["norm.weight"], eps) @ w["lm_head.weight"].T
        assert_allclose(model.decode(token), logits[0], rtol=1e-5, atol=1e-5)

    def test_prefill_in_chunks_continues_from_the_cache(self):
        model = self._model("tiny", hidden_size=72, num_heads=6, num_kv_heads=3)  # K = 72
        tokens = [5, 17, 250, 0, 99, 3, 42]
        whole = model.prefill(tokens)
        model.reset()
        parts = np.vstack([model.prefill(tokens[:3]), model.prefill(tokens[3:])])
        self.assertEqual(model.pos, 7)
        assert_array_equal(whole, parts)

    def test_cache_changes_the_logits(self):
        model = self._model("tiny")
        alone = model.decode(9)
        model.reset()
        model.prefill([1, 2])
        self.assertFalse(np.allclose(model.decode(9), alone))

    def test_rejects_bad_tokens_and_overflow(self):
        model = self._model("tiny", max_seq_len=4)
        for tokens in ([256], [-1], [], [[1, 2]], [1.5]):
            with self.subTest(tokens=tokens), self.assertRaises(ValueError):
                model.prefill(tokens)
        model.prefill([1, 2, 3])
        with self.assertRaisesRegex(ValueError, "max_seq_len"):
            model.prefill([4, 5])
        self.assertEqual(model.pos, 3)
        model.decode(4)
        self.assertEqual(model.pos, 4)


if __name__ == "__main__":
    unittest.main()
