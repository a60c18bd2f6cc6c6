"""Observation and reward normalisation in the loop: used for acting, frozen in
evaluation, saved and restored with the state."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import ascent
from ascent.core.normalize import normalize

TINY = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}


def test_statistics_move_and_survive_save_and_load(tmp_path: Path) -> None:
    agent = ascent.make(
        "ppo", env="gymnax/Pendulum-v1", seed=1, normalize_obs=True, normalize_reward=True, **TINY
    )
    agent.learn(total_steps=4 * 64, progress=False)
    norm = agent.state.norm
    # 4 rollouts of 64 observations (plus the prior count) went into the statistics
    assert abs(float(norm.obs.count) - 256) < 1e-2
    assert float(norm.ret.var) != 1.0 and not np.allclose(norm.obs.mean, 0.0)
    agent.save(tmp_path / "agent")
    loaded = ascent.load(tmp_path / "agent")
    for x, y in zip(jax.tree.leaves(norm), jax.tree.leaves(loaded.state.norm), strict=True):
        assert np.asarray(x).dtype == np.asarray(y).dtype and np.array_equal(x, y)
    # evaluation leaves them alone
    before = jax.tree.leaves(agent.state.norm)
    agent.evaluate(episodes=2)
    assert all(
        np.array_equal(a, b) for a, b in zip(before, jax.tree.leaves(agent.state.norm), strict=True)
    )


def test_the_policy_sees_normalised_observations() -> None:
    agent = ascent.make("ppo", env="gymnax/Pendulum-v1", seed=2, normalize_obs=True, **TINY)
    agent.learn(total_steps=2 * 64, progress=False)
    obs = np.array([[0.5, -0.5, 3.0]], np.float32)
    action, _ = agent.act(obs, deterministic=True)
    state = agent.state
    expected, _ = agent.algorithm.act(
        state.algo, normalize(state.norm.obs, jnp.asarray(obs)), jax.random.PRNGKey(0), True
    )
    raw, _ = agent.algorithm.act(state.algo, jnp.asarray(obs), jax.random.PRNGKey(0), True)
    np.testing.assert_allclose(action, np.clip(expected, -2.0, 2.0), rtol=1e-6)
    assert not np.allclose(expected, raw)  # normalising really changed what the policy saw
