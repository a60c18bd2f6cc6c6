"""The Python front door: make → learn → evaluate → save → load → act."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

import ascent
from ascent.train.evaluate import EvalResult

# the same shapes as the CLI tests' tiny run, so compiled programs are shared
CHAIN = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}


def test_make_learn_evaluate_save_load_act(tmp_path: Path) -> None:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, total_steps=2048, **CHAIN)
    assert isinstance(agent, ascent.Agent)
    assert agent.env_steps == 0 and agent.iterations == 0
    before = agent.state.algo.params

    assert agent.learn(total_steps=4 * 64, progress=False) is agent
    assert agent.env_steps == 4 * 64 and agent.iterations == 4
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(
            jax.tree.leaves(before), jax.tree.leaves(agent.state.algo.params), strict=True
        )
    )

    result = agent.evaluate(episodes=3)
    assert isinstance(result, EvalResult)
    assert len(result.returns) == len(result.lengths) == 3
    assert result.mean_return == np.mean(result.returns)
    assert all(-0.33 <= r <= 0.94 + 1e-6 for r in result.returns)  # Chain's range of returns

    path = agent.save(tmp_path / "ppo-chain")
    loaded = ascent.load(path)
    assert (loaded.algo_name, loaded.env_id, loaded.seed) == ("ppo", "ascent/Chain-v0", 3)
    assert loaded.config == agent.config
    assert loaded.env_steps == agent.env_steps and loaded.iterations == agent.iterations
    for x, y in zip(jax.tree.leaves(agent.state), jax.tree.leaves(loaded.state), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)

    obs = np.eye(8, dtype=np.float32)  # every cell of the chain
    actions, state = agent.act(obs, deterministic=True)
    assert actions.shape == (8,) and state is None
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True)[0], actions)
    assert loaded.evaluate(episodes=3).returns == result.returns

    # one observation in, one action out; the recurrent state passes through
    memory = object()
    action, state_out = loaded.act(obs[0], state=memory)
    assert np.shape(action) == () and state_out is memory
    assert action == actions[0] and loaded.env.action_space.contains(int(action))


def test_learn_continues_where_it_stopped() -> None:
    """learn(total_steps) is a target, not an increment: learning twice to the same
    total equals learning once."""
    once = ascent.make("ppo", env="ascent/Chain-v0", seed=3, total_steps=2048, **CHAIN)
    once.learn(total_steps=4 * 64, progress=False)
    twice = ascent.make("ppo", env="ascent/Chain-v0", seed=3, total_steps=2048, **CHAIN)
    twice.learn(total_steps=2 * 64, progress=False).learn(total_steps=4 * 64, progress=False)
    assert twice.iterations == 4
    for x, y in zip(jax.tree.leaves(once.state), jax.tree.leaves(twice.state), strict=True):
        assert np.array_equal(x, y)


def test_an_algorithm_rejects_spaces_it_cannot_handle_in_one_line() -> None:
    from ascent.errors import EnvError

    # DDPG's actions are a Box's; CartPole's are Discrete(2) (issue 28 let every algorithm
    # take FrozenLake's Discrete observations, which this case used to be)
    with pytest.raises(EnvError) as info:
        ascent.make("ddpg", env="CartPole-v1")
    message = str(info.value)
    assert "ddpg" in message and "Discrete(2)" in message and "\n" not in message
