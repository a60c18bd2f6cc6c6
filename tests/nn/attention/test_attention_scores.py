from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from ascent.nn.attention import SCORES, Additive, Cosine, Multiplicative

NAMES = ["dot", "scaled_dot", "cosine", "additive", "multiplicative", "euclidean"]


def _qk(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=(2, 3, 4, 6)), rng.normal(size=(2, 3, 5, 6))  # [B, H, T, D]


def _apply(score, q, k):  # type: ignore[no-untyped-def]
    if not hasattr(score, "init"):
        return score(q, k), None
    params = score.init(jax.random.key(0), q, k)
    params = jax.tree.map(lambda p: p + 0.3 * np.random.default_rng(1).normal(size=p.shape), params)
    return score.apply(params, q, k), params.get("params", {})


def test_registry_names_and_shapes(rng: np.random.Generator) -> None:
    assert sorted(SCORES) == sorted(NAMES)
    q, k = _qk(rng)
    for name in NAMES:
        out, _ = _apply(SCORES[name](), q, k)
        assert out.shape == (2, 3, 4, 5), name


def test_parameter_free_scores_match_their_formulas(rng: np.random.Generator) -> None:
    q, k = _qk(rng)
    dots = np.einsum("bhqd,bhkd->bhqk", q, k)
    dist2 = ((q[:, :, :, None] - k[:, :, None]) ** 2).sum(-1)
    np.testing.assert_allclose(SCORES["dot"]()(q, k), dots, atol=1e-5)
    np.testing.assert_allclose(SCORES["scaled_dot"]()(q, k), dots / math.sqrt(6), atol=1e-5)
    np.testing.assert_allclose(SCORES["euclidean"]()(q, k), -dist2 / math.sqrt(6), atol=1e-4)


@pytest.mark.parametrize("learnable", [True, False])
def test_cosine_with_a_temperature(rng: np.random.Generator, learnable: bool) -> None:
    q, k = _qk(rng)
    cos = np.einsum("bhqd,bhkd->bhqk", q, k) / (
        np.linalg.norm(q, axis=-1)[..., :, None] * np.linalg.norm(k, axis=-1)[..., None, :]
    )
    out, params = _apply(Cosine(temperature=0.2, learnable=learnable), q, k)
    if learnable:
        inv_tau = np.exp(np.asarray(params["log_inv_temperature"]))[None, :, None, None]
    else:
        assert params == {}
        inv_tau = 1 / 0.2
    np.testing.assert_allclose(out, cos * inv_tau, rtol=1e-4, atol=1e-4)


def test_additive_is_bahdanau(rng: np.random.Generator) -> None:
    q, k = _qk(rng)
    out, p = _apply(Additive(features=7), q, k)
    w_q, w_k, v = (np.asarray(p[n]) for n in ("w_q", "w_k", "v"))
    expected = np.zeros((2, 3, 4, 5))
    for b in range(2):
        for h in range(3):
            for i in range(4):
                for j in range(5):
                    hidden = np.tanh(q[b, h, i] @ w_q[h] + k[b, h, j] @ w_k[h])
                    expected[b, h, i, j] = hidden @ v[h, :, 0]
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_multiplicative_is_luong_general(rng: np.random.Generator) -> None:
    q, k = _qk(rng)
    module = Multiplicative()
    fresh = module.apply(module.init(jax.random.key(0), q, k), q, k)
    # W starts at I/√D: the score starts as scaled_dot.
    np.testing.assert_allclose(fresh, SCORES["scaled_dot"]()(q, k), atol=1e-5)
    out, p = _apply(module, q, k)
    w = np.asarray(p["w"])
    expected = np.einsum("bhqd,hde,bhke->bhqk", q, w, k)
    np.testing.assert_allclose(out, expected, atol=1e-4)
