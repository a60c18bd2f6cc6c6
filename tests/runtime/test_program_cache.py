"""Executables kept on disk by their jaxpr (ascent.runtime.program_cache)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.runtime import program_cache
from ascent.runtime.program_cache import CachedJit, compile_program, program_folder

# A constant of this session's own, so that no earlier session's JAX cache holds these
# programs (an executable read back from a cache is not kept; these tests want XLA's).
SHIFT = float(np.random.default_rng().integers(1, 2**20))


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """JAX's cache folder pointed at a fresh directory for the test, JAX's own cache
    writing nothing; yields the programs' folder."""
    before = (
        jax.config.jax_compilation_cache_dir,
        jax.config.jax_persistent_cache_min_compile_time_secs,
    )
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1e9)
    yield tmp_path / program_cache.FOLDER
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


def affine(w: jax.Array, x: jax.Array) -> jax.Array:
    return jnp.tanh(x @ w) + SHIFT


def test_without_a_cache_folder_it_is_plain_jit(tmp_path: Path) -> None:
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        assert program_folder() is None
        jitted = jax.jit(affine)
        assert compile_program(jitted, (jnp.ones((2, 2)), jnp.ones(2))) is jitted
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def test_a_saved_program_is_loaded_and_computes_the_same(folder: Path) -> None:
    w, x = jnp.arange(6.0).reshape(2, 3) / 7, jnp.array([0.5, -1.0])
    first = CachedJit(affine)
    expected = np.asarray(first(w, x))
    saved = sorted(folder.iterdir())
    assert len(saved) == 1 and saved[0].name.startswith("affine-")
    stamp = saved[0].stat().st_mtime_ns

    second = CachedJit(affine)  # a new process would do this: trace, hash, load
    np.testing.assert_array_equal(np.asarray(second(w, x)), expected)
    assert sorted(folder.iterdir()) == saved and saved[0].stat().st_mtime_ns == stamp
    np.testing.assert_allclose(expected, np.tanh(np.asarray(x) @ np.asarray(w)) + SHIFT, rtol=1e-6)


def test_the_key_follows_the_program_its_types_and_its_constants(folder: Path) -> None:
    w, x = jnp.ones((2, 3)), jnp.ones(2)

    def key_of(fn, *args) -> str | None:  # noqa: ANN001
        return program_cache.program_key(jax.jit(fn).trace(*args))

    base = key_of(affine, w, x)
    assert base == key_of(affine, w, x)
    assert base != key_of(lambda w, x: jnp.tanh(x @ w) + SHIFT + 1, w, x)  # another literal
    assert base != key_of(affine, w.astype(jnp.bfloat16), x)  # another dtype
    assert base != key_of(affine, jnp.ones((2, 4)), x)  # another shape
    table_a, table_b = np.arange(3.0), np.arange(3.0)[::-1].copy()
    key_a = key_of(lambda x: x + jnp.asarray(table_a) * 1e9, jnp.ones(3))
    key_b = key_of(lambda x: x + jnp.asarray(table_b) * 1e9, jnp.ones(3))
    assert key_a is None or key_a != key_b  # closed-over values count, or it is not kept


def test_new_argument_shapes_get_their_own_program(folder: Path) -> None:
    cached = CachedJit(affine)  # shapes no other test compiles: XLA compiles both
    small = cached(jnp.ones((3, 5)), jnp.ones(3))
    large = cached(jnp.ones((4, 6)), jnp.ones(4))  # the first program refuses these
    assert small.shape == (5,) and large.shape == (6,)
    np.testing.assert_allclose(np.asarray(large), np.tanh(4.0) + SHIFT, rtol=1e-6)
    assert len(list(folder.iterdir())) == 2


def test_host_callbacks_are_compiled_not_kept(folder: Path) -> None:
    def noisy(x: jax.Array) -> jax.Array:
        jax.debug.callback(lambda v: None, x)
        return x * 2 + SHIFT - SHIFT

    assert np.asarray(CachedJit(noisy)(jnp.ones(2))).tolist() == [2.0, 2.0]
    assert not folder.exists() or not list(folder.iterdir())


