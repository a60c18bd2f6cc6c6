"""Bootstrapped targets and target networks for off-policy critics."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike


def td_target(
    rewards: ArrayLike, terminated: ArrayLike, next_values: ArrayLike, *, gamma: float
) -> Array:
    """y = r + γ·(1 − terminated)·V(s'), the one-step bootstrapped target.

    All inputs share one shape (e.g. a sampled minibatch [B]). A truncated step is not
    terminated, so it bootstraps from the value of its true final observation s'
    (Pardo et al. 2018, "Time limits in reinforcement learning"); `next_values` is
    whatever estimates V(s') — min of twin target critics, a soft value, NAF's V.
    (Sutton & Barto 2018, eq. 6.2.)
    """
    # the inputs' float dtype (integer rewards take the default float): issue 30
    dtype = jnp.result_type(rewards, next_values, 0.0)
    keep = 1.0 - jnp.asarray(terminated).astype(dtype)
    return jnp.asarray(rewards, dtype) + gamma * keep * jnp.asarray(next_values, dtype)


def polyak_update(target: Any, online: Any, *, tau: float | Array) -> Any:
    """θ' ← τ·θ + (1 − τ)·θ' for every leaf of two pytrees of the same structure.

    τ = 1 copies the online parameters; small τ (0.005) lets the target trail them
    slowly. (Lillicrap et al. 2016, "Continuous control with deep RL", Algorithm 1.)
    Each leaf keeps its dtype, whatever τ's (a schedule's value is float64 under x64).
    """
    return jax.tree.map(lambda t, o: (tau * o + (1.0 - tau) * t).astype(t.dtype), target, online)
