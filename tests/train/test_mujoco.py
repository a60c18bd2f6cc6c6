"""MuJoCo through the host door: a few hundred steps of HalfCheetah-v5 for TD3 and SAC
(tiny networks), so the optional extra keeps working."""

from __future__ import annotations

import numpy as np
import pytest

import ascent

pytest.importorskip("mujoco", reason="MuJoCo is an optional extra: pip install 'ascent-rl[mujoco]'")


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_halfcheetah_smoke(algo: str) -> None:
    agent = ascent.make(algo, env="HalfCheetah-v5", seed=0, hidden=(16,), buffer_size=1000,
                        learning_starts=100, minibatch_size=32, total_steps=300)  # fmt: skip
    assert agent.env.action_space.shape == (6,)
    agent.learn(progress=False, log_every=100)
    assert agent.env_steps == 300 and int(agent.state.algo.updates) == 201
    assert int(agent.state.buffer.size) == 300
    action, _ = agent.act(np.zeros(17, np.float32))
    assert action.shape == (6,) and (np.abs(action) <= 1).all()
    agent.close()