def test_an_unreadable_file_is_compiled_again_and_replaced(folder: Path) -> None:
    w, x = jnp.ones((2, 7)), jnp.ones(2)
    CachedJit(affine)(w, x)
    (path,) = folder.iterdir()
    path.write_bytes(b"not an executable")
    jax.clear_caches()  # as in a new process: nothing compiled in memory
    np.testing.assert_allclose(np.asarray(CachedJit(affine)(w, x)), np.tanh(2.0) + SHIFT, rtol=1e-6)
    assert path.read_bytes() != b"not an executable"


def test_donated_arguments_stay_donated(folder: Path) -> None:
    def step(state: jax.Array, x: jax.Array) -> jax.Array:
        return state + x + (SHIFT - SHIFT)

    for _ in range(2):  # compiled and saved, then loaded
        cached = CachedJit(step, donate_argnums=0)
        state = jnp.zeros(3)
        out = cached(state, jnp.ones(3))
        assert state.is_deleted() and np.asarray(out).tolist() == [1.0, 1.0, 1.0]


def test_the_collector_is_paused_inside_and_restored_after() -> None:
    import gc

    from ascent.runtime.program_cache import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
    with pytest.raises(ValueError), paused_gc():
        raise ValueError("a failed trace")
    assert gc.isenabled()


def test_an_executable_read_back_from_jax_cache_is_not_kept(folder: Path) -> None:
    """Serialized again, an executable JAX read from its own cache loads but fails to
    run (jax 0.10.2, CPU): only executables XLA compiled in the call are kept."""
    before = jax.config.jax_persistent_cache_min_compile_time_secs
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    try:

        def g(x: jax.Array) -> jax.Array:
            return jnp.sin(x) * 3.25 + jnp.cos(x) ** 2

        x = jnp.linspace(0.0, 1.0, 7)
        expected = np.sin(np.asarray(x)) * 3.25 + np.cos(np.asarray(x)) ** 2
        jax.jit(g)(x)  # compiled (or read), and in JAX's cache now
        jax.clear_caches()
        np.testing.assert_allclose(np.asarray(CachedJit(g)(x)), expected, rtol=1e-6)
        assert not folder.exists() or not list(folder.iterdir())
    finally:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", before)


# --- programs named in words (source keys) -------------------------------------------


def _traces() -> tuple[list[int], object]:
    """A counter of JAX's trace events (appended while the returned listener is live)."""
    count = [0]

    def listener(event: str, duration: float, **_: object) -> None:
        if event == "/jax/core/compile/jaxpr_trace_duration":
            count[0] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    return count, listener


def test_a_program_named_in_words_is_loaded_without_tracing(folder: Path) -> None:
    w, x = jnp.arange(6.0).reshape(2, 3) / 7, jnp.array([0.5, -1.0])
    words = lambda: f"affine, shift {SHIFT}"  # noqa: E731
    expected = np.asarray(CachedJit(affine, source=words)(w, x))
    named = sorted(p.name for p in folder.iterdir() if p.name.startswith("source-"))
    assert len(named) == 1

    traces, listener = _traces()
    try:
        again = CachedJit(affine, source=words)  # as a new process would: no trace
        np.testing.assert_array_equal(np.asarray(again(w, x)), expected)
        assert traces[0] == 0
        # other argument shapes are another program: traced, and named apart
        CachedJit(affine, source=words)(jnp.ones((2, 2)), x)
        assert traces[0] > 0
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert len([p for p in folder.iterdir() if p.name.startswith("source-")]) == 2


def test_source_keys_follow_the_words_the_function_and_the_argument_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = program_cache.source_key
    args = (jnp.ones((2, 3)), jnp.ones(2))
    base = key(affine, "a", args)
    assert base is not None and base == key(affine, "a", args)
    assert key(affine, "b", args) != base
    assert key(jnp.tanh, "a", args) != base
    assert key(affine, "a", (jnp.ones((2, 3)), jnp.ones(2, jnp.int32))) != base
    assert key(affine, "a", (jnp.ones((3, 3)), jnp.ones(3))) != base
    assert key(lambda w, x: x, "a", args) is None  # a lambda's name does not say which
    monkeypatch.setenv("ASCENT_SOURCE_KEYS", "0")
    assert key(affine, "a", args) is None


def test_a_change_to_ascents_source_changes_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    args = (jnp.ones((2, 3)), jnp.ones(2))
    base = program_cache.source_key(affine, "a", args)
    monkeypatch.setattr(program_cache, "ascent_source_digest", lambda: "edited")
    assert program_cache.source_key(affine, "a", args) != base
