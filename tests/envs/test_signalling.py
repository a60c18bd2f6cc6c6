"""The signalling game behind the multi-agent JAX protocol (`envs/tasks/signalling.py`):
the layout of what agents see, the team reward, an honest protocol against chance,
flags and automatic reset."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.envs import AgentObs, MultiAgentJaxEnv, check_multiagent_env
from ascent.envs.tasks import Signalling, SignallingState
from ascent.errors import EnvError

N_ENVS, EPISODES = 64, 50
Policy = Callable[[jax.Array], jax.Array]  # obs [A, obs_dim] -> actions [A]


def honest(env: Signalling, shift: int = 0) -> Policy:
    """Say your value plus `shift`, then name what your neighbour said minus `shift`."""
    v = env.n_values

    def policy(obs: jax.Array) -> jax.Array:
        own = jnp.argmax(obs[:, :v], axis=1)
        heard = jnp.argmax(obs[:, v + 2 : 2 * v + 2], axis=1)  # the neighbour's message
        acting = obs[:, v + 1] > 0
        return jnp.where(acting, (heard - shift) % v, (own + shift) % v)

    return policy


def name_own_value(env: Signalling) -> Policy:
    return lambda obs: jnp.argmax(obs[:, : env.n_values], axis=1)


def name_zero(env: Signalling) -> Policy:
    return lambda obs: jnp.zeros(env.n_agents, jnp.int32)


def play(env: Signalling, policy: Policy) -> tuple[np.ndarray, ...]:
    """Rewards [T, N_ENVS, A], terminated and truncated [T, N_ENVS] and values
    [T, N_ENVS, A] over EPISODES episodes (T = 2 * EPISODES) under jit and vmap."""

    @jax.jit
    def run(key: jax.Array) -> tuple[jax.Array, ...]:
        agent_obs, states = jax.vmap(env.reset)(jax.random.split(key, N_ENVS))

        def step(carry, key):
            agent_obs, states = carry
            actions = jax.vmap(policy)(agent_obs.obs)
            keys = jax.random.split(key, N_ENVS)
            agent_obs, next_states, rewards, terminated, truncated, _ = jax.vmap(env.step)(
                keys, states, actions
            )
            return (agent_obs, next_states), (rewards, terminated, truncated, states.values)

        keys = jax.random.split(jax.random.fold_in(key, 1), 2 * EPISODES)
        return jax.lax.scan(step, (agent_obs, states), keys)[1]

    return tuple(np.asarray(x) for x in run(jax.random.key(0)))


ENVS = [Signalling(), Signalling(n_agents=3, n_values=5)]


def test_the_game_satisfies_the_protocol() -> None:
    for env in ENVS:
        assert isinstance(env, MultiAgentJaxEnv)
        check_multiagent_env(env)
        agent_obs, state = env.reset(jax.random.key(0))
        assert isinstance(agent_obs, AgentObs) and isinstance(state, SignallingState)
        a, v = env.n_agents, env.n_values
        assert agent_obs.obs.shape == (a, a * v + 2) and agent_obs.obs.dtype == jnp.float32
        assert agent_obs.global_state.shape == (2 * a * v + 2,)
        assert agent_obs.action_mask.shape == (a, v) and agent_obs.action_mask.all()
        assert agent_obs.active.all()
        assert env.agents == tuple(f"agent_{i}" for i in range(a))
        assert env.max_episode_steps == 2 and env.action_space.n == v
    assert Signalling().env_id == "ascent/Signalling-v0"
    assert hash(Signalling()) == hash(Signalling())  # static under jit


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("shift", [0, 1])
def test_an_honest_protocol_names_every_value(env, shift) -> None:
    rewards, terminated, _, _ = play(env, honest(env, shift))
    np.testing.assert_array_equal(rewards[0::2], 0.0)  # talking pays nothing
    np.testing.assert_array_equal(rewards[1::2], 1.0)
    np.testing.assert_array_equal(rewards.sum(0), EPISODES)  # return 1 in every episode


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("make_policy", [name_own_value, name_zero])
def test_a_team_that_ignores_messages_scores_chance(env, make_policy) -> None:
    rewards, _, _, _ = play(env, make_policy(env))
    returns = rewards.reshape(EPISODES, 2, N_ENVS, env.n_agents).sum(1)  # [E, N, A]
    assert (returns == returns[..., :1]).all()  # one team, one return
    p = 1.0 / env.n_values
    # A return is a mean of Bernoulli(p) guesses, so its variance is at most p (1 - p).
    standard_error = np.sqrt(p * (1 - p) / (EPISODES * N_ENVS))
    assert abs(returns.mean() - p) < 4 * standard_error


def test_the_act_step_terminates_and_the_reset_draws_fresh_values() -> None:
    env = Signalling()
    _, terminated, truncated, values = play(env, honest(env))
    assert not truncated.any()
    np.testing.assert_array_equal(terminated[0::2], False)
    np.testing.assert_array_equal(terminated[1::2], True)
    np.testing.assert_array_equal(values[0::2], values[1::2])  # held within an episode
    episodes = values[0::2]  # [E, N, A]
    assert (episodes[1:] != episodes[:-1]).any(axis=(0, 2)).all()  # each env redraws
    assert (episodes != episodes[:, :1]).any()  # environments differ
    counts = np.bincount(episodes.ravel(), minlength=env.n_values)
    assert counts.min() > 0.2 * episodes.size  # every value, about a quarter of the time


def test_the_act_step_sees_the_neighbours_messages_in_ring_order() -> None:
    env = Signalling(n_agents=3, n_values=4)
    eye, talk, act = np.eye(4), [1.0, 0.0], [0.0, 1.0]
    first, state = env.reset(jax.random.key(0))
    x = [int(value) for value in state.values]
    np.testing.assert_array_equal(first.obs[1], [*eye[x[1]], *talk, *np.zeros(8)])
    np.testing.assert_array_equal(first.global_state, [*eye[x].ravel(), *np.zeros(12), *talk])

    key = jax.random.key(1)
    guess, state, rewards, terminated, _, _ = env.step(key, state, jnp.asarray([1, 2, 3]))
    np.testing.assert_array_equal(rewards, 0.0)  # talking pays nothing
    assert not terminated
    np.testing.assert_array_equal(guess.obs[0], [*eye[x[0]], *act, *eye[2], *eye[3]])
    np.testing.assert_array_equal(guess.obs[1], [*eye[x[1]], *act, *eye[3], *eye[1]])
    np.testing.assert_array_equal(guess.obs[2], [*eye[x[2]], *act, *eye[1], *eye[2]])
    np.testing.assert_array_equal(guess.global_state,
                                  [*eye[x].ravel(), *eye[[1, 2, 3]].ravel(), *act])  # fmt: skip

    # agents 0 and 2 name their neighbours' values, agent 1 names a wrong one
    names = jnp.asarray([x[1], (x[2] + 1) % 4, x[0]])
    fresh, state, rewards, terminated, truncated, last = env.step(key, state, names)
    np.testing.assert_allclose(rewards, [2 / 3] * 3)
    assert terminated and not truncated
    np.testing.assert_array_equal(last.obs[:, 4:6], 0.0)  # the terminal observation: no phase
    np.testing.assert_array_equal(fresh.obs[:, 4:6], [talk] * 3)
    np.testing.assert_array_equal(fresh.obs[:, 6:], 0.0)  # a new episode has heard nothing
    assert int(state.time) == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [({"n_agents": 1}, "n_agents must be >= 2, got 1"), ({"n_values": 1}, "n_values must be")],
)
def test_bad_arguments_are_named_in_one_line(kwargs, message) -> None:
    with pytest.raises(EnvError, match=message) as error:
        Signalling(**kwargs)
    assert "\n" not in str(error.value)
