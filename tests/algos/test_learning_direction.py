"""The direction of learning: one update moves the policy the way its objective says.

A flipped sign in a policy loss keeps every shape, every finite value and the
`update = apply ∘ grads` seam intact; before these tests only the slow learning runs
saw it (issue 27). Here one update on a hand-made batch shows it.

On-policy (PPO, A2C, TRPO): one state, two actions, every step terminal, reward +1 for
action 0 and −1 for action 1 (or the reverse), so the advantage of action 0 is positive
(or negative). The update must raise π(0|s) (or lower it).

SAC: with every critic weight zero, Q(s, a) does not depend on a, before and after the
critic's step (only the output bias gets a gradient). The actor loss α·log π − Q is then
α·log π plus a constant, and an update must raise the policy's entropy. With α ≈ 0 the
loss is −Q, and an update must raise the critic's value of the policy's actions.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.algos import A2C, PPO, SAC, TRPO, A2CConfig, PPOConfig, SACConfig, TRPOConfig
from ascent.buffers import Rollout, Transitions

OBS = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
T, N = 8, 2  # env 0 always takes action 0, env 1 action 1
STATE = jnp.array([0.5, -0.3, 0.8])
SIZES = {"hidden": (16,), "n_steps": T, "n_envs": N}
ON_POLICY = {
    # defaults otherwise: PPO's 10 epochs of clipped steps, A2C's one RMSprop step,
    # TRPO's natural-gradient step and line search
    "ppo": lambda: PPO(PPOConfig(**SIZES, minibatch_size=8), OBS, gym.spaces.Discrete(2)),
    "a2c": lambda: A2C(A2CConfig(**SIZES), OBS, gym.spaces.Discrete(2)),
    "trpo": lambda: TRPO(TRPOConfig(**SIZES, critic_minibatch_size=8), OBS, gym.spaces.Discrete(2)),
}


@functools.cache
def on_policy(name: str) -> tuple[Any, Any, Any]:
    """(the algorithm's initial state, jitted update, jitted π(·|s) probabilities), built
    once per module so both signs share one compilation."""
    algo = ON_POLICY[name]()
    state = algo.init(jax.random.PRNGKey(0))

    def probs(state: Any, obs: jax.Array) -> jax.Array:
        if isinstance(algo, TRPO):
            dist = algo.actor.apply(state.params["actor"], obs)
        else:
            dist = algo.model.forward(state.params, None, obs, None)[1]
        return jnp.exp(dist.log_prob(jnp.zeros(obs.shape[:-1], jnp.int32)))  # π(0|s)

    return state, jax.jit(algo.update), jax.jit(probs)


def rewarded_rollout(p0: jax.Array, sign: float) -> Rollout:
    """T steps of N = 2 environments in the one state; env 0 takes action 0 (reward
    `sign`), env 1 action 1 (reward −`sign`); log-probabilities from π(0|s) = p0."""
    obs = jnp.broadcast_to(STATE, (T, N, 3))
    actions = jnp.broadcast_to(jnp.arange(N), (T, N))
    log_probs = jnp.log(jnp.where(actions == 0, p0, 1 - p0))
    rewards = jnp.where(actions == 0, sign, -sign)
    ended = jnp.ones((T, N), bool)
    return Rollout(obs, actions, log_probs, rewards, ended, ~ended, obs)


@pytest.mark.parametrize("name", list(ON_POLICY))
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["action0-advantaged", "action0-penalised"])
def test_an_update_moves_probability_towards_the_advantaged_action(name: str, sign: float) -> None:
    state, update, probs = on_policy(name)
    s = STATE[None]
    p0 = probs(state, s)[0]
    assert 0.2 < float(p0) < 0.8  # room to move either way
    new_state, metrics = update(state, rewarded_rollout(p0, sign), jax.random.PRNGKey(1))
    change = float(probs(new_state, s)[0] - p0)
    assert sign * change > 1e-3, (name, float(p0), change)  # measured: 0.016 to 0.07
    if name == "trpo":
        # the line search accepted the step for improving the surrogate mean(ρ·Â); here
        # Â = ±1 after normalisation, half each, so the improvement is sign·(ρ₀ − ρ₁)/2
        p1 = float(probs(new_state, s)[0])
        rho0, rho1 = p1 / float(p0), (1 - p1) / (1 - float(p0))
        assert bool(metrics["line_search_accepted"])
        assert float(metrics["surrogate_improvement"]) > 0
        assert float(metrics["surrogate_improvement"]) == pytest.approx(
            sign * (rho0 - rho1) / 2, rel=1e-3
        )


ACT = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


def random_batch(key: jax.Array, b: int) -> Transitions:
    """`b` transitions of uniform observations and actions, rewards from -1 to 1."""
    k_obs, k_act, k_next = jax.random.split(key, 3)
    return Transitions(
        obs=jax.random.uniform(k_obs, (b, 3), minval=-1, maxval=1),
        actions=jax.random.uniform(k_act, (b, 2), minval=-1, maxval=1),
        rewards=jnp.linspace(-1.0, 1.0, b),
        next_obs=jax.random.uniform(k_next, (b, 3), minval=-1, maxval=1),
        terminated=jnp.zeros((b,), bool),
        truncated=jnp.zeros((b,), bool),
    )


def test_with_a_flat_critic_a_sac_update_raises_the_entropy() -> None:
    sac = SAC(SACConfig(hidden=(16, 16)), OBS, ACT)
    state = sac.init(jax.random.PRNGKey(0))
    flat = jax.tree.map(jnp.zeros_like, state.critic)
    state = state._replace(critic=flat, critic_target=flat)
    b = 16
    batch = random_batch(jax.random.PRNGKey(1), b)

    @jax.jit
    def step(state: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(entropy before, entropy after, Q [64, 2, B] of the stepped critic at 64 random
        actions per state). Entropy: −mean log π(ã|s) over 64 draws per state, the same
        draws before and after, so their difference is not sampling noise."""
        new, _ = sac.update(state, batch, jax.random.PRNGKey(2))
        obs = jnp.broadcast_to(batch.obs, (64, b, 3))

        def entropy(actor: Any) -> jax.Array:
            _, log_probs = sac.actor.apply(actor, obs).sample_and_log_prob(jax.random.PRNGKey(3))
            return -log_probs.mean()

        others = jax.random.uniform(jax.random.PRNGKey(4), (64, b, 2), minval=-1, maxval=1)
        q = jax.vmap(lambda a: sac.critic.apply(new.critic, batch.obs, a))(others)
        return entropy(state.actor), entropy(new.actor), q

    before, after, q = step(state)
    # the premise: the critic the actor stepped against is the same for every action
    np.testing.assert_array_equal(q, jnp.broadcast_to(q[:1], q.shape))
    assert float(after) > float(before) + 1e-4, (float(before), float(after))  # measured: +1.7e-3


def test_a_sac_update_raises_the_critics_value_of_the_policys_actions() -> None:
    """With α ≈ 0 the actor loss is −Q: one update must raise the mean Q, under the
    critic the actor stepped against, of the policy's actions (64 fresh draws per state,
    the same before and after). Catches a flipped sign of SAC's Q term, which the flat
    critic above cannot see."""
    sac = SAC(SACConfig(hidden=(16, 16), alpha=1e-6, autotune=False), OBS, ACT)
    state = sac.init(jax.random.PRNGKey(0))
    b = 64
    batch = random_batch(jax.random.PRNGKey(5), b)

    @jax.jit
    def step(state: Any) -> tuple[jax.Array, jax.Array]:
        new, _ = sac.update(state, batch, jax.random.PRNGKey(6))
        obs = jnp.broadcast_to(batch.obs, (64, b, 3))

        def value(actor: Any) -> jax.Array:
            actions, _ = sac.actor.apply(actor, obs).sample_and_log_prob(jax.random.PRNGKey(7))
            return sac.critic.apply(new.critic, obs, actions).min(axis=0).mean()

        return value(state.actor), value(new.actor)

    before, after = step(state)
    # measured: +8.7e-4 (and -8.7e-4 with the sign of Q flipped), under both flag sets
    assert float(after) > float(before) + 2e-4, (float(before), float(after))
