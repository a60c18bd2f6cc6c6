"""Both environment doors learn the same way (slow: full PPO runs; `pytest -m slow`)."""

from __future__ import annotations

import pytest

import ascent


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["CartPole-v1", "gymnax/CartPole-v1"])
def test_ppo_preset_solves_cartpole_through_each_door(env_id: str) -> None:
    agent = ascent.make("ppo", env=env_id, seed=0)
    assert agent.config.total_steps == 100_000  # the RL-Zoo preset applies to both doors
    agent.learn(progress=False)
    result = agent.evaluate(episodes=20)
    agent.close()
    assert result.mean_return >= 475, result.returns
