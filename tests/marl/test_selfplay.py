"""Team against team (`ascent/marl/selfplay.py`): the opponents' actions come from the
pool member drawn for the episode, a new draw only when an episode ends; a training
loop's pool is swapped in its state; `play` scores fixed policies exactly."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.envs.tasks.matrix_games import CLIMBING, climbing_game
from ascent.errors import EnvError
from ascent.marl.selfplay import AgainstPool, play, with_pool

from .test_team_algorithms import rollout_of

PAYOFF = np.asarray(CLIMBING, np.float32)
SMALL = {"n_envs": 4, "n_steps": 5, "minibatch_size": 20, "hidden": (8,), "total_steps": 10_000}


def always(params: jax.Array, obs: object, key: jax.Array) -> jax.Array:
    """A 'policy' whose parameters are the action it always takes."""
    del obs, key
    return jnp.reshape(params, (1,)).astype(jnp.int32)


def test_the_opponent_is_the_pool_member_drawn_for_the_episode() -> None:
    env = AgainstPool(climbing_game(max_episode_steps=5), ("agent_0",), always,
                      jnp.array([0, 2]))  # fmt: skip
    assert env.agents == ("agent_0",) and env.opponent_rows == (1,)

    def episodes(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        obs, state = env.reset(key)

        def step(state, key):
            obs, state, rewards, terminated, truncated, _ = env.step(key, state, jnp.array([0]))
            return state, (rewards[0], state.pick, truncated)

        return jax.lax.scan(step, state, jax.random.split(key, 40))[1]

    rewards, picks, ends = jax.jit(jax.vmap(episodes))(jax.random.split(jax.random.PRNGKey(0), 8))
    # agent_0 plays 0; the opponent plays 0 (pays 11) or 2 (pays 0), as drawn
    expected = np.where(np.asarray(picks)[:, :-1] == 0, PAYOFF[0, 0], PAYOFF[0, 2])
    np.testing.assert_array_equal(np.asarray(rewards)[:, 1:], expected)
    changes = np.asarray(picks)[:, 1:] != np.asarray(picks)[:, :-1]
    assert not changes[~np.asarray(ends)[:, 1:]].any()  # only where an episode ended
    assert 0.3 < float(np.mean(picks == 1)) < 0.7  # both members play


def test_a_training_loops_pool_is_swapped_in_its_state() -> None:
    """After the swap every step meets the new pool's members (action 1), the episodes in
    progress included (they keep the index they drew, not the old member)."""
    env = AgainstPool(climbing_game(max_episode_steps=1), ("agent_0",), always,
                      jnp.array([0, 0]))  # fmt: skip
    agent = ascent.make("ippo", env=env, seed=0, **SMALL)
    swapped = with_pool(agent.state, jnp.array([1, 1]))
    assert np.asarray(swapped.env.env_state.pool).tolist() == [[1, 1]] * 4
    with pytest.raises(ValueError, match="shapes"):
        with_pool(agent.state, jnp.array([1, 1, 1]))
    agent.state = swapped
    rollout = rollout_of(agent)
    mine, paid = np.asarray(rollout.actions[..., 0]), np.asarray(rollout.rewards[..., 0])
    np.testing.assert_array_equal(paid, PAYOFF[mine, 1])
    before = rollout_of(ascent.make("ippo", env=env, seed=0, **SMALL))
    np.testing.assert_array_equal(before.rewards[..., 0], PAYOFF[before.actions[..., 0], 0])


def test_play_scores_fixed_policies_exactly() -> None:
    env = climbing_game()
    first = ((0,), always, jnp.array(1))
    second = ((1,), always, jnp.array(2))
    returns = jax.jit(lambda k: play(env, [first, second], k, 3))(jax.random.PRNGKey(0))
    np.testing.assert_allclose(returns, [25 * PAYOFF[1, 2]] * 2)  # 150 each
    with pytest.raises(EnvError, match="split the agents"):
        play(env, [first], jax.random.PRNGKey(0), 1)


def test_a_team_must_be_some_of_the_agents() -> None:
    with pytest.raises(EnvError, match="some, not all"):
        AgainstPool(climbing_game(), ("agent_0", "agent_1"), always, jnp.array([0]))
    with pytest.raises(EnvError, match="some, not all"):
        AgainstPool(climbing_game(), ("agent_7",), always, jnp.array([0]))
