"""Monte-Carlo policy-gradient estimators on a tabular MDP, built from Ascent's own core.

Every estimator has the form ĝ = Σ_t ω_t Ψ_t ∇_θ log π(a_t|s_t) over one sampled
episode, with ω_t = γ^t or ω_t = 1 and Ψ_t one of the signals below, computed with
`ascent.core.returns`; ĝ itself is −H·∇_θ of `ascent.core.losses.policy_gradient_loss`
(a mean over the H steps) taken with `jax.grad`, with log π from
`ascent.core.distributions.Categorical`.

Episodes are sampled for a fixed horizon of H steps, time-major `[H, N]`. After an
episode terminates its remaining steps are dead (`alive` = 0, reward 0) and weigh
nothing. Choosing H with (γ·c)^H ≤ 1e-10 (`TabularMDP.horizon`, c the largest
probability of continuing) makes what the window cuts off negligible: the estimators
called unbiased here are unbiased for ∇J up to a term of that relative size, far
below any standard error a Monte-Carlo run can reach.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ascent.core.distributions import Categorical
from ascent.core.losses import policy_gradient_loss
from ascent.core.returns import discounted_returns, gae, td_errors
from ascent.theory.mdp import TabularMDP

KINDS = (
    "total_return",
    "reward_to_go",
    "constant_baseline",
    "value_baseline",
    "exact_advantage",
    "td0",
    "gae",
)


class Trajectories(NamedTuple):
    """N episodes of H steps, time-major. Steps after an episode's end have alive = 0."""

    states: Array  # int32 [H, N], s_t
    actions: Array  # int32 [H, N], a_t
    rewards: Array  # [H, N], R[s_t, a_t] while alive, else 0
    next_states: Array  # int32 [H, N], s_{t+1} (s_t again when step t terminated)
    terminated: Array  # bool [H, N], the episode ended with step t
    alive: Array  # [H, N], 1.0 while the episode runs at step t


class Estimator(NamedTuple):
    """One estimator ĝ = Σ_t ω_t Ψ_t ∇log π(a_t|s_t): its signal Ψ and its weighting ω."""

    kind: str
    """One of KINDS: the signal Ψ_t."""
    discount: bool = True
    """ω_t = γ^t (True) or ω_t = 1 (False, what most code does)."""
    gae_lambda: float = 1.0
    """GAE's λ (kind "gae" only)."""

    @property
    def label(self) -> str:
        names = {
            "total_return": "total return G_0",
            "reward_to_go": "reward-to-go G_t",
            "constant_baseline": "G_t - b",
            "value_baseline": "G_t - V(s_t)",
            "exact_advantage": "Q(s_t,a_t)-V(s_t)",
            "td0": "TD(0) error",
            "gae": f"GAE(λ={self.gae_lambda:g})",
        }
        return names[self.kind]

    @property
    def unbiased(self) -> bool:
        """Whether E[ĝ] = ∇J with an exact critic.

        E[Ψ_t | s_t, a_t] = Q(s_t, a_t) − (a function of s_t) for every signal but the
        total return, so ω_t = γ^t is needed: ∇J = Σ_t γ^t E[∇log π(a_t|s_t) Q(s_t, a_t)]
        (Sutton et al. 2000, Thm 1 unrolled over time). G_0 already carries the γ^t of
        every reward counted from t = 0, so it is unbiased with ω_t = 1 (Williams 1992)
        and biased with γ^t. Dropping γ^t from the others is the bias of Thomas 2014.
        """
        return not self.discount if self.kind == "total_return" else self.discount


@partial(jax.jit, static_argnames=("n", "horizon"))
def sample_episodes(
    P: Array, R: Array, p0: Array, theta: Array, key: Array, n: int, horizon: int
) -> Trajectories:
    """`sample_trajectories` on the MDP's arrays P [S, A, S], R [S, A], p0 [S] (jitted)."""
    n_states = P.shape[0]
    # outcome S (one past the last state) means the episode terminated after (s, a)
    end = jnp.clip(1.0 - P.sum(-1, keepdims=True), 0.0, 1.0)
    outcome_logits = jnp.log(jnp.concatenate([P, end], axis=-1))  # [S, A, S+1]; log 0 = −inf
    key, start_key = jax.random.split(key)
    s0 = jax.random.categorical(start_key, jnp.log(p0), shape=(n,)).astype(jnp.int32)

    def step(
        carry: tuple[Array, Array], step_key: Array
    ) -> tuple[tuple[Array, Array], tuple[Array, ...]]:
        s, alive = carry  # [N] int32, [N] bool
        action_key, next_key = jax.random.split(step_key)
        a = Categorical(theta[s]).sample(action_key)
        outcome = jax.random.categorical(next_key, outcome_logits[s, a]).astype(jnp.int32)
        ended = outcome == n_states
        s_next = jnp.where(ended, s, outcome)
        r = jnp.where(alive, R[s, a], 0.0)
        out = (s, a, r, s_next, ended & alive, alive.astype(R.dtype))
        return (s_next, alive & ~ended), out

    keys = jax.random.split(key, horizon)
    _, (s, a, r, s_next, term, alive) = jax.lax.scan(step, (s0, jnp.ones(n, bool)), keys)
    return Trajectories(s, a, r, s_next, term, alive)


