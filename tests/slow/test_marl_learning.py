"""Teams learn (slow: whole runs; `pytest -m slow`). The MPE pass bars are checked over
5 seeds by benchmarks/marl.py; these are single-seed runs on Ascent's own small tasks."""

from __future__ import annotations

import pytest

import ascent

SIGNALLING = {"n_envs": 64, "n_steps": 2, "minibatch_size": 128, "n_epochs": 4,
              "lr": 3e-3, "ent_coef": 0.01, "total_steps": 200_000}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ippo", "mappo"])
def test_a_team_learns_to_talk_in_the_signalling_game(algo: str) -> None:
    """Chance is 1/4 (a guess that ignores the messages); naming the partner's value
    needs a protocol learned through the talk step's actions."""
    agent = ascent.make(algo, env="ascent/Signalling-v0", seed=0, **SIGNALLING)
    agent.learn(progress=False)
    result = agent.evaluate(episodes=200)
    assert result.mean_return >= 0.9, result.mean_return
