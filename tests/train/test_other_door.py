"""A run saved on one door loads on the other (`ascent eval RUN --env ...`): parameters,
statistics and counters carry over, the environments start afresh."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

import ascent


def test_a_policy_trained_on_gymnax_loads_on_gymnasium_and_back(tmp_path: Path) -> None:
    settings = {"total_steps": 512, "n_envs": 4, "minibatch_size": 64}
    agent = ascent.make("ppo", env="gymnax/CartPole-v1", seed=0, **settings)
    agent.learn(progress=False)
    agent.save(tmp_path / "jax")
    host = ascent.load(tmp_path / "jax", env="CartPole-v1")
    jax.tree.map(np.testing.assert_array_equal, host.state.algo, agent.state.algo)
    assert host.env_steps == agent.env_steps
    host.learn(host.env_steps + 128, progress=False)  # and it trains on from there
    host.save(tmp_path / "host")
    back = ascent.load(tmp_path / "host", env="gymnax/CartPole-v1")
    jax.tree.map(np.testing.assert_array_equal, back.state.algo, host.state.algo)
    host.close()
