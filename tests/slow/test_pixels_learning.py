"""Issue 29's pixels learn (slow; `pytest -m slow`): PPO with its MinAtar preset (the
compiled door, MinAtar's CNN) leaves the untrained policy's score behind on Breakout-
MinAtar within 300k steps (benchmarks/results/pixels.md has the curves of 3 seeds)."""

from __future__ import annotations

import pytest

import ascent


@pytest.mark.slow
def test_ppo_learns_breakout_minatar_through_its_cnn() -> None:
    untrained = ascent.make("ppo", env="gymnax/Breakout-MinAtar", seed=0, total_steps=300_000)
    before = untrained.evaluate(episodes=20).mean_return
    untrained.learn(progress=False)
    after = untrained.evaluate(episodes=20).mean_return
    assert "MinAtarCNN_0" in untrained.state.algo.params["params"]["actor"]
    untrained.close()
    assert after >= 3.0 and after >= before + 2.0, (before, after)
