"""VDN and QMIX (`ascent/marl/value_decomposition.py`): the Q(λ) targets by hand, and the
team's greedy joint action found by brute force is each agent's own greedy action."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.buffers import Rollout
from ascent.errors import ConfigError
from ascent.marl.value_decomposition import QMIXConfig

SETTINGS = {"n_envs": 2, "n_steps": 3, "minibatch_size": 2, "hidden": (8,), "total_steps": 60}


def greedy_and_rollout(algo: str, lam: float) -> tuple:
    agent = ascent.make(algo, env="ascent/Climbing-v0", seed=1, gae_lambda=lam, gamma=0.9,
                        **SETTINGS)  # fmt: skip
    algorithm, params = agent.algorithm, agent.state.algo.params
    obs, _ = agent.env.reset(jax.random.PRNGKey(0))
    steps = jax.tree.map(lambda x: jnp.broadcast_to(x, (3, 2, *x.shape)), obs)  # [T, N, ...]
    rewards = jnp.arange(12, dtype=jnp.float32).reshape(3, 2, 2)  # [T, N, A]
    truncated = jnp.array([[False, False], [False, True], [False, False]])
    rollout = Rollout(steps, jnp.zeros((3, 2, 2), jnp.int32), jnp.zeros((3, 2, 2)), rewards,
                      jnp.zeros((3, 2), bool), truncated, steps)  # fmt: skip
    # the climbing game's observation never changes, so every greedy value is one number
    greedy = float(algorithm.team_value(params, obs, None))
    return algorithm.targets(params, rollout), rewards.mean(-1), greedy


@pytest.mark.parametrize("algo", ["vdn", "qmix"])
def test_q_lambda_targets_by_hand(algo: str) -> None:
    gamma = 0.9
    one_step, r, v = greedy_and_rollout(algo, 0.0)  # G_t = r_t + γ max Q_tot(s_{t+1})
    np.testing.assert_allclose(one_step, r + gamma * v, rtol=1e-5)
    full, r, v = greedy_and_rollout(algo, 1.0)  # the discounted return, cut at truncation
    expected = np.zeros((3, 2))
    for n in range(2):
        after = v  # bootstrap after the rollout's last step
        for t in (2, 1, 0):
            if t == 1 and n == 1:  # truncated: bootstrap from the true next state
                after = v
            expected[t, n] = r[t, n] + gamma * after
            after = expected[t, n]
    np.testing.assert_allclose(full, expected, rtol=1e-5)


@pytest.mark.parametrize("algo", ["vdn", "qmix"])
def test_the_teams_greedy_joint_action_is_each_agents_own(algo: str) -> None:
    """max over all 3 × 3 joint actions of Q_tot, by brute force, is at the agents' own
    argmax (a monotonic mixer); with random parameters and several states."""
    agent = ascent.make(algo, env="ascent/Climbing-v0", seed=0, **SETTINGS)
    algorithm = agent.algorithm
    obs, _ = agent.env.reset(jax.random.PRNGKey(0))
    joints = jnp.asarray(list(itertools.product(range(3), repeat=2)), jnp.int32)  # [9, 2]
    for seed in range(5):
        params = algorithm.init(jax.random.PRNGKey(seed)).params
        state = jax.random.normal(jax.random.PRNGKey(100 + seed), obs.global_state.shape)
        seen = obs._replace(obs=obs.obs + seed, global_state=state)
        values = jax.vmap(lambda u, p=params, o=seen: algorithm.team_value(p, o, u))(joints)
        greedy, _ = algorithm.act(agent.state.algo._replace(params=params), seen,
                                  jax.random.PRNGKey(0), deterministic=True)  # fmt: skip
        assert tuple(np.asarray(joints[int(jnp.argmax(values))])) == tuple(np.asarray(greedy))
        np.testing.assert_allclose(values.max(), algorithm.team_value(params, seen, None),
                                   rtol=1e-5)  # fmt: skip


@pytest.mark.parametrize(
    "epsilon", [1.5, -0.1, "linear(2, -1)", "linear(1.0, 1.5)", "exponential(0.5, 2)"]
)
def test_epsilon_must_stay_a_probability(epsilon: object) -> None:
    """ε is the probability of a random action: a number or every value of a schedule
    over training in [0, 1] (issue 30, item 3); one line naming the field."""
    with pytest.raises(ConfigError, match=r"^epsilon must stay in \[0, 1\]") as info:
        QMIXConfig(epsilon=epsilon).validate()
    assert "\n" not in str(info.value)
    for fine in (0.0, 1.0, "linear(1.0, 0.05)", "cosine(1, 0)", "exponential(1, 0.01)"):
        QMIXConfig(epsilon=fine).validate()
