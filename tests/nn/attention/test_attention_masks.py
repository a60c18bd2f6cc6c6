from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ascent.nn.attention import (
    MultiHeadAttention,
    causal_mask,
    combine_masks,
    episode_ids,
    episode_mask,
    masked_softmax,
    padding_mask,
    window_mask,
)


def test_causal_mask_is_aligned_bottom_right() -> None:
    np.testing.assert_array_equal(causal_mask(3, 3)[0, 0], np.tril(np.ones((3, 3), bool)))
    # Two memory slots before three queries: query i (absolute 2 + i) sees keys <= 2 + i.
    expected = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(causal_mask(3, 5)[0, 0], expected)


def test_window_mask_keeps_the_last_steps() -> None:
    both = causal_mask(3, 5) & window_mask(3, 5, 1)  # itself and one step before
    expected = np.array([[0, 1, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 1, 1]], bool)
    np.testing.assert_array_equal(both[0, 0], expected)


def test_episode_ids_and_mask() -> None:
    resets = jnp.array([[False, False, True, False, True]])
    ids = episode_ids(resets, first=jnp.array([7]))
    np.testing.assert_array_equal(ids, [[7, 7, 8, 8, 9]])
    mask = episode_mask(ids, ids)[0, 0]
    assert mask.shape == (5, 5)
    assert bool(mask[3, 2]) and not bool(mask[3, 1]) and not bool(mask[4, 3])


def test_padding_and_combine() -> None:
    pad = padding_mask(jnp.array([[True, True, False]]))
    assert pad.shape == (1, 1, 1, 3)
    both = combine_masks(causal_mask(3, 3), None, pad)
    expected = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 0]], bool)
    np.testing.assert_array_equal(both[0, 0], expected)
    assert combine_masks(None, None) is None


def test_masked_softmax_ignores_masked_keys() -> None:
    logits = jnp.array([[1.0, 50.0, 2.0]])
    probs = masked_softmax(logits, jnp.array([[True, False, True]]))
    e = np.exp([1.0, 2.0])
    np.testing.assert_allclose(probs, [[e[0] / e.sum(), 0.0, e[1] / e.sum()]], rtol=1e-6)


def test_fully_masked_row_gives_zeros_not_nan() -> None:
    logits = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    mask = jnp.array([[True, True], [False, False]])
    probs = masked_softmax(logits, mask)
    np.testing.assert_allclose(probs[1], [0.0, 0.0])
    grad = jax.grad(lambda z: masked_softmax(z, mask)[:, 0].sum())(logits)
    assert np.isfinite(np.asarray(grad)).all()

    mha = MultiHeadAttention(8, 2)
    x = jax.random.normal(jax.random.key(0), (1, 3, 8))
    params = mha.init(jax.random.key(1), x)
    row_masked = jnp.ones((1, 1, 3, 3), bool).at[0, 0, 1].set(False)

    def loss(x: jax.Array) -> jax.Array:
        return mha.apply(params, x, mask=row_masked).sum()

    out = mha.apply(params, x, mask=row_masked)
    assert np.isfinite(np.asarray(out)).all()
    # The masked query reads nothing: only the output projection's bias is left.
    np.testing.assert_allclose(out[0, 1], params["params"]["out"]["bias"], atol=1e-6)
    assert np.isfinite(np.asarray(jax.grad(loss)(x))).all()
