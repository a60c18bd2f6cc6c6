"""Returns and advantages over a time-major rollout.

Every input is `[T, N]` (T steps of N environments; any trailing batch dims are
fine), flags are bool or 0/1 arrays. Flags may have fewer trailing dims than the
rewards: a team's flags `[T, N]` against its agents' rewards `[T, N, A]` hold for
every agent (they are broadcast over the extra axes, `core.shapes.broadcast_flags`).
Two flags, never `done`: `terminated[t]` stops bootstrapping, `truncated[t]`
bootstraps from `next_values[t]`, the value of the true observation step t led to.
The last step of a rollout is treated like a truncation: its successor is unknown,
so it bootstraps from `next_values[-1]`.

The shapes are checked when a function is traced (free at run time): the rewards
need a time axis, every other number (values, next_values, log_rhos) has the
rewards' shape, and each flag's shape is a leading part of it; a mismatch raises
an AssertionError that names the argument and both shapes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ascent.core.shapes import (
    assert_leads,
    assert_same_shape,
    assert_time_axis,
    broadcast_flags,
)


def _floats(x: ArrayLike) -> Array:
    """`x` as a floating array: floats keep their dtype, integer rewards take JAX's
    default float (float32; float64 under x64)."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def _flag(x: ArrayLike) -> Array:
    """A bool or 0/1 flag array as bool."""
    return jnp.asarray(x).astype(bool)


def _check(where: str, numbers: dict[str, Array], flags: dict[str, Array]) -> None:
    """The module's shape contract, at trace time: the first of `numbers` (the rewards)
    has a time axis, the others its shape, and each flag's shape leads it."""
    (name, rewards), *_ = numbers.items()
    assert_time_axis(where, name, rewards)
    assert_same_shape(where, **numbers)
    assert_leads(where, **flags, **{name: rewards})


def _last_step(shape: tuple[int, ...]) -> Array:
    """Bool array of `shape`, True only on the last time step (row T-1)."""
    return jnp.zeros(shape, bool).at[-1].set(True)


def discounted_returns(
    *,
    rewards: ArrayLike,
    terminated: ArrayLike,
    truncated: ArrayLike,
    next_values: ArrayLike | None = None,
    gamma: float,
) -> Array:
    """Reward-to-go G_t = r_t + γ(1−term_t)·B_t, B_t = V(s'_t) if trunc_t or t = T−1 else G_{t+1}.

    rewards, terminated, truncated, next_values: [T, N]. Returns [T, N]. With
    `next_values=None` nothing is bootstrapped (B_t = 0 at truncations and at the
    rollout end): the pure Monte-Carlo return. Computed backwards with lax.scan.
    (Sutton & Barto 2018, eq. 3.8.)
    """
    rewards = _floats(rewards)
    if next_values is None:
        next_values = jnp.zeros_like(rewards)
    next_values = jnp.asarray(next_values, rewards.dtype)
    terminated, truncated = _flag(terminated), _flag(truncated)
    _check(
        "discounted_returns",
        {"rewards": rewards, "next_values": next_values},
        {"terminated": terminated, "truncated": truncated},
    )
    not_term = 1.0 - broadcast_flags(terminated, rewards).astype(rewards.dtype)
    # A truncated step and the last step of the rollout both bootstrap from V(s'_t).
    cut = broadcast_flags(truncated, rewards) | _last_step(rewards.shape)

    def step(g_next: Array, xs: tuple[Array, ...]) -> tuple[Array, Array]:
        r, nt, c, v_next = xs
        g = r + gamma * nt * jnp.where(c, v_next, g_next)
        return g, g

    _, returns = jax.lax.scan(
        step, jnp.zeros_like(rewards[0]), (rewards, not_term, cut, next_values), reverse=True
    )
    return returns


def td_errors(
    *,
    rewards: ArrayLike,
    values: ArrayLike,
    next_values: ArrayLike,
    terminated: ArrayLike,
    gamma: float,
) -> Array:
    """One-step TD error δ_t = r_t + γ(1−term_t)·V(s'_t) − V(s_t).

    rewards, values, next_values, terminated: [T, N]. Returns [T, N].
    (Sutton & Barto 2018, eq. 6.5.)
    """
    rewards = _floats(rewards)
    values = jnp.asarray(values, rewards.dtype)
    next_values = jnp.asarray(next_values, rewards.dtype)
    terminated = _flag(terminated)
    _check(
        "td_errors",
        {"rewards": rewards, "values": values, "next_values": next_values},
        {"terminated": terminated},
    )
    not_term = 1.0 - broadcast_flags(terminated, rewards).astype(rewards.dtype)
    return rewards + gamma * not_term * next_values - values


