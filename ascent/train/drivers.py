"""Drivers: what runs a loop's collect → learn iterations, chunk by chunk.

A driver's `run(state, n) -> (state, metrics {name: [n]})` runs n iterations. The
synchronous driver here runs them on the calling thread: one compiled call on the JAX
door, Python stepping the Gymnasium environments on the other. Drivers that run
workers elsewhere (threads, Ray actors) take the same place beside it; the runner
(`runner.py`) sizes the chunks and checks, logs and checkpoints between them.
"""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from ascent.train.loop import Loop, LoopState
from ascent.train.shared import SharedParams

if TYPE_CHECKING:
    from ascent.train.asynchronous import AsyncOnPolicyLoop


class Driver(Protocol):
    loop: Loop

    def run(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, np.ndarray]]: ...

    def restart_episodes(self) -> None:
        """The next chunk starts fresh episodes (the environments were used elsewhere)."""
        ...


class SyncDriver:
    """Iterations on the calling thread, through the loop's own door."""

    def __init__(self, loop: Loop, seed: int):
        self.loop = loop
        self.seed = seed
        self._obs: np.ndarray | None = None  # the Gymnasium door's next observation

    def restart_episodes(self) -> None:
        self._obs = None

    def run(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, Any]]:
        if self.loop.is_jax:
            return self.loop.run_jax_chunk(state, n)
        if self._obs is None:
            # a resumed Gymnasium-door run starts fresh episodes, seeded by the update count
            self._obs = self.loop.env.reset(seed=self.seed + int(state.iteration))  # type: ignore[call-arg]
            if state.episode_starts is not None:  # and a memory policy starts afresh
                state = state._replace(episode_starts=jnp.ones_like(state.episode_starts))
        state, metrics, self._obs = self.loop.run_host_chunk(state, n, self._obs)
        return state, metrics


class ThreadDriver:
    """Iterations made by worker threads that share the parameters (A3C;
    `asynchronous.py`): each worker reads the shared parameters, collects a rollout with
    them on its own environments, computes the gradient and applies it (`SharedParams`),
    until the chunk's `n` iterations are claimed. Compiled programs run without the
    GIL, so the workers compute in parallel. Metrics rows come in the order the
    gradients were applied, with each one's `staleness` (applies by other workers
    between its read and its apply); `staleness_counts` tallies them over the run."""

    def __init__(self, loop: AsyncOnPolicyLoop):
        self.loop = loop
        self.staleness_counts: collections.Counter[int] = collections.Counter()
        self.shared: SharedParams | None = None  # made at the first chunk, reused after

    def restart_episodes(self) -> None:
        pass  # the JAX door's environments live in the state

    def run(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, np.ndarray]]:
        loop = self.loop
        if self.shared is None:
            apply = loop.algorithm.apply  # type: ignore[attr-defined]
            self.shared = SharedParams(state.algo, apply, lock=loop.lock)
        else:
            self.shared.load(state.algo)
        shared = self.shared
        parts = loop.split(state)
        rows: list[Any] = [None] * n
        staleness = np.zeros(n, np.float32)
        claimed = [0]
        claim = threading.Lock()
        failed: list[BaseException] = []

        def worker(k: int) -> None:
            try:
                while not failed:
                    with claim:
                        if claimed[0] >= n:
                            return
                        claimed[0] += 1
                    flat, version = shared.read()
                    parts[k], grads, packed = loop.work(flat, parts[k], shared.layout)
                    made = shared.apply(grads)
                    rows[made - 1] = packed
                    staleness[made - 1] = made - 1 - version
            except BaseException as e:  # handed to the caller; the other workers stop
                failed.append(e)

        threads = [
            threading.Thread(target=worker, args=(k,), name=f"ascent-worker-{k}", daemon=True)
            for k in range(loop.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failed:
            raise failed[0]
        self.staleness_counts.update(staleness.astype(int).tolist())
        values = np.stack(jax.device_get([row.values for row in rows]))  # [n, M]
        metrics = {k: values[:, i] for i, k in enumerate(rows[0].names)}
        metrics["staleness"] = staleness
        return loop.join(state, parts, shared.state(), n), metrics
