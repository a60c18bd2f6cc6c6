"""`CompiledChunks`: many iterations of a pure step function in one compiled call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ascent.runtime.program_cache import CachedJit


class CompiledChunks:
    """Chunks of a JAX-door loop's iterations, each one compiled call.

    One program serves every chunk of up to `length` iterations: the number to run is an
    argument (a `fori_loop` with a traced bound), so a run's shorter last chunk reuses the
    program instead of compiling its own. A longer chunk than any before compiles a
    longer program. Metrics come back stacked, `{name: [n]}`.
    """

    def __init__(
        self,
        iterate: Callable[[Any], tuple[Any, dict[str, jax.Array]]],
        source: Callable[[], str | None] | None = None,
    ):
        # jitted so that the loop body reuses the trace that finds the metrics' shapes
        self.iterate = jax.jit(iterate)
        self.source = source  # words naming the loop (program_source), if it has them
        self.length = 0
        self._program: Callable | None = None

    def _source(self) -> str | None:
        words = self.source() if self.source is not None else None
        return None if words is None else f"{words}\0chunks of {self.length}"

    def __call__(self, state: Any, n: int) -> tuple[Any, dict[str, np.ndarray]]:
        if n > self.length:
            self.length = n
            self._program = CachedJit(self._chunk, source=self._source)
        assert self._program is not None
        state, rows = self._program(state, jnp.int32(n))
        return state, {k: v[:n] for k, v in jax.device_get(rows).items()}

    def _chunk(self, state: Any, n: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        shapes = jax.eval_shape(self.iterate, state)[1]
        rows = {k: jnp.zeros((self.length, *v.shape), v.dtype) for k, v in shapes.items()}

        def one(i: jax.Array, carry: tuple) -> tuple:
            state, rows = carry
            state, metrics = self.iterate(state)
            return state, {k: rows[k].at[i].set(metrics[k]) for k in rows}

        return jax.lax.fori_loop(0, n, one, (state, rows))
