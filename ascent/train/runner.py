"""The runner: trains an agent in chunks of iterations through a driver, and between
chunks checks that everything stayed finite, logs metrics rows, moves the progress bar
and writes checkpoints on cadence."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from ascent.errors import EnvError, TrainingError
from ascent.io import MetricsLogger, TrainingProgress
from ascent.runtime import CachedJit
from ascent.train.drivers import Driver, SyncDriver
from ascent.train.loop import LoopState, all_finite

if TYPE_CHECKING:
    from ascent.train.agent import Agent

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


class Runner:
    """Chunking, checks, logging and checkpoint cadence for one agent's training."""

    def __init__(self, driver: Driver):
        self.driver = driver
        self.host_rows = 1  # rows in the Gymnasium door's next chunk, from the last one's time
        self._state_finite = CachedJit(all_finite)

    @classmethod
    def for_agent(cls, agent: Agent) -> Runner:
        """A runner with the driver the agent's loop asks for (`make_driver`), or the
        synchronous one."""
        make_driver = getattr(agent.loop, "make_driver", None)
        if make_driver is not None:
            return cls(make_driver(agent.seed))
        return cls(SyncDriver(agent.loop, agent.seed))

    def train(self, agent: Agent, iterations_total: int, total_steps: int, progress: bool) -> None:
        """Chunks of iterations until `iterations_total`, each checked, logged and
        checkpointed on cadence; `agent.state` moves on after each good chunk."""
        logger = MetricsLogger(agent.run_dir) if agent.run_dir else None
        bar = TrainingProgress(
            total_steps,
            description=f"{agent.algo_name} {agent.env_id}",
            enabled=progress,
            start_steps=agent.env_steps,
        )
        try:
            with bar:
                last_return = None
                while agent.iterations < iterations_total:
                    n = self.chunk_length(agent, iterations_total)
                    start_iteration, start_steps = agent.iterations, agent.env_steps
                    t0 = time.perf_counter()
                    try:
                        state, metrics = self.driver.run(agent.state, n)
                    except EnvError as e:  # the environment's fault: say where training is
                        raise type(e)(f"{e}; training stopped, {agent.kept()}") from None
                    self.check_finite(agent, metrics, state, start_iteration, start_steps)
                    agent.state = state
                    seconds = time.perf_counter() - t0
                    per_row = max(seconds, 1e-9) * agent.log_every / n
                    rows = max(1, int(HOST_CHUNK_SECONDS / per_row))
                    self.host_rows = min(rows, ROWS_PER_COMPILED_CHUNK)
                    chunk_return = self.log_rows(
                        agent, logger, metrics, seconds, start_iteration, start_steps
                    )
                    last_return = last_return if chunk_return is None else chunk_return
                    bar.update(agent.env_steps, last_return)
                    if agent.run_dir and agent.iterations % agent.checkpoint_every == 0:
                        agent.checkpoint()
        finally:
            self.driver.close()  # no worker process outlives the call
            if logger:
                logger.close()

    def chunk_length(self, agent: Agent, iterations_total: int) -> int:
        """Iterations in the next call: to the next multiple of ROWS_PER_COMPILED_CHUNK
        × log_every (JAX door; so chunks fall alike in a resumed run) or of as many rows
        as take about HOST_CHUNK_SECONDS (Gymnasium door, whose results do not depend on
        where its chunks fall), never past a checkpoint or the end, nor past 2^31 - 1
        (a compiled chunk counts its iterations in int32)."""
        rows = ROWS_PER_COMPILED_CHUNK if agent.is_jax_door else self.host_rows
        i, log_every, checkpoint_every = agent.iterations, agent.log_every, agent.checkpoint_every
        return min(
            rows * log_every - i % (rows * log_every),
            checkpoint_every - i % checkpoint_every,
            iterations_total - i,
            2**31 - 1,
        )

    def log_rows(
        self,
        agent: Agent,
        logger: MetricsLogger | None,
        metrics: dict[str, np.ndarray],
        seconds: float,
        start_iteration: int,
        start_steps: int,
    ) -> float | None:
        """One metrics row per `log_every` iterations of a chunk (its seconds shared out
        by iterations); returns the last row's episode return, if any episode ended."""
        n = len(metrics["episodes"])
        per_iteration = agent.loop.steps_per_iteration
        last_return = None
        for first in range(0, n, agent.log_every):
            part = {k: v[first : first + agent.log_every] for k, v in metrics.items()}
            count = len(part["episodes"])
            agent.train_seconds += seconds * count / n
            row = summarise(part, count * per_iteration, seconds * count / n)
            last_return = row.get("episode_return", last_return)
            if logger:
                steps = start_steps + (first + count) * per_iteration
                logger.log(
                    steps,
                    {
                        "env_steps": steps,
                        "iterations": start_iteration + first + count,
                        "train_seconds": agent.train_seconds,
                        **row,
                    },
                )
        return last_return

    def check_finite(
        self,
        agent: Agent,
        metrics: dict[str, np.ndarray],
        state: LoopState,
        start_iteration: int,
        start_steps: int,
    ) -> None:
        """Stop at the first iteration of the chunk whose observations, rewards or losses
        were not finite, or if the state it ended with (parameters, optimiser) is not."""
        kept = agent.kept()
        for flag, quantity in FINITE_CHECKS.items():
            bad = np.flatnonzero(metrics[flag] < 0.5)
            if bad.size:
                i = int(bad[0])
                step = start_steps + (i + 1) * agent.loop.steps_per_iteration
                raise TrainingError(
                    f"non-finite {quantity} at iteration {start_iteration + i + 1} "
                    f"(environment step {step}); training stopped, {kept}"
                )
        if not bool(self._state_finite(state.algo)):
            end = start_iteration + len(next(iter(metrics.values())))
            raise TrainingError(
                f"non-finite parameters after iteration {end} (within iterations "
                f"{start_iteration + 1}-{end}); training stopped, {kept}"
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
