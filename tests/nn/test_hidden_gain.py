"""`hidden_gain`: the hidden layers' orthogonal initial weights scaled by it, and nothing
else, in every on-policy algorithm's networks (single-agent and team, with and without a
memory core)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

import ascent

TEAM = "ascent/Climbing-v0"
CASES = [
    ("ppo", "CartPole-v1", {}),
    ("trpo", "CartPole-v1", {}),
    ("actor-critic", "CartPole-v1", {"critic": "q"}),
    ("mappo", TEAM, {"hidden": [8], "core": {"kind": "gru", "embed_dim": 8, "input_dim": 8}}),
    ("coma", TEAM, {"hidden": [8]}),
    ("vdn", TEAM, {"hidden": [8]}),
    ("maddpg", TEAM, {"hidden": [8]}),
]


def _leaves(agent: Any) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_leaves_with_path(agent.state.algo.params)
    return {jax.tree_util.keystr(path): np.asarray(x) for path, x in leaves}


@pytest.mark.parametrize(("algo", "env", "settings"), CASES, ids=[c[0] for c in CASES])
def test_hidden_gain_scales_the_hidden_layers_initial_weights_alone(
    algo: str, env: str, settings: dict[str, Any]
) -> None:
    default = _leaves(ascent.make(algo, env=env, seed=0, **settings))
    doubled = _leaves(ascent.make(algo, env=env, seed=0, hidden_gain=2.0, **settings))
    assert default.keys() == doubled.keys()
    hidden = [k for k in default if "MLP_" in k and k.endswith("['kernel']")]
    assert hidden, "no hidden layer found"
    for key, before in default.items():
        if key in hidden:  # orthogonal(gain): gain times the same orthogonal matrix
            np.testing.assert_allclose(doubled[key], before * 2.0 / 2.0**0.5, rtol=1e-6)
        else:  # heads (0.01, 1), biases, a core's and its input layer's weights
            np.testing.assert_array_equal(doubled[key], before, err_msg=key)