def n_step_returns(
    *,
    rewards: ArrayLike,
    next_values: ArrayLike,
    terminated: ArrayLike,
    truncated: ArrayLike,
    gamma: float,
    n: int,
) -> Array:
    """G^(n)_t = Σ_{k<m} γ^k r_{t+k} + γ^m (1−term_{t+m−1}) V(s'_{t+m−1}), m ≤ n.

    m is cut short at the first episode end (terminated or truncated) at or after
    t, or at the rollout end. rewards, next_values, terminated, truncated: [T, N];
    n is a static int ≥ 1. Returns [T, N]. n = 1 is the one-step target
    r + γ(1−term)V(s'); n ≥ T is `discounted_returns(..., next_values)`.
    A lax.scan over the window offset k = 0..min(n, T)−1 (a recursion backwards in
    t does not exist for a fixed window). (Sutton & Barto 2018, eq. 7.1.)
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    rewards = _floats(rewards)
    next_values = jnp.asarray(next_values, rewards.dtype)
    terminated, truncated = _flag(terminated), _flag(truncated)
    _check(
        "n_step_returns",
        {"rewards": rewards, "next_values": next_values},
        {"terminated": terminated, "truncated": truncated},
    )
    horizon = rewards.shape[0]
    steps = min(n, horizon)
    terminated = broadcast_flags(terminated, rewards)
    not_term = 1.0 - terminated.astype(rewards.dtype)
    ended = terminated | broadcast_flags(truncated, rewards)

    def pad(x: Array) -> Array:
        # steps−1 extra rows so the window [k, k+T) is always in range; they are
        # never read with weight, because the rollout end stops every window first.
        return jnp.concatenate([x, jnp.zeros((steps - 1, *x.shape[1:]), x.dtype)])

    padded = tuple(pad(x) for x in (rewards, not_term, next_values, ended))
    t = jnp.arange(horizon).reshape((horizon,) + (1,) * (rewards.ndim - 1))

    def window(
        carry: tuple[Array, Array, Array], k: Array
    ) -> tuple[tuple[Array, Array, Array], None]:
        g, discount, alive = carry  # [T, N], scalar γ^k, [T, N] 1 while the window is open
        r, nt, v_next, end = (jax.lax.dynamic_slice_in_dim(x, k, horizon) for x in padded)
        stop = (end | (t + k == horizon - 1) | (k == steps - 1)).astype(rewards.dtype)
        g = g + alive * discount * (r + gamma * stop * nt * v_next)
        return (g, discount * gamma, alive * (1.0 - stop)), None

    init = (jnp.zeros_like(rewards), jnp.ones((), rewards.dtype), jnp.ones_like(rewards))
    (returns, _, _), _ = jax.lax.scan(window, init, jnp.arange(steps))
    return returns


def gae(
    *,
    rewards: ArrayLike,
    values: ArrayLike,
    next_values: ArrayLike,
    terminated: ArrayLike,
    truncated: ArrayLike,
    gamma: float,
    gae_lambda: float,
) -> Array:
    """Generalised advantage A_t = δ_t + γλ(1−done_t)·A_{t+1}, done = term ∨ trunc, A_T = 0.

    δ_t is `td_errors` (a truncated step bootstraps from V(s'_t), a terminated one
    does not). rewards, values, next_values, terminated, truncated: [T, N] (a team's
    rewards, values, next_values [T, N, A] with its flags [T, N], as IPPO's and
    COMA's). Returns advantages of the rewards' shape; the value targets are
    advantages + values.
    Computed backwards with lax.scan. (Schulman et al. 2016, eq. 16.)
    """
    rewards = _floats(rewards)
    values = jnp.asarray(values, rewards.dtype)
    next_values = jnp.asarray(next_values, rewards.dtype)
    terminated, truncated = _flag(terminated), _flag(truncated)
    _check(
        "gae",
        {"rewards": rewards, "values": values, "next_values": next_values},
        {"terminated": terminated, "truncated": truncated},
    )
    deltas = td_errors(
        rewards=rewards, values=values, next_values=next_values, terminated=terminated, gamma=gamma
    )
    ended = broadcast_flags(terminated, deltas) | broadcast_flags(truncated, deltas)
    not_done = 1.0 - ended.astype(deltas.dtype)

    def step(a_next: Array, xs: tuple[Array, Array]) -> tuple[Array, Array]:
        delta, nd = xs
        a = delta + gamma * gae_lambda * nd * a_next
        return a, a

    _, advantages = jax.lax.scan(step, jnp.zeros_like(deltas[0]), (deltas, not_done), reverse=True)
    return advantages


class VTrace(NamedTuple):
    """V-trace targets and the policy-gradient advantages that go with them."""

    vs: Array  # [T, N] value targets v_s
    pg_advantages: Array  # [T, N] ρ_s (r_s + γ v_{s+1} − V(x_s))


def vtrace(
    *,
    rewards: ArrayLike,
    values: ArrayLike,
    next_values: ArrayLike,
    terminated: ArrayLike,
    truncated: ArrayLike,
    log_rhos: ArrayLike,
    gamma: float,
    rho_bar: float = 1.0,
    c_bar: float = 1.0,
) -> VTrace:
    """Off-policy n-step value targets with truncated importance weights (V-trace).

    v_s = V(x_s) + Σ_{t≥s} γ^{t−s} (Π_{i=s}^{t−1} c_i) δ_t, with
    δ_t = ρ_t (r_t + γ(1−term_t)·V(x'_t) − V(x_t)), ρ_t = min(ρ̄, π/μ),
    c_i = min(c̄, π/μ), the sum running to the end of the episode (done_t = term ∨
    trunc) or of the rollout, computed backwards as
    v_s − V(x_s) = δ_s + γ c_s (1−done_s)(v_{s+1} − V(x_{s+1})). The policy gradient
    uses ρ_s (r_s + γ(1−term_s) v̂_{s+1} − V(x_s)), v̂_{s+1} the next target where the
    episode goes on in the rollout and V(x'_s) where it does not.
    log_rhos = log π(a_t|x_t) − log μ(a_t|x_t) (target over behaviour policy); every
    input [T, N]. With π = μ and ρ̄, c̄ ≥ 1, v_s − V(x_s) is GAE with λ = 1.
    (Espeholt et al. 2018, eq. 1 and §4.2.) Targets carry no gradient.
    """
    rewards = _floats(rewards)
    values = jnp.asarray(values, rewards.dtype)
    next_values = jnp.asarray(next_values, rewards.dtype)
    log_rhos = jnp.asarray(log_rhos, rewards.dtype)
    terminated, truncated = _flag(terminated), _flag(truncated)
    _check(
        "vtrace",
        {"rewards": rewards, "values": values, "next_values": next_values, "log_rhos": log_rhos},
        {"terminated": terminated, "truncated": truncated},
    )
    ratios = jnp.exp(log_rhos)
    rhos = jnp.minimum(rho_bar, ratios)
    cs = jnp.minimum(c_bar, ratios)
    terminated = broadcast_flags(terminated, rewards)
    not_term = 1.0 - terminated.astype(rewards.dtype)
    goes_on = 1.0 - (terminated | broadcast_flags(truncated, rewards)).astype(rewards.dtype)
    deltas = rhos * (rewards + gamma * not_term * next_values - values)

    def step(later: Array, xs: tuple[Array, Array, Array]) -> tuple[Array, Array]:
        delta, c, on = xs
        here = delta + gamma * c * on * later  # v_s − V(x_s)
        return here, here

    _, corrections = jax.lax.scan(
        step, jnp.zeros_like(deltas[0]), (deltas, cs, goes_on), reverse=True
    )
    vs = values + corrections
    # v̂_{s+1}: V(x'_s) plus the next step's correction where the episode goes on
    later = jnp.concatenate([corrections[1:], jnp.zeros_like(corrections[:1])])
    next_vs = next_values + goes_on * later
    pg_advantages = rhos * (rewards + gamma * not_term * next_vs - values)
    return VTrace(jax.lax.stop_gradient(vs), jax.lax.stop_gradient(pg_advantages))


def ends_within(*, terminated: ArrayLike, truncated: ArrayLike) -> Array:
    """E_t = end_t ∨ E_{t+1}, end = term ∨ trunc: an episode ends at some t' ≥ t.

    terminated, truncated: [T, N]. Returns bool [T, N]; False marks the unfinished
    tail of each column, whose Monte-Carlo return is not a full episode's.
    Computed backwards with lax.scan. (Monte-Carlo needs complete episodes:
    Sutton & Barto 2018, §5.1.)
    """
    terminated, truncated = _flag(terminated), _flag(truncated)
    assert_time_axis("ends_within", "terminated", terminated)
    assert_same_shape("ends_within", terminated=terminated, truncated=truncated)
    ended = terminated | truncated

    def step(later: Array, end: Array) -> tuple[Array, Array]:
        e = end | later
        return e, e

    _, within = jax.lax.scan(step, jnp.zeros_like(ended[0]), ended, reverse=True)
    return within
