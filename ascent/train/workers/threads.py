"""Worker threads in one process: A3C's workers that each apply their own gradients
(`ThreadDriver`) and IMPALA's actors feeding one learner (`ActorLearnerDriver`).
Compiled programs run without Python's GIL, so the threads compute in parallel."""

from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Any

import jax
import numpy as np

from ascent.errors import TrainingError
from ascent.train.loop import LoopState
from ascent.train.workers.loop import AsyncOnPolicyLoop
from ascent.train.workers.shared import SharedParams

WORKER_TIMEOUT = 60.0  # seconds with no iteration finished before training stops


class ThreadDriver:
    """Iterations made by worker threads that share the parameters (A3C; `loop.py`):
    each worker reads the shared parameters, collects a rollout with
    them on its own environments, computes the gradient and applies it (`SharedParams`),
    until the chunk's `n` iterations are claimed. Compiled programs run without the
    GIL, so the workers compute in parallel. Metrics rows come in the order the
    gradients were applied, with each one's `staleness` (applies by other workers
    between its read and its apply); `staleness_counts` tallies them over the run.
    A worker's exception stops the others and is raised here; no iteration finished
    for `timeout` seconds raises TrainingError (a hung thread cannot be killed: it is
    left behind as a daemon thread, and the run's state stays as before the chunk)."""

    def __init__(self, loop: AsyncOnPolicyLoop):
        self.loop = loop
        self.staleness_counts: collections.Counter[int] = collections.Counter()
        self.shared: SharedParams | None = None  # made at the first chunk, reused after
        self.timeout = WORKER_TIMEOUT

    def restart_episodes(self) -> None:
        pass  # the JAX door's environments live in the state

    def close(self) -> None:
        pass  # its threads end with each chunk

    def run(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, np.ndarray]]:
        loop = self.loop
        if self.shared is None:
            apply = loop.algorithm.apply  # type: ignore[attr-defined]
            lock = loop.algorithm.config.lock  # A3C's: apply one gradient at a time
            self.shared = SharedParams(state.algo, apply, lock=lock)
        else:
            self.shared.load(state.algo)
        shared = self.shared
        parts = loop.split(state)
        rows: list[Any] = [None] * n
        staleness = np.zeros(n, np.float32)
        tickets = Tickets(n)
        failed: list[BaseException] = []

        def worker(k: int) -> None:
            try:
                while not failed and tickets.claim():
                    flat, version = shared.read()
                    parts[k], grads, packed = loop.work(flat, parts[k], shared.layout)
                    made = shared.apply(grads)
                    rows[made - 1] = packed
                    staleness[made - 1] = made - 1 - version
            except BaseException as e:  # handed to the caller; the other workers stop
                failed.append(e)

        threads = start_threads(worker, loop.workers)
        wait_for(threads, failed, lambda: shared.version, self.timeout)
        self.staleness_counts.update(staleness.astype(int).tolist())
        values = np.stack(jax.device_get([row.values for row in rows]))  # [n, M]
        metrics = {k: values[:, i] for i, k in enumerate(rows[0].names)}
        metrics["staleness"] = staleness
        return loop.join(state, parts, shared.state(), n), metrics


class ActorLearnerDriver:
    """Actor threads that only collect, with the parameters last published, and a
    learner (the calling thread) that updates on their rollouts in the order they come
    (IMPALA; `algos/impala.py`). A queue of `queue_size` rollouts sits between them.
    Each row's `staleness` is the number of updates between the parameters that
    collected its rollout and those it updated. Failures and hangs as `ThreadDriver`."""

    def __init__(self, loop: AsyncOnPolicyLoop):
        self.loop = loop
        self.staleness_counts: collections.Counter[int] = collections.Counter()
        self.timeout = WORKER_TIMEOUT

    def restart_episodes(self) -> None:
        pass

    def close(self) -> None:
        pass  # its threads end with each chunk

    def run(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, np.ndarray]]:
        loop = self.loop
        parts = loop.split(state)
        latest = [(state.algo, 0)]  # the learner's parameters and their version, one slot
        rollouts: queue.Queue = queue.Queue(maxsize=loop.algorithm.config.queue_size)
        tickets = Tickets(n)
        failed: list[BaseException] = []
        done = [0]

        def actor(k: int) -> None:
            try:
                while not failed and tickets.claim():
                    algo, version = latest[0]
                    parts[k], rollout, stats, key = loop.collect(algo, parts[k])
                    while not failed:  # a full queue waits for the learner
                        try:
                            rollouts.put((version, rollout, stats, key), timeout=0.1)
                            break
                        except queue.Full:
                            continue
            except BaseException as e:
                failed.append(e)

        def learner(_: int) -> None:
            try:
                algo = state.algo
                for i in range(n):
                    while not failed:
                        try:
                            version, rollout, stats, key = rollouts.get(timeout=0.1)
                            break
                        except queue.Empty:
                            continue
                    else:
                        return
                    algo, metrics = loop.update(algo, rollout, key)
                    latest[0] = (algo, i + 1)
                    rows[i] = {**metrics, **stats}
                    staleness[i] = i - version
                    done[0] = i + 1
            except BaseException as e:
                failed.append(e)

        rows: list[Any] = [None] * n
        staleness = np.zeros(n, np.float32)
        threads = [*start_threads(actor, loop.workers), *start_threads(learner, 1, "learner")]
        wait_for(threads, failed, lambda: done[0], self.timeout)
        self.staleness_counts.update(staleness.astype(int).tolist())
        fetched = jax.device_get(rows)
        metrics = {k: np.stack([row[k] for row in fetched]) for k in fetched[0]}
        metrics["staleness"] = staleness
        return loop.join(state, parts, latest[0][0], n), metrics


class Tickets:
    """`n` iterations to hand out to threads, one `claim` each."""

    def __init__(self, n: int):
        self.left = n
        self._lock = threading.Lock()

    def claim(self) -> bool:
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def start_threads(target: Any, n: int, name: str = "worker") -> list[threading.Thread]:
    threads = [
        threading.Thread(target=target, args=(k,), name=f"ascent-{name}-{k}", daemon=True)
        for k in range(n)
    ]
    for t in threads:
        t.start()
    return threads


def wait_for(
    threads: list[threading.Thread],
    failed: list[BaseException],
    progress: Any,
    timeout: float,
) -> None:
    """Join `threads`; raise the first failure, or TrainingError when `progress()` has
    not moved for `timeout` seconds (the threads are then told to stop). An exception
    raised in this thread while it waits (a signal's Interrupted) stops them too."""
    last, since = progress(), time.monotonic()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.05)
                now = progress()
                if now != last:
                    last, since = now, time.monotonic()
                elif time.monotonic() - since > timeout and not failed:
                    failed.append(
                        TrainingError(
                            f"no training iteration finished in {timeout:g} s: a worker "
                            "thread hangs (its environment or program)"
                        )
                    )
                if failed:
                    break
            if failed:
                break
    except BaseException as e:
        failed.insert(0, e)
    if failed:
        for t in threads:
            t.join(1.0)  # the others stop at their next check; a hung one stays behind
        raise failed[0]
