"""Issue 28's spaces learn (slow: full runs; `pytest -m slow`): a Dict observation with a
MultiDiscrete action and a MultiBinary action reach their optimum on the JAX door, and
FrozenLake's Discrete observation (not slippery) is solved on the Gymnasium door."""

from __future__ import annotations

import functools

import gymnasium
import pytest

import ascent


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["ascent/DialLock-v0", "ascent/Switches-v0"])
def test_ppo_reaches_the_optimum_of_the_multi_action_tasks(env_id: str) -> None:
    agent = ascent.make("ppo", env=env_id, seed=0, total_steps=50_000, n_envs=8, n_steps=16)
    agent.learn(progress=False)
    result = agent.evaluate(episodes=20)
    agent.close()
    assert result.mean_return >= 0.95 * 8, result.returns  # the optimum is 8; uniform ≈ 2.6, 4


@pytest.mark.slow
def test_ppo_solves_frozen_lake_from_its_discrete_observation() -> None:
    lake = functools.partial(gymnasium.make, "FrozenLake-v1", is_slippery=False)
    agent = ascent.make("ppo", env=lake, seed=0, total_steps=20_000, n_envs=4, n_steps=64,
                        minibatch_size=64, ent_coef=0.01)  # fmt: skip
    agent.learn(progress=False)
    result = agent.evaluate(episodes=10)
    agent.close()
    assert result.mean_return == 1.0, result.returns
