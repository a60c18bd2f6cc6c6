"""The host door keeps the on-policy state flat (`FlatTree`) through a chunk."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.train.loop import FlatTree


def _tree() -> dict:
    return {
        "w": jnp.arange(6, dtype=jnp.float32).reshape(2, 3) / 7,
        "count": jnp.int32(2**30 + 1),  # exact only if ints stay ints
        "key": jax.random.PRNGKey(3),
        "pair": (jnp.float32(-0.0), jnp.array([True, False])),
        "nan": jnp.array([jnp.nan, jnp.inf], jnp.float32),
    }


def test_pack_unpack_round_trips_bit_for_bit_with_one_array_per_dtype() -> None:
    tree = _tree()
    layout = FlatTree(tree)
    flat = jax.jit(layout.pack)(tree)
    assert sorted(str(x.dtype) for x in flat) == ["bool", "float32", "int32", "uint32"]
    assert sum(x.size for x in flat) == sum(x.size for x in jax.tree.leaves(tree))
    back = jax.jit(layout.unpack)(flat)
    assert jax.tree.structure(back) == jax.tree.structure(tree)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(tree), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_layouts_compare_by_structure_shapes_and_dtypes() -> None:
    tree = _tree()
    assert FlatTree(tree) == FlatTree(jax.tree.map(jnp.zeros_like, tree))
    assert FlatTree(tree) != FlatTree({**tree, "w": tree["w"].astype(jnp.float16)})
    assert FlatTree(tree) != FlatTree({**tree, "w": tree["w"].T})


def test_host_door_chunks_repeat_the_same_run_however_they_fall() -> None:
    """Entering and leaving the flat form at every row, or at every second row, gives
    the same parameters: nothing is lost or reordered on the way in and out."""

    def final(log_every: int) -> list[np.ndarray]:
        agent = ascent.make("a2c", env="CartPole-v1", seed=4, n_envs=2, n_steps=5)
        agent.learn(total_steps=200, log_every=log_every, progress=False)
        assert agent.env_steps == 200
        return [np.asarray(x) for x in jax.tree.leaves(agent.state)]

    for a, b in zip(final(1), final(2), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_changed_state_structure_is_refused() -> None:
    agent = ascent.make("a2c", env="CartPole-v1", seed=0, n_envs=2, n_steps=5)
    learn = agent.loop._learn
    learn.enter(agent.state)
    with pytest.raises(ValueError, match="structure"):
        learn.enter(agent.state._replace(iteration=jnp.float32(0)))
