"""examples/: the one-page PPO is the library's loop written out, bit for bit."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import numpy as np

import ascent

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# small shapes; total_steps sets the schedules' length (5 iterations), the runs stop at 3
SMALL = {"total_steps": 320, "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}


def load_example(name: str) -> ModuleType:
    """An example by file name (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ppo_one_page_matches_the_library_loop() -> None:
    example = load_example("ppo_one_page")
    config = dataclasses.replace(example.CONFIG, **SMALL)
    state, metrics = example.train(config, seed=3, iterations=3)

    agent = ascent.make("ppo", env=example.ENV, seed=3, **SMALL)
    assert agent.config == config  # the preset's settings are the example's
    agent.learn(total_steps=3 * config.batch_size, progress=False)

    assert int(state.iteration) == agent.iterations == 3
    assert metrics["episodes"].shape == (3,) and metrics["episodes"].sum() > 0
    ours = jax.tree_util.tree_flatten_with_path(state)[0]
    theirs = jax.tree.leaves(agent.state)  # params, optimiser, key, envs, counters, ...
    assert len(ours) == len(theirs)
    # The two are programs compiled apart: with XLA's default flags they agree bit for
    # bit; the default tests compile with LLVM's optimisations off (ascent/_xla.py),
    # where their float rounding may differ (seen: 7e-10 in a bias after 3 iterations).
    # Keys, counters and whatever is not a float must agree exactly.
    for (path, x), y in zip(ours, theirs, strict=True):
        where = jax.tree_util.keystr(path)
        assert np.shape(x) == np.shape(y) and np.asarray(x).dtype == np.asarray(y).dtype, where
        if np.issubdtype(np.asarray(x).dtype, np.floating):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7, err_msg=where)
        else:
            np.testing.assert_array_equal(x, y, err_msg=where, strict=True)


def test_ppo_one_page_advantages_are_the_updates() -> None:
    example = load_example("ppo_one_page")
    config = dataclasses.replace(example.CONFIG, **SMALL)
    env, ppo, policy = example.pieces(config)
    state = example.init_loop_state(ppo, env, config.n_envs, 0, is_jax=True)
    collector = example.RolloutCollector(env, policy, config.n_envs)
    _, act_keys, env_keys, _ = example.split_iteration_key(state.key, config.n_steps)

    @jax.jit
    def both(state: Any) -> tuple[jax.Array, jax.Array]:
        _, rollout = collector.collect(state, act_keys, env_keys)
        _, batch, _ = ppo.minibatch_units(state.algo, rollout)  # inside PPO.update
        return example.advantages(ppo, state.algo, rollout), batch["advantages"]

    ours, updates = both(state)
    assert ours.shape == (config.n_steps, config.n_envs)
    np.testing.assert_array_equal(ours.reshape(-1), updates, strict=True)
