from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.envs.jax_env import JaxEnv
from ascent.envs.tasks import Chain
from ascent.errors import EnvError


def _rollout(env: Chain, actions: list[int], seed: int = 0) -> tuple[jax.Array, ...]:
    """Run the given actions under jit; returns (obs, reward, terminated, truncated, next_obs),
    each stacked over time."""

    @jax.jit
    def run(key: jax.Array, actions: jax.Array) -> tuple[jax.Array, ...]:
        key, reset_key = jax.random.split(key)
        _, state = env.reset(reset_key)

        def body(state, xs):  # type: ignore[no-untyped-def]
            k, a = xs
            obs, state, reward, terminated, truncated, next_obs = env.step(k, state, a)
            return state, (obs, reward, terminated, truncated, next_obs)

        keys = jax.random.split(key, actions.shape[0])
        return jax.lax.scan(body, state, (keys, actions))[1]

    return run(jax.random.key(seed), jnp.asarray(actions, jnp.int32))


def test_spaces_and_reset() -> None:
    env = Chain()
    assert isinstance(env, JaxEnv)
    assert env.env_id == "ascent/Chain-v0" and env.max_episode_steps == 32
    assert env.observation_space.shape == (8,) and env.action_space.n == 2
    obs, state = env.reset(jax.random.key(0))
    assert obs.dtype == jnp.float32
    np.testing.assert_array_equal(obs, np.eye(8, dtype=np.float32)[0])


def test_reaching_the_goal_terminates_with_reward() -> None:
    obs, reward, terminated, truncated, next_obs = _rollout(Chain(), [1] * 7)
    np.testing.assert_allclose(reward, [-0.01] * 6 + [1.0])
    assert np.asarray(terminated).tolist() == [False] * 6 + [True]
    assert not np.asarray(truncated).any()
    eye = np.eye(8, dtype=np.float32)
    np.testing.assert_array_equal(next_obs[-1], eye[7])  # the goal cell, before reset
    np.testing.assert_array_equal(obs[-1], eye[0])  # a fresh episode
    np.testing.assert_array_equal(obs[:-1], next_obs[:-1])
    assert float(reward.sum()) == pytest.approx(0.94)


def test_time_limit_truncates_with_true_final_obs() -> None:
    # Right three times, then left/right: the walker ends step 32 in cell 2.
    actions = [1, 1, 1] + [0, 1] * 14 + [0]
    obs, reward, terminated, truncated, next_obs = _rollout(Chain(), actions)
    assert len(actions) == 32
    assert np.asarray(truncated).tolist() == [False] * 31 + [True]
    assert not np.asarray(terminated).any()
    eye = np.eye(8, dtype=np.float32)
    np.testing.assert_array_equal(next_obs[-1], eye[2])
    np.testing.assert_array_equal(obs[-1], eye[0])
    np.testing.assert_allclose(reward, -0.01)


def test_slip_uses_the_key() -> None:
    # slip = 1 flips every move: always "right" never leaves the left wall.
    _, _, terminated, truncated, next_obs = _rollout(Chain(slip=1.0), [1] * 32)
    assert not np.asarray(terminated).any() and bool(truncated[-1])
    np.testing.assert_array_equal(np.asarray(next_obs)[:, 0], 1.0)
    a = _rollout(Chain(slip=0.3), [1] * 40, seed=3)
    b = _rollout(Chain(slip=0.3), [1] * 40, seed=3)
    c = _rollout(Chain(slip=0.3), [1] * 40, seed=4)
    np.testing.assert_array_equal(a[4], b[4])
    assert not np.array_equal(a[4], c[4])


def test_vmap_and_static_argument() -> None:
    env = Chain(length=4)
    keys = jax.random.split(jax.random.key(0), 5)
    obs, state = jax.vmap(env.reset)(keys)
    assert obs.shape == (5, 4)

    @jax.jit(static_argnums=0)
    def step(env: Chain, state, action):  # type: ignore[no-untyped-def]
        return jax.vmap(env.step)(keys, state, action)

    out = step(Chain(length=4), state, jnp.ones(5, jnp.int32))
    assert out[0].shape == (5, 4) and out[2].shape == (5,) and out[3].dtype == jnp.bool_
    assert hash(Chain(length=4)) == hash(env)


def test_invalid_parameters() -> None:
    with pytest.raises(EnvError, match="length"):
        Chain(length=1)
