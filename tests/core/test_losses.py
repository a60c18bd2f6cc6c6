"""Losses: hand-computed values, masks, stop-gradients and the clipped-surrogate gradient."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.core.losses import (
    clipped_surrogate_loss,
    explained_variance,
    masked_mean,
    policy_gradient_loss,
    value_loss,
)


def test_masked_mean():
    x = jnp.array([[1.0, 2.0], [3.0, 10.0]])
    assert float(masked_mean(x)) == pytest.approx(4.0)
    mask = jnp.array([[1.0, 1.0], [1.0, 0.0]])
    assert float(masked_mean(x, mask)) == pytest.approx(2.0)
    assert float(masked_mean(x, mask.astype(bool))) == pytest.approx(2.0)


def test_masked_mean_empty_mask_is_zero_with_finite_gradient():
    x = jnp.array([1.0, 2.0])
    empty = jnp.zeros(2)
    assert float(masked_mean(x, empty)) == 0.0
    grad = jax.grad(lambda y: masked_mean(y, empty))(x)
    assert np.all(np.isfinite(grad))


def test_policy_gradient_loss_value_and_gradient():
    log_probs = jnp.array([-1.0, -2.0, -0.5])
    advantages = jnp.array([2.0, -1.0, 4.0])
    loss, stats = policy_gradient_loss(log_probs, advantages)
    assert stats == {}
    assert float(loss) == pytest.approx(-(-2.0 + 2.0 - 2.0) / 3)
    grad_lp, grad_adv = jax.grad(lambda lp, a: policy_gradient_loss(lp, a)[0], argnums=(0, 1))(
        log_probs, advantages
    )
    np.testing.assert_allclose(grad_lp, -advantages / 3, rtol=1e-6)
    np.testing.assert_array_equal(grad_adv, 0.0)  # advantages are constants


def test_policy_gradient_loss_mask():
    log_probs = jnp.array([-1.0, -2.0])
    advantages = jnp.array([2.0, 100.0])
    mask = jnp.array([1.0, 0.0])
    loss, _ = policy_gradient_loss(log_probs, advantages, mask)
    assert float(loss) == pytest.approx(2.0)
    grad = jax.grad(lambda lp: policy_gradient_loss(lp, advantages, mask)[0])(log_probs)
    np.testing.assert_allclose(grad, [-2.0, 0.0])


def test_clipped_surrogate_hand_computed():
    old = jnp.zeros(2)
    log_probs = jnp.log(jnp.array([1.5, 0.9]))
    advantages = jnp.array([1.0, 1.0])
    loss, stats = clipped_surrogate_loss(log_probs, old, advantages, clip_eps=0.2)
    # min(1.5, 1.2) = 1.2 and min(0.9, 0.9) = 0.9.
    assert float(loss) == pytest.approx(-(1.2 + 0.9) / 2, rel=1e-6)
    kl = ((0.5 - math.log(1.5)) + (-0.1 - math.log(0.9))) / 2
    assert float(stats["approx_kl"]) == pytest.approx(kl, rel=1e-5)
    assert float(stats["clipfrac"]) == pytest.approx(0.5)
    assert set(stats) == {"approx_kl", "clipfrac"}
    assert all(v.shape == () for v in stats.values())


def test_clipped_surrogate_at_ratio_one_is_policy_gradient():
    log_probs = jnp.array([-1.0, -0.3, -2.0])
    advantages = jnp.array([1.0, -2.0, 0.5])
    loss, stats = clipped_surrogate_loss(log_probs, log_probs, advantages, clip_eps=0.2)
    assert float(loss) == pytest.approx(-float(jnp.mean(advantages)))
    assert float(stats["approx_kl"]) == 0.0 and float(stats["clipfrac"]) == 0.0
    grad = jax.grad(lambda lp: clipped_surrogate_loss(lp, log_probs, advantages, clip_eps=0.2)[0])(
        log_probs
    )
    np.testing.assert_allclose(grad, -advantages / 3, rtol=1e-6)


def test_clipped_surrogate_gradient_vanishes_only_where_clipped():
    eps = 0.2
    ratios = jnp.array([1.5, 1.5, 0.5, 0.5, 1.1, 0.9])
    advantages = jnp.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    # Clipped (zero gradient): ratio > 1+ε with A > 0; ratio < 1−ε with A < 0.
    clipped = np.array([True, False, True, False, False, False])
    old = jnp.full(6, -1.0)
    log_probs = old + jnp.log(ratios)

    def loss(lp):
        return clipped_surrogate_loss(lp, old, advantages, clip_eps=eps)[0]

    grad = np.asarray(jax.grad(loss)(log_probs))
    np.testing.assert_array_equal(grad[clipped], 0.0)
    assert np.all(grad[~clipped] != 0.0)
    # Unclipped samples get the importance-weighted policy gradient −ρ·A / B.
    np.testing.assert_allclose(grad[~clipped], -(ratios * advantages)[~clipped] / 6, rtol=1e-5)
    # Old log-probs and advantages are constants.
    grad_old, grad_adv = jax.grad(
        lambda o, a: clipped_surrogate_loss(log_probs, o, a, clip_eps=eps)[0], argnums=(0, 1)
    )(old, advantages)
    np.testing.assert_array_equal(grad_old, 0.0)
    np.testing.assert_array_equal(grad_adv, 0.0)


def test_clipped_surrogate_mask():
    log_probs = jnp.log(jnp.array([[1.5, 1.0], [1.0, 1.0]]))
    advantages = jnp.array([[1.0, 1.0], [3.0, 7.0]])
    mask = jnp.array([[1, 0], [1, 0]])
    loss, stats = clipped_surrogate_loss(
        log_probs, jnp.zeros((2, 2)), advantages, clip_eps=0.2, mask=mask
    )
    assert float(loss) == pytest.approx(-(1.2 + 3.0) / 2, rel=1e-6)
    assert float(stats["clipfrac"]) == pytest.approx(0.5)


def test_value_loss_hand_computed():
    loss, stats = value_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))
    assert float(loss) == pytest.approx(2.5)  # mean(1, 4): no ½
    assert set(stats) == {"explained_variance"}


def test_value_loss_clipped():
    values = jnp.array([1.0, -0.2])
    targets = jnp.array([2.0, 0.0])
    old = jnp.zeros(2)
    loss, _ = value_loss(values, targets, old_values=old, clip_eps=0.5)
    # Sample 0: clipped V = 0.5 → (1.5)² beats (1)²; sample 1: unclipped, 0.04.
    assert float(loss) == pytest.approx((2.25 + 0.04) / 2, rel=1e-6)
    grad = jax.grad(lambda v: value_loss(v, targets, old_values=old, clip_eps=0.5)[0])(values)
    np.testing.assert_allclose(grad, [0.0, -0.2], rtol=1e-5)
    # Old values alone do not clip.
    loss, _ = value_loss(values, targets, old_values=old)
    assert float(loss) == pytest.approx((1.0 + 0.04) / 2, rel=1e-6)
    # Targets are constants.
    grad_t = jax.grad(lambda t: value_loss(values, t)[0])(targets)
    np.testing.assert_array_equal(grad_t, 0.0)


def test_value_loss_clip_without_old_values_raises():
    with pytest.raises(ValueError, match="old_values"):
        value_loss(jnp.zeros(2), jnp.zeros(2), clip_eps=0.2)


def test_value_loss_mask():
    loss, _ = value_loss(jnp.array([1.0, 5.0]), jnp.zeros(2), mask=jnp.array([1.0, 0.0]))
    assert float(loss) == pytest.approx(1.0)


def test_explained_variance():
    target = jnp.array([1.0, 2.0, 3.0, 4.0])
    assert float(explained_variance(target, target)) == pytest.approx(1.0)
    assert float(explained_variance(jnp.full(4, 2.5), target)) == pytest.approx(0.0, abs=1e-6)
    # Var(t) = 1.25, Var(t − p) = Var([0, 0, 0, 1]) = 0.1875.
    pred = jnp.array([1.0, 2.0, 3.0, 3.0])
    assert float(explained_variance(pred, target)) == pytest.approx(0.85, rel=1e-5)
    # Masked: only the first three count, where the prediction is exact.
    mask = jnp.array([1.0, 1.0, 1.0, 0.0])
    assert float(explained_variance(pred, target, mask)) == pytest.approx(1.0)
    # Constant target: undefined, reported as 0 rather than NaN.
    assert float(explained_variance(pred, jnp.ones(4))) == 0.0


def test_losses_jit():
    fn = jax.jit(clipped_surrogate_loss, static_argnames="clip_eps")
    loss, stats = fn(jnp.zeros(3), jnp.zeros(3), jnp.ones(3), clip_eps=0.1)
    assert float(loss) == pytest.approx(-1.0)
    loss, stats = jax.jit(value_loss)(
        jnp.zeros(3), jnp.ones(3), old_values=jnp.zeros(3), clip_eps=0.1
    )
    assert float(loss) == pytest.approx(1.0) and stats["explained_variance"].shape == ()


def test_normalized_advantages_have_zero_mean_and_unit_std() -> None:
    from ascent.core.losses import normalize_advantages

    adv = np.array([[1.0, -2.0, 0.5], [4.0, 3.0, -1.0]], np.float32)
    out = np.asarray(normalize_advantages(adv))
    np.testing.assert_allclose(out, (adv - adv.mean()) / (adv.std() + 1e-8), rtol=1e-6)
    assert abs(out.mean()) < 1e-6 and abs(out.std() - 1) < 1e-5


def test_masked_normalization_takes_its_statistics_from_the_kept_samples() -> None:
    from ascent.core.losses import normalize_advantages

    adv = np.array([1.0, 3.0, 100.0, -50.0], np.float32)
    mask = np.array([1.0, 1.0, 0.0, 0.0], np.float32)
    out = np.asarray(normalize_advantages(adv, mask))
    kept = adv[:2]
    np.testing.assert_allclose(out, (adv - kept.mean()) / (kept.std() + 1e-8), rtol=1e-6)
    np.testing.assert_allclose(out[:2], [-1.0, 1.0], rtol=1e-6)
