"""The runtime's process-wide state with several threads, and pickling for workers."""

from __future__ import annotations

import gc
import pickle
import threading

import jax
import jax.numpy as jnp
import numpy as np

from ascent.runtime import CachedJit, compile_counts, paused_gc


def scaled(x: jax.Array) -> jax.Array:
    return jnp.sin(x) * 3.0 + 0.25


def test_the_collector_stays_off_until_the_last_thread_leaves() -> None:
    inside, release = threading.Event(), threading.Event()

    def worker() -> None:
        with paused_gc():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=worker)
    with paused_gc():  # this thread first, then the worker, then this thread leaves
        thread.start()
        assert inside.wait(10)
    on_while_worker_traces = gc.isenabled()
    release.set()
    thread.join(10)
    assert not on_while_worker_traces
    assert gc.isenabled()


def test_compile_counts_are_the_calling_threads() -> None:
    before = compile_counts()
    counts = {}

    def worker() -> None:
        start = compile_counts()
        jax.jit(lambda x: x * 7.0 - 1.5).lower(jnp.ones(3)).compile()
        counts["worker"] = tuple(b - a for a, b in zip(start, compile_counts(), strict=True))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    assert counts["worker"][0] >= 1  # the worker's compilation counted in the worker
    assert compile_counts() == before  # and not in this thread


def test_threads_calling_one_new_program_at_once_all_get_its_result() -> None:
    program = CachedJit(scaled)
    x = jnp.arange(4.0)
    results: list[np.ndarray] = []
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait(10)
        results.append(np.asarray(program(x)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    expected = np.sin(np.arange(4.0)) * 3.0 + 0.25
    assert len(results) == 4
    for r in results:
        np.testing.assert_allclose(r, expected, rtol=1e-6)


def test_a_compiled_function_pickles_as_its_function_and_options() -> None:
    program = CachedJit(scaled, donate_argnums=0)
    program(jnp.ones(2))  # compiled here; the copy compiles (or finds) its own
    copy = pickle.loads(pickle.dumps(program))
    assert copy.fn is scaled and copy.jit_options == {"donate_argnums": 0}
    np.testing.assert_allclose(np.asarray(copy(jnp.zeros(2))), [0.25, 0.25], rtol=1e-6)
