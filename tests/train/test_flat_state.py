"""The host door keeps the on-policy state flat (`FlatTree`) through a chunk."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.runtime import FlatTree


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


def test_programs_are_named_only_for_ascents_own_algorithms_and_known_environments() -> None:
    from ascent.envs import GymnaxEnv
    from ascent.train.loop import program_source

    host = ascent.make("a2c", env="CartPole-v1", seed=0, n_envs=2, n_steps=5)
    words = program_source(host.loop)
    assert words is not None and "A2C" in words and repr(host.config) in words
    other = ascent.make("a2c", env="CartPole-v1", seed=0, n_envs=2, n_steps=5, lr=1e-3)
    assert program_source(other.loop) != words  # any config change names another program
    gymnax = ascent.make("ppo", env="gymnax/CartPole-v1", seed=0)
    assert "gymnax CartPole-v1" in (program_source(gymnax.loop) or "")
    own_task = ascent.make("ppo", env="ascent/Chain-v0", seed=0)
    assert program_source(own_task.loop) is None  # its options are not in the words

    class Elsewhere(GymnaxEnv):  # an environment whose code Ascent's digest does not cover
        pass

    gymnax.loop.env = Elsewhere("CartPole-v1")
    assert program_source(gymnax.loop) is None


def test_a_warm_start_finds_the_compiled_door_program_without_tracing(tmp_path: Path) -> None:
    """A second agent (as a new process would) loads the chunk program by its words and
    trains to the same parameters as one whose programs were found by tracing."""
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    traced: list[str] = []

    def listener(event: str, duration: float, **kw: object) -> None:
        if event == "/jax/core/compile/jaxpr_trace_duration":
            traced.append(str(kw.get("fun_name", "?")))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:

        def run() -> list[np.ndarray]:
            agent = ascent.make("ppo", env="gymnax/CartPole-v1", seed=2, n_envs=2, n_steps=16,
                                minibatch_size=32, n_epochs=1)  # fmt: skip
            agent.learn(total_steps=128, progress=False)
            return [np.asarray(x) for x in jax.tree.leaves(agent.state)]

        first = run()
        assert any(p.name.startswith("source-") for p in (tmp_path / "ascent-programs").iterdir())
        assert "_chunk" in traced  # the first run traced it (so the listener hears it)
        traced.clear()
        second = run()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
        jax.config.update("jax_compilation_cache_dir", before)
    assert not any("_chunk" in name for name in traced), traced
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
