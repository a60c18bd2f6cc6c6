"""The runner: trains a loop's state in chunks of iterations through a driver, and
between chunks checks that everything stayed finite, logs metrics rows and moves the
progress bar.

The runner owns no run: it takes a state and yields each good chunk's state, and its
caller (`Agent.learn`) keeps it, counts the time and writes checkpoints. A chunk that
fails raises before its state is yielded, so the caller's last state is the last good
one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ascent.errors import TrainingError
from ascent.io import TrainingProgress
from ascent.io.loggers import Logger
from ascent.runtime import CachedJit
from ascent.train.drivers import Driver
from ascent.train.loop import Loop, LoopState, all_finite

# log rows per compiled call on the JAX door, which has a fixed cost per call
# (benchmarks/results/design_notes.md)
ROWS_PER_COMPILED_CHUNK = 10
# the Gymnasium door comes back to the runner (checks, metrics, progress bar) about this
# often, in whole rows, at most ROWS_PER_COMPILED_CHUNK: each return costs a packing of
# the state, a finiteness check and a metrics row
HOST_CHUNK_SECONDS = 0.25
FINITE_CHECKS = {
    "finite_obs": "observation",
    "finite_reward": "reward",
    "finite_loss": "loss",
}


class Cadence(NamedTuple):
    """Iterations per metrics row and between checkpoints: a run's own, kept in its
    checkpoints so that a resumed run cuts its chunks where the original did; and between
    evaluations during training (0: none), which chunks also end on."""

    log_every: int
    checkpoint_every: int
    eval_every: int = 0


class Chunk(NamedTuple):
    """What the runner yields after each good chunk."""

    state: LoopState
    train_seconds: float  # wall-clock of training so far, compiling included
    checkpoint_due: bool  # the chunk ended on a multiple of `checkpoint_every`
    eval_due: bool  # the chunk ended on a multiple of `eval_every`
    rows: list[dict[str, float]]  # its metrics rows, as logged (env_steps, iterations, ...)


class Runner:
    """Chunking, checks and logging for one loop's training."""

    def __init__(self, loop: Loop, driver: Driver):
        self.loop = loop
        self.driver = driver
        self.host_rows = 1  # rows in the Gymnasium door's next chunk, from the last one's time
        self._state_finite = CachedJit(all_finite)

    def chunks(
        self,
        state: LoopState,
        iterations_total: int,
        cadence: Cadence,
        *,
        logger: Logger | None,
        bar: TrainingProgress,
        train_seconds: float = 0.0,
    ) -> Iterator[Chunk]:
        """Chunks of iterations from `state` until `iterations_total`, each checked,
        logged (rows' `train_seconds` counting on from `train_seconds`) and shown on
        `bar` before it is yielded. EnvError from the environment and TrainingError for
        a non-finite quantity stop it; the driver is closed when it ends."""
        last_return = None
        try:
            while int(state.iteration) < iterations_total:
                n = self.chunk_length(int(state.iteration), iterations_total, cadence)
                start_iteration, start_steps = int(state.iteration), int(state.env_steps)
                t0 = time.perf_counter()
                new_state, metrics = self.driver.run(state, n)
                self.check_finite(metrics, new_state, start_iteration, start_steps)
                seconds = time.perf_counter() - t0
                per_row = max(seconds, 1e-9) * cadence.log_every / n
                rows = max(1, int(HOST_CHUNK_SECONDS / per_row))
                self.host_rows = min(rows, ROWS_PER_COMPILED_CHUNK)
                rows, train_seconds = self.log_rows(
                    logger, metrics, seconds, start_iteration, start_steps, cadence, train_seconds
                )
                last_return = next(
                    (r["episode_return"] for r in reversed(rows) if "episode_return" in r),
                    last_return,
                )
                state = new_state
                bar.update(int(state.env_steps), last_return)
                i = int(state.iteration)
                due = i % cadence.checkpoint_every == 0
                eval_due = cadence.eval_every > 0 and i % cadence.eval_every == 0
                yield Chunk(state, train_seconds, due, eval_due, rows)
        finally:
            self.driver.close()  # no worker process outlives the call

    def chunk_length(self, iteration: int, iterations_total: int, cadence: Cadence) -> int:
        """Iterations in the next call: to the next multiple of ROWS_PER_COMPILED_CHUNK
        × log_every (JAX door; so chunks fall alike in a resumed run) or of as many rows
        as take about HOST_CHUNK_SECONDS (Gymnasium door, whose results do not depend on
        where its chunks fall), never past a checkpoint, an evaluation or the end, nor past
        2^31 - 1 (a compiled chunk counts its iterations in int32)."""
        rows = ROWS_PER_COMPILED_CHUNK if self.loop.is_jax else self.host_rows
        i, (log_every, checkpoint_every, eval_every) = iteration, cadence
        return min(
            rows * log_every - i % (rows * log_every),
            checkpoint_every - i % checkpoint_every,
            eval_every - i % eval_every if eval_every else iterations_total,
            iterations_total - i,
            2**31 - 1,
        )

    def log_rows(
        self,
        logger: Logger | None,
        metrics: dict[str, np.ndarray],
        seconds: float,
        start_iteration: int,
        start_steps: int,
        cadence: Cadence,
        train_seconds: float,
    ) -> tuple[list[dict[str, float]], float]:
        """One metrics row per `log_every` iterations of a chunk (its seconds shared out
        by iterations), logged if there is a logger; returns the rows and the training
        seconds counted on to the chunk's end."""
        n = len(metrics["episodes"])
        per_iteration = self.loop.steps_per_iteration
        rows = []
        for first in range(0, n, cadence.log_every):
            part = {k: v[first : first + cadence.log_every] for k, v in metrics.items()}
            count = len(part["episodes"])
            train_seconds += seconds * count / n
            steps = start_steps + (first + count) * per_iteration
            row = {
                "env_steps": steps,
                "iterations": start_iteration + first + count,
                "train_seconds": train_seconds,
                **summarise(part, count * per_iteration, seconds * count / n),
            }
            rows.append(row)
            if logger:
                logger.log(steps, row)
        return rows, train_seconds

    def check_finite(
        self,
        metrics: dict[str, np.ndarray],
        state: LoopState,
        start_iteration: int,
        start_steps: int,
    ) -> None:
        """TrainingError at the first iteration of the chunk whose observations, rewards
        or losses were not finite, or if the state it ended with (parameters, optimiser)
        is not."""
        for flag, quantity in FINITE_CHECKS.items():
            bad = np.flatnonzero(metrics[flag] < 0.5)
            if bad.size:
                i = int(bad[0])
                step = start_steps + (i + 1) * self.loop.steps_per_iteration
                raise TrainingError(
                    f"non-finite {quantity} at iteration {start_iteration + i + 1} "
                    f"(environment step {step})"
                )
        if not bool(self._state_finite(state.algo)):
            end = start_iteration + len(next(iter(metrics.values())))
            raise TrainingError(
                f"non-finite parameters after iteration {end} (within iterations "
                f"{start_iteration + 1}-{end})"
            )


def summarise(metrics: dict[str, np.ndarray], steps: int, seconds: float) -> dict[str, float]:
    """One metrics row for a chunk: means over its iterations, episode-weighted returns."""
    row = {
        k: float(np.mean(v)) for k, v in metrics.items() if not k.startswith(("finite_", "episode"))
    }
    row.pop("episodes", None)
    episodes = float(metrics["episodes"].sum())
    if episodes > 0:  # episode_<x>_sum[/<agent>] -> episode_<x>[/<agent>], per episode
        for k, v in metrics.items():
            if k.startswith("episode_") and "_sum" in k:
                row[k.replace("_sum", "", 1)] = float(v.sum()) / episodes
    row["episodes"] = episodes
    row["steps_per_second"] = steps / max(seconds, 1e-9)
    return row
