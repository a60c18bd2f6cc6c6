"""Policy and value losses. Each returns `(scalar_loss, stats)`, stats a dict of scalars.

Inputs are per-sample arrays of one shape (`[T, N]` or a flat minibatch `[B]`; a
team's `[T, N, A]` or `[B, A]`); an optional `mask` of the same shape (0/1 weights)
turns every mean into a masked mean, so padded or invalid samples contribute nothing.
The shapes are checked when a function is traced (free at run time); a mismatch
raises an AssertionError that names the argument and both shapes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ascent.core.shapes import assert_broadcastable, assert_rank, assert_same_shape


def _maybe(mask: ArrayLike | None) -> Array | None:
    """An optional mask as an array (its shape checked), None as None."""
    return None if mask is None else jnp.asarray(mask)


def masked_mean(x: ArrayLike, mask: ArrayLike | None = None) -> Array:
    """mean_m(x) = Σ m·x / Σ m (plain mean when mask is None; 0 when Σ m = 0).

    x: any shape; mask: broadcastable to x. Returns a scalar.
    """
    x = jnp.asarray(x)
    if mask is None:
        return jnp.mean(x)
    mask = jnp.asarray(mask, x.dtype)
    assert_broadcastable("masked_mean", mask=mask, x=x)
    mask = jnp.broadcast_to(mask, x.shape)
    total = jnp.sum(mask)
    # An all-zero mask (an empty minibatch) gives 0, not NaN.
    return jnp.where(total > 0, jnp.sum(x * mask) / jnp.where(total > 0, total, 1), 0)


def explained_variance(pred: ArrayLike, target: ArrayLike, mask: ArrayLike | None = None) -> Array:
    """EV = 1 − Var(target − pred) / Var(target); 1 is perfect, ≤ 0 no better than a constant.

    pred, target: same shape; mask: optional 0/1 weights. Returns a scalar, 0 when
    Var(target) = 0 (undefined there; 0 keeps the metric finite for NaN checks).
    (Stable-Baselines3 `explained_variance`.)
    """
    pred = jnp.asarray(pred)
    target = jnp.asarray(target, pred.dtype)
    mask = _maybe(mask)
    assert_same_shape("explained_variance", pred=pred, target=target)
    assert_broadcastable("explained_variance", mask=mask, pred=pred)

    def var(x: Array) -> Array:
        return masked_mean(jnp.square(x - masked_mean(x, mask)), mask)

    var_target = var(target)
    safe = jnp.where(var_target > 0, var_target, 1)
    return jnp.where(var_target > 0, 1 - var(target - pred) / safe, 0)


def normalize_advantages(
    advantages: ArrayLike, mask: ArrayLike | None = None, eps: float = 1e-8
) -> Array:
    """Â ← (Â − mean Â) / (std Â + ε) over the batch (over the samples where mask is 1,
    when given; masked samples are scaled alike but do not enter the statistics). The
    per-batch standardisation of PPO's and TRPO's reference implementations (Schulman
    et al. 2017, OpenAI baselines), optional in A2C and REINFORCE. advantages: any
    shape; mask: broadcastable to it.
    """
    x = jnp.asarray(advantages)
    mask = _maybe(mask)
    assert_broadcastable("normalize_advantages", mask=mask, advantages=x)
    if mask is None:
        return (x - x.mean()) / (x.std() + eps)
    mu = masked_mean(x, mask)
    sigma = jnp.sqrt(masked_mean((x - mu) ** 2, mask))
    return (x - mu) / (sigma + eps)


def policy_gradient_loss(
    log_probs: ArrayLike, advantages: ArrayLike, mask: ArrayLike | None = None
) -> tuple[Array, dict[str, Array]]:
    """REINFORCE surrogate L = −mean(log π(a|s) · sg(A)); its gradient is the policy gradient.

    log_probs, advantages, mask: [T, N] or [B]. Returns (scalar, {}). (Williams 1992.)
    """
    log_probs, mask = jnp.asarray(log_probs), _maybe(mask)
    advantages = jax.lax.stop_gradient(jnp.asarray(advantages))
    assert_same_shape("policy_gradient_loss", log_probs=log_probs, advantages=advantages, mask=mask)
    return -masked_mean(log_probs * advantages, mask), {}


def clipped_surrogate_loss(
    log_probs: ArrayLike,
    old_log_probs: ArrayLike,
    advantages: ArrayLike,
    *,
    clip_eps: float,
    mask: ArrayLike | None = None,
) -> tuple[Array, dict[str, Array]]:
    """PPO-clip L = −mean(min(ρ·A, clip(ρ, 1−ε, 1+ε)·A)), ρ = exp(log π − log π_old).

    log_probs, old_log_probs, advantages: [T, N] or [B]; old log-probs and
    advantages are constants (stop_gradient). Returns (scalar, stats) with
    `approx_kl` = mean((ρ−1) − log ρ) (Schulman 2020, "Approximating KL
    divergence") and `clipfrac` = fraction with |ρ−1| > ε.
    (Schulman et al. 2017, eq. 7.)
    """
    log_probs = jnp.asarray(log_probs)
    old_log_probs = jax.lax.stop_gradient(jnp.asarray(old_log_probs, log_probs.dtype))
    advantages = jax.lax.stop_gradient(jnp.asarray(advantages, log_probs.dtype))
    mask = _maybe(mask)
    assert_same_shape(
        "clipped_surrogate_loss",
        log_probs=log_probs,
        old_log_probs=old_log_probs,
        advantages=advantages,
        mask=mask,
    )
    logratio = log_probs - old_log_probs
    ratio = jnp.exp(logratio)
    clipped = jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps)
    surrogate = jnp.minimum(ratio * advantages, clipped * advantages)
    loss = -masked_mean(surrogate, mask)
    ratio, logratio = jax.lax.stop_gradient(ratio), jax.lax.stop_gradient(logratio)
    stats = {
        "approx_kl": masked_mean((ratio - 1) - logratio, mask),
        "clipfrac": masked_mean((jnp.abs(ratio - 1) > clip_eps).astype(ratio.dtype), mask),
    }
    return loss, stats


def kl_penalty_loss(
    log_probs: ArrayLike,
    old_log_probs: ArrayLike,
    advantages: ArrayLike,
    kl: ArrayLike,
    *,
    kl_coef: ArrayLike,
    mask: ArrayLike | None = None,
) -> tuple[Array, dict[str, Array]]:
    """PPO's KL-penalised surrogate L = −mean(ρ·A − β·KL[π_old(·|s) ‖ π_θ(·|s)]).

    log_probs, old_log_probs, advantages, kl: [T, N] or [B] (kl per state, exact, with
    gradient through π_θ); kl_coef β: a scalar constant. Returns (scalar, stats) with
    `kl` (the mean KL) and `approx_kl` as in `clipped_surrogate_loss`.
    (Schulman et al. 2017, §4, eq. 8.)
    """
    log_probs = jnp.asarray(log_probs)
    old_log_probs = jax.lax.stop_gradient(jnp.asarray(old_log_probs, log_probs.dtype))
    advantages = jax.lax.stop_gradient(jnp.asarray(advantages, log_probs.dtype))
    kl = jnp.asarray(kl, log_probs.dtype)
    mask = _maybe(mask)
    assert_same_shape(
        "kl_penalty_loss",
        log_probs=log_probs,
        old_log_probs=old_log_probs,
        advantages=advantages,
        kl=kl,
        mask=mask,
    )
    logratio = log_probs - old_log_probs
    ratio = jnp.exp(logratio)
    beta = jax.lax.stop_gradient(jnp.asarray(kl_coef, log_probs.dtype))
    assert_rank("kl_penalty_loss", "kl_coef", beta, 0)
    loss = -masked_mean(ratio * advantages - beta * kl, mask)
    ratio, logratio = jax.lax.stop_gradient(ratio), jax.lax.stop_gradient(logratio)
    stats = {
        "kl": masked_mean(jax.lax.stop_gradient(kl), mask),
        "approx_kl": masked_mean((ratio - 1) - logratio, mask),
    }
    return loss, stats


def adapt_kl_coef(kl_coef: ArrayLike, kl: ArrayLike, target_kl: float) -> Array:
    """β after an update that moved the policy by mean KL d: β·2 if d > 1.5·d_targ,
    β/2 if d < d_targ/1.5, else unchanged. (Schulman et al. 2017, §4.)"""
    kl_coef, kl = jnp.asarray(kl_coef), jnp.asarray(kl)
    return jnp.where(
        kl > 1.5 * target_kl, kl_coef * 2, jnp.where(kl < target_kl / 1.5, kl_coef / 2, kl_coef)
    )


def value_loss(
    values: ArrayLike,
    targets: ArrayLike,
    *,
    old_values: ArrayLike | None = None,
    clip_eps: float | None = None,
    mask: ArrayLike | None = None,
) -> tuple[Array, dict[str, Array]]:
    """L = mean((V − t)²), or with clipping mean(max((V − t)², (V_old + clip(V − V_old, ±ε) − t)²)).

    values, targets (constants), old_values: [T, N] or [B]. No ½ factor
    (Stable-Baselines3 / RL-Zoo convention). Clipping applies only when both
    old_values and clip_eps are given. Returns (scalar, {"explained_variance"}).
    (Clipped form: Schulman et al. 2017, PPO reference code; Engstrom et al. 2020.)
    """
    values = jnp.asarray(values)
    targets = jax.lax.stop_gradient(jnp.asarray(targets, values.dtype))
    if clip_eps is not None and old_values is None:
        raise ValueError("value_loss: clip_eps needs old_values")
    if old_values is not None:
        old_values = jax.lax.stop_gradient(jnp.asarray(old_values, values.dtype))
    mask = _maybe(mask)
    assert_same_shape(
        "value_loss", values=values, targets=targets, old_values=old_values, mask=mask
    )
    squared = jnp.square(values - targets)
    if old_values is not None and clip_eps is not None:
        clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
        squared = jnp.maximum(squared, jnp.square(clipped - targets))
    stats = {"explained_variance": explained_variance(jax.lax.stop_gradient(values), targets, mask)}
    return masked_mean(squared, mask), stats


def temperature_loss(
    log_alpha: ArrayLike, log_probs: ArrayLike, *, target_entropy: float
) -> tuple[Array, dict[str, Array]]:
    """J(α) = −log α · mean(log π(a|s) + H̄), the loss of SAC's automatic temperature.

    log_probs [B] (constants) of fresh actions a ~ π(·|s). Its gradient −mean(log π + H̄)
    is negative when the entropy −log π is below the target H̄, so gradient descent
    raises α, and positive (α falls) when the entropy is above it. Parameterised by
    log α, as Stable-Baselines3 and the authors' code do. Returns (scalar,
    {"entropy"}). (Haarnoja et al. 2018, "SAC algorithms and applications", eq. 18.)
    """
    log_alpha = jnp.asarray(log_alpha)
    log_probs = jax.lax.stop_gradient(jnp.asarray(log_probs))
    assert_rank("temperature_loss", "log_alpha", log_alpha, 0)
    assert_rank("temperature_loss", "log_probs", log_probs, 1)
    loss = -log_alpha * jnp.mean(log_probs + target_entropy)
    return loss, {"entropy": -jnp.mean(log_probs)}
