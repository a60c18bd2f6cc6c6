"""Drivers: what runs a loop's collect → learn iterations, chunk by chunk.

A driver's `run(state, n) -> (state, metrics {name: [n]})` runs n iterations. The
synchronous driver here runs them on the calling thread: one compiled call on the JAX
door, Python stepping the Gymnasium environments on the other. Drivers that run
workers elsewhere (threads, Ray actors) live in `workers/`, whose `driver_for` picks
the driver of a loop; the runner (`runner.py`) sizes the chunks and checks and logs
between them.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax.numpy as jnp
import numpy as np

from ascent.train.loop import Loop, LoopState


class Driver(Protocol):
    loop: Loop

    def run(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, np.ndarray]]: ...

    def restart_episodes(self) -> None:
        """The next chunk starts fresh episodes (the environments were used elsewhere)."""
        ...

    def close(self) -> None:
        """Stop whatever the driver started (threads end with each chunk; Ray actors)."""
        ...


class SyncDriver:
    """Iterations on the calling thread, through the loop's own door."""

    def __init__(self, loop: Loop, seed: int):
        self.loop = loop
        self.seed = seed
        self._obs: np.ndarray | None = None  # the Gymnasium door's next observation

    def restart_episodes(self) -> None:
        self._obs = None

    def close(self) -> None:
        pass

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
