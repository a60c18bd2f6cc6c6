"""The repeated matrix games behind the multi-agent JAX protocol (`envs/multiagent.py`,
`envs/tasks/matrix_games.py`): payoffs, episode length, automatic reset, shape checks."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.envs import AgentObs, MultiAgentJaxEnv, check_multiagent_env
from ascent.envs.tasks import MatrixGame, climbing_game, penalty_game
from ascent.errors import EnvError

N_ENVS, ROUNDS = 3, 50  # two 25-round episodes in each environment


def play(env: MatrixGame, joint: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-round team rewards [ROUNDS, N_ENVS] and truncation flags of a fixed joint action."""
    actions = jnp.broadcast_to(jnp.asarray(joint, jnp.int32), (N_ENVS, 2))
    keys = jax.random.split(jax.random.key(0), N_ENVS)
    _, states = jax.vmap(env.reset)(keys)

    def round_(states, _):
        _, states, rewards, terminated, truncated, _ = jax.vmap(env.step)(keys, states, actions)
        assert rewards.shape == (N_ENVS, 2)
        return states, (rewards[:, 0], rewards[:, 1], terminated, truncated)

    _, (first, second, terminated, truncated) = jax.lax.scan(round_, states, None, ROUNDS)
    np.testing.assert_array_equal(first, second)  # one team, one payoff
    assert not np.asarray(terminated).any()
    return np.asarray(first), np.asarray(truncated)


@pytest.mark.parametrize(
    "env, joint, episode_return",
    [
        (climbing_game(), (0, 0), 275.0),  # the optimum
        (climbing_game(), (1, 1), 175.0),  # a trap
        (climbing_game(), (2, 2), 125.0),  # the other trap
        (climbing_game(), (0, 1), -750.0),  # miscoordination
        (penalty_game(), (0, 0), 250.0),
        (penalty_game(), (2, 2), 250.0),
        (penalty_game(), (1, 1), 50.0),  # safe
        (penalty_game(-100.0), (0, 2), -2500.0),  # the two optima mixed
    ],
)
def test_each_episode_pays_25_rounds_of_the_payoff(env, joint, episode_return) -> None:
    rewards, truncated = play(env, joint)
    ends = np.flatnonzero(truncated[:, 0])
    np.testing.assert_array_equal(ends, [24, 49])  # truncated at the 25th round, then reset
    assert truncated.all(axis=1).sum() == 2  # every environment ends together
    np.testing.assert_allclose(rewards[:25].sum(0), episode_return)
    np.testing.assert_allclose(rewards[25:].sum(0), episode_return)


def test_the_games_satisfy_the_protocol() -> None:
    for env in (climbing_game(), penalty_game(k=0.0)):
        assert isinstance(env, MultiAgentJaxEnv)
        check_multiagent_env(env)
        agent_obs, _ = env.reset(jax.random.key(0))
        assert isinstance(agent_obs, AgentObs) and agent_obs.action_mask.all()
        assert agent_obs.active.all()  # two agents, no padded slot


@dataclass(frozen=True)
class OneReward(MatrixGame):
    """A broken game: one reward for the team instead of one per agent."""

    def step(self, key, env_state, actions):  # type: ignore[no-untyped-def]
        out = super().step(key, env_state, actions)
        return out[0], out[1], out[2][0], *out[3:]


def test_a_game_that_breaks_the_protocol_is_named_in_one_line() -> None:
    with pytest.raises(EnvError, match=r"ascent/Climbing-v0: rewards have shape \(\), expected"):
        check_multiagent_env(OneReward())
    with pytest.raises(EnvError, match="square payoff"):
        MatrixGame(payoff=((1.0, 2.0),))
    with pytest.raises(EnvError, match="finite"):
        MatrixGame(payoff=((float("nan"),),))
