"""`LeanJit`: a compiled function called many times with the same leading arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ascent.runtime.program_cache import CachedJit, paused_gc


class LeanJit:
    """`jax.jit(fn)` for a function called many times with the same leading arguments
    (a policy acting at every environment step with the same parameters).

    Each call of a jitted function flattens and checks every leaf of its arguments (a
    cost per leaf: benchmarks/results/design_notes.md), and acting reads a policy's
    parameters but not the optimiser's moments or the replay buffer. `bind(*fixed)`
    keeps, of the fixed arguments' leaves, those that `fn` reads (found once per
    argument structure from its jaxpr) and returns `call(*rest)`; the other leaves enter
    the compiled function as constants of their shape, which XLA drops. Keyword
    arguments are static.

    """

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self._programs: dict[Any, tuple[list[bool], Callable]] = {}

    def bind(self, *fixed: Any) -> Callable[..., Any]:
        leaves, treedef = jax.tree.flatten(fixed)
        # per set of static arguments: the program and the leaves it reads, found at the
        # first call, so that later calls (one per environment step) only run it
        ready: dict[tuple, tuple[Callable, list]] = {}

        def call(*rest: Any, **static: Any) -> Any:
            options = tuple(sorted(static.items()))
            if options not in ready:
                key = (treedef, options)
                if key not in self._programs:
                    self._programs[key] = self._compile(treedef, leaves, rest, static)
                used, program = self._programs[key]
                ready[options] = program, [x for x, u in zip(leaves, used, strict=True) if u]
            program, kept = ready[options]
            return program(kept, *rest)

        return call

    def _compile(self, treedef: Any, leaves: list, rest: tuple, static: dict) -> tuple:
        shapes = [jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)) for x in leaves]

        def full(leaves: list, *rest: Any) -> Any:
            return self.fn(*jax.tree.unflatten(treedef, leaves), *rest, **static)

        with paused_gc():
            jaxpr = jax.make_jaxpr(full)(shapes, *rest).jaxpr
        used = _inputs_read(jaxpr)[: len(leaves)]

        def lean(kept: list, *rest: Any) -> Any:
            kept_iter = iter(kept)
            leaves = [
                next(kept_iter) if u else jnp.zeros(s.shape, s.dtype)
                for u, s in zip(used, shapes, strict=True)
            ]
            return full(leaves, *rest)

        return used, CachedJit(lean)


def _inputs_read(jaxpr: Any) -> list[bool]:
    """Which of a jaxpr's inputs its outputs (or effects) depend on: one backward pass."""
    from jax.extend.core import Literal

    live = {v for v in jaxpr.outvars if not isinstance(v, Literal)}
    for eqn in reversed(jaxpr.eqns):
        if eqn.effects or any(v in live for v in eqn.outvars):
            live.update(v for v in eqn.invars if not isinstance(v, Literal))
    return [v in live for v in jaxpr.invars]
