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


def test_cutting_the_listeners_channel_zeroes_only_its_message() -> None:
    from ascent.envs import make
    from ascent.envs.multiagent import CutChannel, check_multiagent_env
    from ascent.errors import EnvError

    env = make("jaxmarl/simple_speaker_listener_v4")
    cut = CutChannel(env, "listener_0", (8, 9, 10))  # the listener's [vel 2, landmarks 6, comm 3]
    check_multiagent_env(cut)
    assert hash(cut) == hash(CutChannel(env, "listener_0", (8, 9, 10)))
    key = jax.random.PRNGKey(0)
    seen, state = env.reset(key)
    seen_cut, state_cut = cut.reset(key)
    actions = jax.numpy.array([2, 1])  # the speaker says "2": the listener hears [0, 0, 1]
    full = env.step(key, state, actions)
    after = cut.step(key, state_cut, actions)
    np.testing.assert_array_equal(full[0].obs[1, 8:], [0.0, 0.0, 1.0])
    for heard, unheard in ((seen, seen_cut), (full[0], after[0]), (full[5], after[5])):
        np.testing.assert_array_equal(unheard.obs[1, 8:], 0.0)
        np.testing.assert_array_equal(unheard.obs[1, :8], heard.obs[1, :8])
        np.testing.assert_array_equal(unheard.obs[0], heard.obs[0])  # the speaker's is kept
        np.testing.assert_array_equal(unheard.global_state, heard.global_state)
    np.testing.assert_array_equal(after[2], full[2])
    with pytest.raises(EnvError, match="no agent 'listener_9'"):
        CutChannel(env, "listener_9", (8,))
    with pytest.raises(EnvError, match="entries of the observation, 0 to 10"):
        CutChannel(env, "listener_0", (11,))