def sample_trajectories(
    mdp: TabularMDP, theta: ArrayLike, key: Array, n: int, horizon: int
) -> Trajectories:
    """N episodes of `horizon` steps under π_θ, s_0 ~ p0. Returns `Trajectories` [H, N]."""
    theta = jnp.asarray(theta)
    P, R, p0 = (jnp.asarray(x, theta.dtype) for x in (mdp.P, mdp.R, mdp.p0))
    return sample_episodes(P, R, p0, theta, key, n, horizon)


def signal(
    estimator: Estimator,
    traj: Trajectories,
    values: ArrayLike,
    q: ArrayLike,
    baseline: ArrayLike,
    gamma: float,
) -> Array:
    """Ψ_t of one estimator, [H, N], zero on dead steps.

    values: the critic V [S] (exact, or perturbed for a study of critic error);
    q: Q [S, A] for the perfect-critic advantage; baseline: the constant b.
    - total_return: G_0 = Σ_t γ^t r_t, the same at every t (Williams 1992).
    - reward_to_go: G_t = Σ_{t'≥t} γ^{t'−t} r_t' (`discounted_returns`).
    - constant_baseline: G_t − b.
    - value_baseline: G_t − V(s_t) (Williams 1992, baselines; Sutton & Barto 2018, §13.4).
    - exact_advantage: Q(s_t, a_t) − V(s_t), a perfect critic (Sutton et al. 2000, §3).
    - td0: δ_t = r_t + γ(1−term_t)V(s_{t+1}) − V(s_t) (`td_errors`).
    - gae: Σ_k (γλ)^k δ_{t+k} (`gae`; Schulman et al. 2016).
    The window's last step bootstraps from V(s_H) in td0 and gae (the core treats it as
    a truncation); the returns do not, which differs only by the negligible γ^H tail.
    """
    values = jnp.asarray(values, traj.rewards.dtype)
    zeros = jnp.zeros_like(traj.terminated)
    v = values[traj.states] * traj.alive  # [H, N]
    v_next = values[traj.next_states] * traj.alive  # [H, N]; td_errors drops it where term
    kind = estimator.kind
    if kind in ("total_return", "reward_to_go", "constant_baseline", "value_baseline"):
        g = discounted_returns(
            rewards=traj.rewards, terminated=traj.terminated, truncated=zeros, gamma=gamma
        )  # [H, N]
        psi = {
            "total_return": jnp.broadcast_to(g[0], g.shape),
            "reward_to_go": g,
            "constant_baseline": g - baseline,
            "value_baseline": g - v,
        }[kind]
    elif kind == "exact_advantage":
        q = jnp.asarray(q, values.dtype)
        psi = q[traj.states, traj.actions] - values[traj.states]
    elif kind == "td0":
        psi = td_errors(
            rewards=traj.rewards,
            values=v,
            next_values=v_next,
            terminated=traj.terminated,
            gamma=gamma,
        )
    elif kind == "gae":
        psi = gae(
            rewards=traj.rewards,
            values=v,
            next_values=v_next,
            terminated=traj.terminated,
            truncated=zeros,
            gamma=gamma,
            gae_lambda=estimator.gae_lambda,
        )
    else:
        raise ValueError(f"unknown estimator kind {kind!r}; expected one of {KINDS}")
    return psi * traj.alive


def weights(estimator: Estimator, traj: Trajectories, gamma: float) -> Array:
    """ω_t: γ^t·alive_t with the discount weighting, alive_t without. [H, N]."""
    if not estimator.discount:
        return traj.alive
    t = jnp.arange(traj.alive.shape[0], dtype=traj.alive.dtype)[:, None]
    return gamma**t * traj.alive


def trajectory_gradients(theta: ArrayLike, traj: Trajectories, weighted_signal: ArrayLike) -> Array:
    """ĝ_i = Σ_t ω_t Ψ_t ∇_θ log π(a_t|s_t) for each episode i. Returns [N, S, A].

    weighted_signal: ω_t Ψ_t [H, N]. Each ĝ_i is −H·∇_θ of the REINFORCE surrogate
    `policy_gradient_loss` (a mean over its H steps), differentiated with `jax.grad`.
    (Williams 1992.)
    """
    theta = jnp.asarray(theta)
    horizon = traj.states.shape[0]

    def one(states: Array, actions: Array, advantages: Array) -> Array:  # each [H]
        def loss(th: Array) -> Array:
            log_probs = Categorical(th[states]).log_prob(actions)  # [H]
            return policy_gradient_loss(log_probs, advantages)[0]

        return -horizon * jax.grad(loss)(theta)

    return jax.vmap(one, in_axes=1)(traj.states, traj.actions, jnp.asarray(weighted_signal))


def estimate(
    estimator: Estimator,
    mdp: TabularMDP,
    theta: ArrayLike,
    traj: Trajectories,
    values: ArrayLike,
    q: ArrayLike,
    baseline: ArrayLike = 0.0,
) -> Array:
    """Per-episode estimates ĝ_i of `estimator` on `traj`. Returns [N, S, A]."""
    psi = signal(estimator, traj, values, q, baseline, mdp.gamma)
    return trajectory_gradients(theta, traj, weights(estimator, traj, mdp.gamma) * psi)
