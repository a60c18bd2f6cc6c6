"""How Ascent compiles and runs programs: the one place for JAX's speed tricks.

Every loop, evaluation and `Agent.act` compile through this package:

- `CachedJit(fn, source=None, **jit_options)`: `jax.jit` whose executable is kept on
  disk and found again by its jaxpr, or by words naming it (`program_cache`);
- `LeanJit(fn).bind(*fixed)`: a function called at every step with the same leading
  arguments, passing only the leaves it reads (`lean`);
- `CompiledChunks(iterate)`: many iterations of a pure step in one compiled call
  (`chunks`);
- `HostLearn` / `FlatLearn`: an update driven from Python at one call and one transfer
  an iteration, the state laid flat (`flat`);
- process settings, made once before the first JAX computation: `enable_compile_cache`
  (a private folder), `use_threads` (the cores XLA's pool runs on), `inline_cpu_dispatch`;
  and `paused_gc` around tracing.

Process-global state here (the compile counters, the garbage-collector switch) is safe
with several threads in one process; a `CachedJit` pickles as its function and options
(the executable is found again in the receiving process), so workers can be sent one.
"""

from __future__ import annotations

from ascent.runtime.chunks import CompiledChunks
from ascent.runtime.compile_cache import (
    default_compile_cache,
    enable_compile_cache,
    private_folder,
)
from ascent.runtime.flat import FlatLearn, FlatTree, HostLearn, PackedMetrics
from ascent.runtime.lean import LeanJit
from ascent.runtime.program_cache import CachedJit, compile_counts, paused_gc
from ascent.runtime.threads import inline_cpu_dispatch, use_threads

__all__ = [
    "CachedJit",
    "CompiledChunks",
    "FlatLearn",
    "FlatTree",
    "HostLearn",
    "LeanJit",
    "PackedMetrics",
    "compile_counts",
    "default_compile_cache",
    "enable_compile_cache",
    "inline_cpu_dispatch",
    "paused_gc",
    "private_folder",
    "use_threads",
]
