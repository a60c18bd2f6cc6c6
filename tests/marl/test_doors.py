"""A team trained on one door acts on the other: trained compiled on JaxMARL's MPE, loaded
on mpe2's (PettingZoo, stepped from Python) with the same parameters and actions."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

import ascent

pytest.importorskip("jaxmarl")
pytest.importorskip("mpe2")

TINY = {"n_envs": 4, "n_steps": 25, "minibatch_size": 100, "n_epochs": 1, "total_steps": 200}


def test_a_team_trained_compiled_acts_the_same_on_pettingzoo(tmp_path: Path) -> None:
    agent = ascent.make("mappo", env="jaxmarl/simple_speaker_listener_v4", seed=0, **TINY)
    agent.learn(progress=False)
    agent.save(tmp_path / "team")
    on_pettingzoo = ascent.load(tmp_path / "team", env="mpe2/simple_speaker_listener_v4")
    assert not on_pettingzoo.is_jax_door
    jax.tree.map(np.testing.assert_array_equal, on_pettingzoo.state.algo, agent.state.algo)
    obs = on_pettingzoo.env.reset(seed=3)  # the PettingZoo door's AgentObs [N, A, ...]
    assert obs.global_state.shape == (4, 14)  # mpe2's state(): the same on both doors
    compiled, _ = agent.act(obs)
    stepped, _ = on_pettingzoo.act(obs)
    np.testing.assert_array_equal(compiled, stepped)
    result = on_pettingzoo.evaluate(4)
    assert set(result.agent_returns) == {"speaker_0", "listener_0"}
    assert all(np.isfinite(result.returns)) and result.lengths == [25] * 4
    on_pettingzoo.close()
