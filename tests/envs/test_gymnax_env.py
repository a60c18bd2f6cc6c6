from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

from ascent.envs.gymnax_env import GymnaxEnv
from ascent.envs.jax_env import JaxEnv
from ascent.errors import EnvError

THETA_LIMIT = 12 * 2 * np.pi / 360


def _run(env: GymnaxEnv, n_envs: int, steps: int, action: jax.Array) -> tuple[jax.Array, ...]:
    """vmap over n_envs, lax.scan over steps, one jit; every env takes `action` every step."""

    @jax.jit
    def run(key: jax.Array) -> tuple[jax.Array, ...]:
        key, reset_key = jax.random.split(key)
        obs0, state = jax.vmap(env.reset)(jax.random.split(reset_key, n_envs))

        def body(state, key):  # type: ignore[no-untyped-def]
            keys = jax.random.split(key, n_envs)
            actions = jnp.broadcast_to(action, (n_envs, *action.shape))
            obs, state, reward, terminated, truncated, next_obs = jax.vmap(env.step)(
                keys, state, actions
            )
            return state, (obs, reward, terminated, truncated, next_obs)

        return (obs0, *jax.lax.scan(body, state, jax.random.split(key, steps))[1])

    return run(jax.random.key(0))


def test_spaces() -> None:
    env = GymnaxEnv("CartPole-v1")
    assert isinstance(env, JaxEnv)
    assert env.env_id == "gymnax/CartPole-v1" and env.max_episode_steps == 500
    assert env.action_space == spaces.Discrete(2)
    assert isinstance(env.observation_space, spaces.Box)
    assert env.observation_space.shape == (4,) and env.observation_space.dtype == np.float32
    pendulum = GymnaxEnv("Pendulum-v1")
    assert isinstance(pendulum.action_space, spaces.Box)
    assert pendulum.action_space.shape == (1,)
    np.testing.assert_array_equal(pendulum.action_space.high, [2.0])


def test_jit_vmap_shapes_and_true_final_obs() -> None:
    obs0, obs, reward, terminated, truncated, next_obs = _run(
        GymnaxEnv("CartPole-v1"), 4, 30, jnp.asarray(1, jnp.int32)
    )
    assert obs0.shape == (4, 4) and obs0.dtype == jnp.float32
    assert obs.shape == next_obs.shape == (30, 4, 4) and next_obs.dtype == jnp.float32
    assert reward.shape == (30, 4) and reward.dtype == jnp.float32
    assert terminated.dtype == truncated.dtype == jnp.bool_
    obs, terminated, next_obs = map(np.asarray, (obs, terminated, next_obs))
    assert terminated.any(), "pushing right for 30 steps must topple the pole"
    assert not np.asarray(truncated).any()
    for t, i in zip(*np.nonzero(terminated), strict=True):
        final = next_obs[t, i]
        assert abs(final[2]) > THETA_LIMIT or abs(final[0]) > 2.4  # pre-reset observation
        assert np.all(np.abs(obs[t, i]) <= 0.05)  # a fresh episode's first observation
    steady = ~terminated
    np.testing.assert_array_equal(next_obs[steady], obs[steady])


def test_time_limit_truncates() -> None:
    env = GymnaxEnv("Pendulum-v1")
    assert env.max_episode_steps == 200
    _, obs, _, terminated, truncated, next_obs = _run(env, 2, 200, jnp.zeros(1, jnp.float32))
    truncated = np.asarray(truncated)
    assert truncated[-1].all() and not truncated[:-1].any()
    assert not np.asarray(terminated).any()
    assert not np.array_equal(np.asarray(obs[-1]), np.asarray(next_obs[-1]))


def test_hashable_static_argument() -> None:
    a, b = GymnaxEnv("CartPole-v1"), GymnaxEnv("CartPole-v1")
    assert a == b and hash(a) == hash(b) and a != GymnaxEnv("Acrobot-v1")

    @jax.jit(static_argnums=0)
    def first_obs(env: GymnaxEnv, key: jax.Array) -> jax.Array:
        return env.reset(key)[0]

    key = jax.random.key(1)
    np.testing.assert_array_equal(first_obs(a, key), first_obs(b, key))


def test_unknown_name() -> None:
    with pytest.raises(EnvError, match="did you mean 'gymnax/CartPole-v1'") as info:
        GymnaxEnv("CartPole-v9")
    assert "gymnax/Pendulum-v1" in str(info.value)


def test_missing_gymnax(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gymnax", None)  # makes `import gymnax` fail
    with pytest.raises(EnvError) as info:
        GymnaxEnv("CartPole-v1")
    assert str(info.value) == "gymnax is not installed: pip install 'ascent-rl[gymnax]'"
