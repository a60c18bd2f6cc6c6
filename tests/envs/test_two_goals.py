from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.envs import make
from ascent.envs.jax_env import JaxEnv
from ascent.envs.tasks import TwoGoals
from ascent.errors import EnvError


def rollout(env: TwoGoals, actions: list[float]) -> tuple[jax.Array, ...]:
    """(obs, reward, terminated, truncated, next_obs), each stacked over the steps."""

    @jax.jit
    def run(actions: jax.Array) -> tuple[jax.Array, ...]:
        _, state = env.reset(jax.random.key(0))

        def body(state, a):  # type: ignore[no-untyped-def]
            obs, state, reward, terminated, truncated, next_obs = env.step(
                jax.random.key(1), state, a
            )
            return state, (obs, reward, terminated, truncated, next_obs)

        return jax.lax.scan(body, state, actions)[1]

    return run(jnp.asarray(actions, jnp.float32)[:, None])


def test_spaces_and_registration() -> None:
    env = make("ascent/TwoGoals-v0")
    assert isinstance(env, JaxEnv) and isinstance(env, TwoGoals)
    assert env.observation_space.shape == (1,) and env.action_space.shape == (1,)
    obs, _ = env.reset(jax.random.key(0))
    np.testing.assert_array_equal(obs, [0.0])


def test_the_far_goal_pays_twice_the_near_one_from_the_eighth_step() -> None:
    _, reward, terminated, truncated, next_obs = rollout(TwoGoals(), [1.0] * 50)
    np.testing.assert_allclose(reward, [0.0] * 7 + [0.2] * 43)
    assert float(reward.sum()) == pytest.approx(8.6)  # the optimum
    np.testing.assert_allclose(next_obs[6:9, 0], [0.7, 0.8, 0.9], atol=1e-6)
    np.testing.assert_allclose(next_obs[9:, 0], 1.0)  # stopped by the wall
    assert not np.asarray(terminated).any()
    assert np.asarray(truncated).tolist() == [False] * 49 + [True]


def test_the_near_goal_pays_one_from_the_second_step() -> None:
    obs, reward, _, truncated, next_obs = rollout(TwoGoals(), [-1.0] * 50)
    np.testing.assert_allclose(reward, [0.0] + [0.1] * 49)
    assert float(reward.sum()) == pytest.approx(4.9)  # the most without the far goal
    assert float(next_obs[:, 0].min()) == pytest.approx(-0.3)  # the left wall
    np.testing.assert_allclose(obs[-1], [0.0])  # reset to the start after truncation
    np.testing.assert_allclose(next_obs[-1], [-0.3])  # the true final position
    assert bool(truncated[-1])


def test_half_steps_and_clipped_actions() -> None:
    # a = 0.5 moves 0.05; a = 3 is clipped to 1
    _, reward, _, _, next_obs = rollout(TwoGoals(max_episode_steps=4), [0.5, 0.5, 3.0, -3.0])
    np.testing.assert_allclose(next_obs[:, 0], [0.05, 0.1, 0.2, 0.1], atol=1e-6)
    np.testing.assert_allclose(reward, 0.0)


def test_bad_layouts_are_refused() -> None:
    with pytest.raises(EnvError, match="left <= near < 0 < far <= right"):
        TwoGoals(far=-0.1)
    with pytest.raises(EnvError, match="max_episode_steps"):
        TwoGoals(max_episode_steps=0)


def test_random_actions_find_the_near_goal_often_and_the_far_one_rarely() -> None:
    """The deception the claims lab relies on (benchmarks/claims_lab/sac_alpha.py)."""
    env = TwoGoals()

    def episode(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        actions = jax.random.uniform(key, (env.max_episode_steps, 1), minval=-1.0, maxval=1.0)
        _, state = env.reset(key)

        def body(state, a):  # type: ignore[no-untyped-def]
            _, state, reward, _, _, _ = env.step(key, state, a)
            return state, reward

        rewards = jax.lax.scan(body, state, actions)[1]
        return (rewards == env.near_reward).any(), (rewards == env.far_reward).any()

    near, far = jax.jit(jax.vmap(episode))(jax.random.split(jax.random.key(0), 4000))
    assert 0.6 < float(near.mean()) < 0.72
    assert 0.04 < float(far.mean()) < 0.075
