from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ascent.nn.attention import MultiHeadAttention, scaled_dot
from ascent.theory.attention import attention_at_init, project, saturation


def test_saturation_by_hand() -> None:
    weights = jnp.asarray([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.75, 0.25, 0.0, 0.0]])
    top, ratio = saturation(weights)
    np.testing.assert_allclose(top, [0.25, 1.0, 0.75])
    # H([.75, .25]) = -(.75 ln .75 + .25 ln .25) = 0.562335, over ln 4 = 1.386294
    np.testing.assert_allclose(ratio, [1.0, 0.0, 0.562335 / 1.386294], atol=1e-6)
    # with the last two keys hidden, n = 2: [.5, .5] is uniform, [.75, .25] is 0.811278
    mask = jnp.asarray([True, True, False, False])
    _, ratio = saturation(jnp.asarray([[0.5, 0.5, 0.0, 0.0], [0.75, 0.25, 0.0, 0.0]]), mask)
    np.testing.assert_allclose(ratio, [1.0, 0.811278], atol=1e-6)
    _, ratio = saturation(jnp.asarray([[1.0, 0.0]]), jnp.asarray([True, False]))
    np.testing.assert_allclose(ratio, [0.0])  # one visible key: nothing to spread over


def test_project_is_the_layers_own_projection() -> None:
    layer = MultiHeadAttention(8, 2, score="scaled_dot")
    x = jax.random.normal(jax.random.key(0), (3, 5, 8))
    params = layer.init(jax.random.key(1), x)
    q, k, _ = project(params, x)
    expected = layer.apply(params, x, method=MultiHeadAttention.logits)
    np.testing.assert_allclose(scaled_dot(q, k), expected, rtol=1e-6, atol=1e-6)


def test_dot_saturates_as_d_k_grows_and_scaled_dot_does_not() -> None:
    key = jax.random.key(0)
    at_init = jax.jit(attention_at_init, static_argnums=(1, 2), static_argnames="batch")
    small = at_init(key, "scaled_dot", 8, batch=8)
    scaled = at_init(key, "scaled_dot", 256, batch=8)
    dot = at_init(key, "dot", 256, batch=8)
    # q·k has variance ≈ d_k at initialisation (Vaswani et al. 2017, footnote 4)
    assert 0.8 < float(scaled.logit_std) < 1.25 and 0.8 < float(small.logit_std) < 1.25
    assert 0.8 < float(dot.logit_std) / math.sqrt(256) < 1.25
    assert float(dot.top_weight) > 0.9 and float(dot.entropy_ratio) < 0.1
    assert float(dot.saturated) > 0.5 and float(scaled.saturated) == 0.0
    assert float(scaled.top_weight) < 0.5 and float(scaled.entropy_ratio) > 0.7
    # most tokens get almost no gradient through a saturated softmax, a few a large one
    # (a query's gradient comes from its own row only, a key's from every row)
    assert float(dot.grad_q_median) < 0.3 * float(scaled.grad_q_median)
    assert float(dot.grad_q_mean) > 5 * float(dot.grad_q_median)
    assert float(dot.grad_k_mean) > float(scaled.grad_k_mean)
    # with upstream gradients of norm 1, scaled dot's keeps its size from d_k 8 to 256
    for figure in ("grad_q_median", "grad_q_mean", "grad_k_median", "grad_k_mean"):
        assert 0.5 < float(getattr(scaled, figure)) / float(getattr(small, figure)) < 2.0
    assert float(scaled.grad_params) > 0 and float(dot.grad_params) > 0
