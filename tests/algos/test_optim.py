"""The optimiser's gradient clipping (`algos/optim.py`): one norm over every parameter,
or (`clip_per_network`) the policy's and the value network's each on its own."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ascent
from ascent.algos.optim import clip_each_network, network_of
from ascent.errors import ConfigError


def grads() -> dict:
    """A team net's gradient tree: the policy side (actor, its core, a message encoder)
    large, the value side (critic, its core) small."""
    k = jax.random.split(jax.random.PRNGKey(0), 5)
    return {"params": {
        "actor": {"kernel": 3.0 * jax.random.normal(k[0], (4, 3))},
        "actor_core": {"h": 2.0 * jax.random.normal(k[1], (3,))},
        "encoder": {"kernel": jax.random.normal(k[2], (2, 2))},
        "critic": {"kernel": 0.01 * jax.random.normal(k[3], (4, 1))},
        "critic_core": {"h": 0.01 * jax.random.normal(k[4], (3,))},
    }}  # fmt: skip


def test_each_network_is_clipped_to_the_norm_on_its_own() -> None:
    g = grads()
    clipped, _ = clip_each_network(1.0).update(g, optax.EmptyState())
    sides = {"policy": ("actor", "actor_core", "encoder"), "value": ("critic", "critic_core")}
    for names in sides.values():  # by hand: optax's joint clipping on that side alone
        part = {n: g["params"][n] for n in names}
        expected, _ = optax.clip_by_global_norm(1.0).update(part, optax.EmptyState())
        for n in names:
            for a, b in zip(jax.tree.leaves(clipped["params"][n]), jax.tree.leaves(expected[n]),
                            strict=True):  # fmt: skip
                np.testing.assert_allclose(a, b, rtol=1e-6)
    norm = {s: float(optax.tree.norm([clipped["params"][n] for n in names]))
            for s, names in sides.items()}  # fmt: skip
    assert norm["policy"] == pytest.approx(1.0, rel=1e-5)  # was larger: clipped to 1
    assert norm["value"] < 0.1  # was small: left as it was, not shrunk by the policy's
    joint, _ = optax.clip_by_global_norm(1.0).update(g, optax.EmptyState())
    assert float(jnp.abs(joint["params"]["critic"]["kernel"]).max()) < float(
        jnp.abs(clipped["params"]["critic"]["kernel"]).max()
    )  # the joint norm would have shrunk the critic's step


def test_network_of_names_the_value_side_by_its_critic_modules() -> None:
    paths = jax.tree_util.tree_flatten_with_path(grads())[0]
    sides = {str(p[1].key): network_of(p) for p, _ in paths}
    assert sides == {"actor": "policy", "actor_core": "policy", "encoder": "policy",
                     "critic": "value", "critic_core": "value"}  # fmt: skip


def test_ppo_takes_clipping_per_network_and_refuses_it_with_one_trunk() -> None:
    small = {"n_envs": 2, "n_steps": 8, "minibatch_size": 8, "hidden": (8,), "total_steps": 32}
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=0, clip_per_network=True, **small)
    before = jax.tree.leaves(agent.state.algo.params)
    agent.learn(progress=False)
    after = jax.tree.leaves(agent.state.algo.params)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    # and it is what the optimiser does: with a norm every step clips, the same run with
    # one joint norm ends elsewhere (the two networks' scales differ from step to step)
    runs = [ascent.make("ppo", env="ascent/Chain-v0", seed=0, clip_per_network=each,
                        max_grad_norm=1e-3, **small) for each in (True, False)]  # fmt: skip
    for run in runs:
        run.learn(progress=False)
    assert any(not np.allclose(a, b) for a, b in zip(
        *(jax.tree.leaves(r.state.algo.params) for r in runs), strict=True))  # fmt: skip
    with pytest.raises(ConfigError, match="clip_per_network needs two networks"):
        ascent.make("ppo", env="ascent/Chain-v0", clip_per_network=True, shared_trunk=True)
