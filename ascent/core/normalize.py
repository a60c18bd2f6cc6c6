"""Running statistics for observation and reward normalisation.

`RunningMeanStd` merges batch moments with the parallel algorithm of Chan, Golub &
LeVeque (1979); `scale_rewards` divides rewards by the running standard deviation of
the discounted return, as Stable-Baselines3's VecNormalize does (Engstrom et al.
2020, "Implementation matters in deep policy gradients", §3, "reward scaling").
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike


class RunningMeanStd(NamedTuple):
    """Mean and variance of everything seen so far, over the leading batch axes."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def zeros(cls, shape: tuple[int, ...] = (), dtype: DTypeLike = jnp.float32) -> RunningMeanStd:
        """Mean 0, variance 1 and a tiny prior count, which keeps the first merge well
        defined (as in SB3); every field of `dtype`, which the updates keep."""
        return cls(jnp.zeros(shape, dtype), jnp.ones(shape, dtype), jnp.asarray(1e-4, dtype))


def update_running_stats(stats: RunningMeanStd, batch: jax.Array) -> RunningMeanStd:
    """Merge a batch [..., *shape] into the statistics of `shape` (Chan et al. 1979).

    δ = μ_b − μ, n = n_a + n_b, μ' = μ + δ·n_b/n,
    M2' = var·n_a + var_b·n_b + δ²·n_a·n_b/n, var' = M2'/n.
    """
    dtype = stats.mean.dtype  # the statistics' dtype rules: float32 unless made otherwise
    batch = batch.reshape(-1, *stats.mean.shape).astype(dtype)
    n_b = jnp.asarray(batch.shape[0], dtype)
    mean_b, var_b = batch.mean(axis=0), batch.var(axis=0)
    delta = mean_b - stats.mean
    total = stats.count + n_b
    mean = stats.mean + delta * n_b / total
    m2 = stats.var * stats.count + var_b * n_b + delta**2 * stats.count * n_b / total
    return RunningMeanStd(mean, m2 / total, total)


def normalize(
    stats: RunningMeanStd, x: jax.Array, *, clip: float = 10.0, eps: float = 1e-8
) -> jax.Array:
    """(x − μ) / √(σ² + ε), clipped to [−clip, clip]."""
    return jnp.clip((x - stats.mean) / jnp.sqrt(stats.var + eps), -clip, clip)


def scale_rewards(
    discounted: jax.Array,
    stats: RunningMeanStd,
    rewards: jax.Array,
    dones: jax.Array,
    *,
    gamma: float,
    clip: float = 10.0,
    eps: float = 1e-8,
) -> tuple[jax.Array, RunningMeanStd, jax.Array]:
    """Reward scaling: r / √(Var[R] + ε) with R_t = γ·R_{t−1} + r_t per environment.

    discounted [N]: R carried from the previous rollout; rewards, dones [T, N]. R
    restarts after an episode ends. The statistics take in all T·N values of R before
    the rewards are scaled. Returns (R after the rollout, statistics, scaled rewards).
    """

    def step(ret: jax.Array, x: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        reward, done = x
        ret = ret * gamma + reward
        return jnp.where(done, 0.0, ret), ret

    discounted, returns = jax.lax.scan(step, discounted, (rewards, dones))
    stats = update_running_stats(stats, returns)
    scaled = jnp.clip(rewards / jnp.sqrt(stats.var + eps), -clip, clip)
    return discounted, stats, scaled
