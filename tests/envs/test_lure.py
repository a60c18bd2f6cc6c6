from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.envs import make
from ascent.envs.jax_env import JaxEnv
from ascent.envs.tasks.lure import START, Lure, LureState
from ascent.errors import EnvError
from ascent.theory import TabularMDP, q_values


def _rollout(env: Lure, actions: list[int]) -> tuple[np.ndarray, ...]:
    """(obs, reward, terminated, truncated, next_obs), stacked over the given actions."""

    @jax.jit
    def run(actions: jax.Array) -> tuple[jax.Array, ...]:
        _, state = env.reset(jax.random.key(0))

        def body(state: LureState, a: jax.Array) -> tuple[LureState, tuple]:
            obs, state, reward, terminated, truncated, next_obs = env.step(
                jax.random.key(1), state, a
            )
            return state, (obs, reward, terminated, truncated, next_obs)

        return jax.lax.scan(body, state, actions)[1]

    return tuple(np.asarray(x) for x in run(jnp.asarray(actions, jnp.int32)))


def test_spaces_and_reset() -> None:
    env = Lure()
    assert isinstance(env, JaxEnv)
    assert env.observation_space.shape == (16,) and env.action_space.n == 2
    obs, state = env.reset(jax.random.key(0))
    np.testing.assert_array_equal(obs, np.eye(16, dtype=np.float32)[START])
    assert int(state.position) == START == 1


def test_registered() -> None:
    env = make("ascent/Lure-v0", length=8)
    assert isinstance(env, Lure) and env.length == 8 and env.env_id == "ascent/Lure-v0"


def test_the_lure_is_one_step_left() -> None:
    obs, reward, terminated, truncated, next_obs = _rollout(Lure(), [0])
    assert reward.tolist() == pytest.approx([0.1]) and terminated.tolist() == [True]
    eye = np.eye(16, dtype=np.float32)
    np.testing.assert_array_equal(next_obs[0], eye[0])  # the lure's cell, before reset
    np.testing.assert_array_equal(obs[0], eye[START])  # a fresh episode


def test_the_goal_pays_one_after_the_walk() -> None:
    env = Lure()
    obs, reward, terminated, truncated, next_obs = _rollout(env, [1] * 14)
    np.testing.assert_allclose(reward, [-0.01] * 13 + [1.0], rtol=1e-6)
    assert terminated.tolist() == [False] * 13 + [True] and not truncated.any()
    assert float(reward.sum()) == pytest.approx(env.optimal_return) == pytest.approx(0.87)


def test_time_limit_truncates() -> None:
    env = Lure(max_episode_steps=6)
    _, reward, terminated, truncated, next_obs = _rollout(env, [1, 0] * 3)
    assert truncated.tolist() == [False] * 5 + [True] and not terminated.any()
    np.testing.assert_array_equal(next_obs[-1], np.eye(16, dtype=np.float32)[START])


def test_bad_options() -> None:
    with pytest.raises(EnvError, match="length"):
        Lure(length=2)
    with pytest.raises(EnvError, match="lure"):
        Lure(lure=1.0)


def _as_mdp(env: Lure, gamma: float) -> TabularMDP:
    """The task as a tabular MDP, read off the environment's own step: every (cell,
    action) of the corridor's inner cells; an end cell terminates (its row stays 0)."""
    n = env.length
    P, R = np.zeros((n, 2, n)), np.zeros((n, 2))
    for cell in range(1, n - 1):
        for action in (0, 1):
            state = LureState(jnp.asarray(cell, jnp.int32), jnp.zeros((), jnp.int32))
            *_, reward, terminated, _, next_obs = env.step(jax.random.key(0), state, action)
            R[cell, action] = float(reward)
            if not bool(terminated):
                P[cell, action, int(np.argmax(next_obs))] = 1.0
    return TabularMDP(P, R, gamma, np.eye(n)[START])


def test_deceptive_under_the_uniform_policy() -> None:
    # Q of the uniform policy, exact: in the first cells the lure's side is better, so
    # the policy gradient at the start points at the lure, though walking right is
    # worth 0.99^13 - 0.01·(1 + ... + 0.99^12) ≈ 0.75 from the start, far above 0.1.
    env = Lure()
    mdp = _as_mdp(env, gamma=0.99)
    with jax.enable_x64(True):
        q = np.asarray(q_values(mdp, np.zeros((env.length, 2))))
        right = np.asarray(q_values(mdp, np.tile([-30.0, 30.0], (env.length, 1))))
    assert q[1, 0] == pytest.approx(0.1) and q[1, 1] == pytest.approx(-0.0423, abs=1e-4)
    advantage_right = q[1:-1, 1] - q[1:-1, 0]
    assert (advantage_right[:4] < 0).all() and (advantage_right[4:] > 0).all()
    walk = 0.99**13 - 0.01 * sum(0.99**t for t in range(13))
    assert right[1, 1] == pytest.approx(walk, abs=1e-7)  # float32 rewards and walk > 0.74
