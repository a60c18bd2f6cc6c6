"""Exploration noise for deterministic continuous-action policies.

Pure functions with explicit state: the caller keeps the Ornstein–Uhlenbeck state
(one row per environment) and a PRNG key, and passes the current σ (a schedule's
value) in. Noise is in units of the action space's half-range; the loop rescales it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike, DTypeLike

from ascent.core.shapes import broadcast_flags


def gaussian_noise(
    key: Array, shape: tuple[int, ...], *, std: ArrayLike, dtype: DTypeLike = jnp.float32
) -> Array:
    """ε ~ N(0, σ²I), independent across steps. Returns `shape`, of `dtype` (the
    actions').

    (Fujimoto et al. 2018, TD3 §6.1: N(0, 0.1) added to the deterministic action.)
    """
    return jnp.asarray(std, dtype) * jax.random.normal(key, shape, dtype)


def ou_noise(
    state: Array,
    key: Array,
    *,
    std: ArrayLike,
    theta: float = 0.15,
    dt: float = 1e-2,
    mean: float = 0.0,
) -> tuple[Array, Array]:
    """One Euler–Maruyama step of the Ornstein–Uhlenbeck process
    x' = x + θ(μ − x)dt + σ√dt·ε, ε ~ N(0, I). Returns (x', x') — the new state is
    the noise to add. state: floats of any shape, e.g. [N, act_dim]; x' has its dtype.

    Temporally correlated exploration for physical control (Uhlenbeck & Ornstein 1930;
    Lillicrap et al. 2016 §7: θ = 0.15, σ = 0.2; dt = 1e-2 as Stable-Baselines3).
    """
    state = jnp.asarray(state)
    eps = jax.random.normal(key, state.shape, state.dtype)
    std = jnp.asarray(std, state.dtype)
    x = state + theta * (mean - state) * dt + std * jnp.sqrt(dt) * eps
    return x, x


def ou_reset(state: Array, done: Array) -> Array:
    """The OU state with the rows of environments whose episode ended set to zero.

    state: [N, ...]; done: bool [N].
    """
    return jnp.where(broadcast_flags(done, state), 0.0, state)
