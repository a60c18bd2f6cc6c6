"""`update` is `apply ∘ grads`, bit for bit: the seam asynchronous learners (A3C) use,
computing a gradient with one copy of the parameters and applying it to another."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

import ascent
from ascent.train.loop import split_iteration_key

SETTINGS = {"n_envs": 4, "n_steps": 16, "hidden": (16,), "total_steps": 4096}
CASES = [
    pytest.param("a2c", {}, id="a2c"),
    pytest.param("a2c", {"core.kind": "gru", "core.embed_dim": 8}, id="a2c-gru"),
    pytest.param("reinforce", {"n_steps": 32}, id="reinforce-learned"),
    pytest.param("reinforce", {"n_steps": 32, "baseline": "mean"}, id="reinforce-mean"),
    # one epoch of one minibatch: update's single gradient step on the whole rollout
    pytest.param("ppo", {"n_epochs": 1, "minibatch_size": 64}, id="ppo"),
]


def rollout_of(agent: Any) -> Any:
    """A rollout collected by the agent's own (JAX-door) loop."""
    state = agent.state
    _, act_keys, env_keys, _ = split_iteration_key(state.key, agent.loop.n_steps)
    return agent.loop.collect_jax(state, act_keys, env_keys)[1]


def same_bits(a: Any, b: Any) -> bool:
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(leaves_a) == len(leaves_b) and all(
        np.asarray(x).tobytes() == np.asarray(y).tobytes()
        for x, y in zip(leaves_a, leaves_b, strict=True)
    )


@pytest.mark.parametrize(("algo", "extra"), CASES)
def test_update_is_apply_of_grads(algo: str, extra: dict[str, Any]) -> None:
    agent = ascent.make(algo, env="ascent/Chain-v0", seed=3, **{**SETTINGS, **extra})
    algorithm, state = agent.algorithm, agent.state.algo
    rollout = rollout_of(agent)
    key = jax.random.PRNGKey(7)
    updated, metrics = jax.jit(algorithm.update)(state, rollout, key)

    @jax.jit
    def two_steps(state: Any, rollout: Any, key: jax.Array) -> tuple[Any, dict]:
        if algo != "ppo":
            grads, stats = algorithm.grads(state, rollout, key)
            return algorithm.apply(state, grads), stats
        # PPO's minibatches are drawn from the units the update prepares; its steps run
        # inside a scan, and so does this one (XLA fuses a scan's body apart from the
        # code around it, which moves the sums' rounding by ~1e-10 otherwise)
        _, units, _ = algorithm.minibatch_units(state, rollout)

        def step(state: Any, _: None) -> tuple[Any, dict]:
            grads, stats = algorithm.grads(state, units, key)
            return algorithm.apply(state, grads), stats

        applied, stats = jax.lax.scan(step, state, None, length=1)
        return applied, jax.tree.map(lambda x: x[0], stats)

    applied, stats = two_steps(state, rollout, key)
    assert not same_bits(updated.params, state.params)  # the step moved the parameters
    assert same_bits(updated.params, applied.params)
    assert same_bits(updated.opt_state, applied.opt_state)
    for name in ("loss", "policy_loss", "value_loss", "entropy"):
        assert np.asarray(metrics[name]).tobytes() == np.asarray(stats[name]).tobytes(), name
