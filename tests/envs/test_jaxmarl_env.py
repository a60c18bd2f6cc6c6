"""The JaxMARL door (`envs/jaxmarl_env.py`): padding, the protocol's checks, the 25-step
time limit with automatic reset under jit and vmap, the registry, and one step matched
against mpe2 from the same world state."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.envs import JaxMarlEnv, check_multiagent_env, door, is_jax_env, list_envs, make
from ascent.envs.jaxmarl_env import import_jaxmarl
from ascent.envs.registry import check_saved_id, registered
from ascent.errors import EnvError

# not pytest.importorskip: importing jaxmarl prints, and the first test checks it does not
pytestmark = pytest.mark.skipif(importlib.util.find_spec("jaxmarl") is None,
                                reason="jaxmarl is not installed")  # fmt: skip


def test_jaxmarl_is_imported_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    if "jaxmarl" in sys.modules:
        pytest.skip("jaxmarl was imported before this test")
    stderr_before = sys.stderr
    import_jaxmarl()
    assert sys.stderr is stderr_before
    assert capfd.readouterr().out == ""


@pytest.fixture(scope="module")
def spread() -> JaxMarlEnv:
    return JaxMarlEnv("MPE_simple_spread_v3")


def test_speaker_listener_is_padded() -> None:
    env = JaxMarlEnv("MPE_simple_speaker_listener_v4")
    assert env.env_id == "jaxmarl/simple_speaker_listener_v4"
    assert env.agents == ("speaker_0", "listener_0") and env.max_episode_steps == 25
    assert env.observation_space.shape == (11,) and env.action_space.n == 5
    # no world state in MPE: the observations joined unpadded (3 + 11), as mpe2's state()
    assert env.state_space.shape == (14,)
    check_multiagent_env(env)
    first, _ = env.reset(jax.random.PRNGKey(0))
    assert first.obs.shape == (2, 11) and first.obs.dtype == jnp.float32
    assert (first.obs[0, 3:] == 0).all() and (first.obs[0, :3] != 0).any()
    np.testing.assert_array_equal(first.action_mask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    assert first.action_mask.dtype == jnp.bool_ and first.active.all()
    joined = np.concatenate([first.obs[0, :3], first.obs[1]])
    np.testing.assert_array_equal(first.global_state, joined)


def test_a_padded_action_is_the_agents_last() -> None:
    env = JaxMarlEnv("simple_speaker_listener_v4")
    key = jax.random.PRNGKey(1)
    _, state = env.reset(key)
    padded = env.step(key, state, jnp.array([4, 1]))
    last = env.step(key, state, jnp.array([2, 1]))
    for x, y in zip(jax.tree.leaves(padded), jax.tree.leaves(last), strict=True):
        np.testing.assert_array_equal(x, y)


def test_spread(spread: JaxMarlEnv) -> None:
    check_multiagent_env(spread)
    assert spread.env_id == "jaxmarl/simple_spread_v3" and spread.agents[0] == "agent_0"
    assert spread.observation_space.shape == (18,) and spread.state_space.shape == (54,)
    obs, state = spread.reset(jax.random.PRNGKey(2))
    np.testing.assert_array_equal(obs.global_state, obs.obs.reshape(-1))
    assert hash(spread) == hash(JaxMarlEnv("simple_spread_v3")) and spread == make(
        "jaxmarl/MPE_simple_spread_v3"
    )
    assert spread != JaxMarlEnv("simple_spread_v3", local_ratio=0.25)


def test_time_limit_and_autoreset_under_jit_and_vmap(spread: JaxMarlEnv) -> None:
    """Four environments whose episodes started 0, 5, 10 and 20 steps ago, 30 steps:
    each is truncated after its 25th step (never terminated), and next_obs differs
    from obs exactly there."""
    n_envs, n_steps = 4, 30
    _, states = jax.vmap(spread.reset)(jax.random.split(jax.random.PRNGKey(0), n_envs))
    states = states.replace(step=jnp.array([0, 5, 10, 20], states.step.dtype))

    @jax.jit
    def run(states: Any) -> tuple[Any, tuple[jax.Array, ...]]:
        def one(states: Any, key: jax.Array) -> tuple[Any, tuple[jax.Array, ...]]:
            actions = jax.random.randint(key, (n_envs, 3), 0, 5)
            keys = jax.random.split(key, n_envs)
            obs, states, rewards, terminated, truncated, next_obs = jax.vmap(spread.step)(
                keys, states, actions
            )
            differs = (obs.obs != next_obs.obs).any(axis=(1, 2))
            return states, (rewards, terminated, truncated, differs, states.step)

        return jax.lax.scan(one, states, jax.random.split(jax.random.PRNGKey(1), n_steps))

    _, (rewards, terminated, truncated, differs, steps) = run(states)
    assert rewards.shape == (n_steps, n_envs, 3) and not terminated.any()
    expected = np.zeros((n_steps, n_envs), bool)
    for row, ends in enumerate(([24], [19], [14], [4, 29])):
        expected[ends, row] = True
    np.testing.assert_array_equal(truncated, expected)
    np.testing.assert_array_equal(differs, expected)
    assert (np.asarray(steps)[expected] == 0).all()  # a fresh episode's state


def test_registry_round_trips(spread: JaxMarlEnv) -> None:
    env = make("jaxmarl/simple_speaker_listener_v4")
    assert isinstance(env, JaxMarlEnv) and door(env) == "jax" and is_jax_env(env)
    assert make(spread) is spread  # an object: checked, returned as it is
    for env_id in ("jaxmarl/simple_spread_v3", "jaxmarl/MPE_simple_tag_v3", "jaxmarl/SMAX"):
        assert registered(env_id) and check_saved_id(env_id, "meta.json") == env_id
    assert not registered("jaxmarl/simple_nothing_v3")
    assert all(registered(i) for i in list_envs()["jaxmarl"])
    assert [i.split("/")[1] for i in list_envs()["jaxmarl"]] == [
        i.split("/")[1] for i in list_envs()["pettingzoo"]
    ]
    with pytest.raises(EnvError, match="did you mean 'jaxmarl/simple_spread_v3'"):
        make("jaxmarl/simple_sprad_v3")


def test_unsupported_options_are_one_line() -> None:
    for options, words in (
        ({"action_type": "Continuous"}, "only Discrete actions are supported"),
        ({"local_ratio": [0.5]}, "options must be hashable"),
    ):
        with pytest.raises(EnvError) as info:
            JaxMarlEnv("simple_spread_v3", **options)
        assert "\n" not in str(info.value) and words in str(info.value)


def test_one_step_matches_mpe2(spread: JaxMarlEnv) -> None:
    """mpe2's world put in a JaxMARL state gives the same observations and, after one
    step with the same actions, the same rewards and observations (JaxMARL documents
    its MPE as matching within 1e-4); once with an agent-agent collision."""
    mpe2 = pytest.importorskip("mpe2.simple_spread_v3")
    from ascent.envs import PettingZooVecEnv

    raw = mpe2.parallel_env(continuous_actions=False)
    host = PettingZooVecEnv(raw)
    host.reset(seed=0)
    world = raw.unwrapped.world  # agents then landmarks, as JaxMARL's p_pos rows
    step = jax.jit(spread.step)
    _, state = spread.reset(jax.random.PRNGKey(3))
    for k in range(3):  # moving agents
        _, state, *_ = step(jax.random.PRNGKey(k), state, jnp.array([1, 2, 4]))
    moving = state
    touching = moving.replace(p_pos=moving.p_pos.at[1].set(moving.p_pos[0] + 0.1),
                              p_vel=jnp.zeros_like(moving.p_vel))  # fmt: skip
    for state in (moving, touching):
        for entity, pos, vel in zip(world.entities, state.p_pos, state.p_vel, strict=True):
            entity.state.p_pos = np.array(pos, np.float64)
            entity.state.p_vel = np.array(vel, np.float64)
        seen = np.stack([raw.aec_env.observe(a) for a in raw.possible_agents])
        np.testing.assert_allclose(seen, spread._observe(spread._env.get_obs(state), state).obs,
                                   atol=1e-6)  # fmt: skip
        actions = np.array([3, 0, 2])
        _, rewards, *_, after = host.step(actions[None])
        _, _, jax_rewards, *_, jax_after = step(jax.random.PRNGKey(9), state, jnp.asarray(actions))
        np.testing.assert_allclose(rewards[0], jax_rewards, atol=1e-4)
        np.testing.assert_allclose(after.obs[0], jax_after.obs, atol=1e-4)
    assert rewards[0, 0] < rewards[0, 2] - 0.4  # agents 0 and 1 collided: -1 * local_ratio
