"""How JAX computes on the CPU: how many cores, and on which thread."""

from __future__ import annotations

import os

from ascent.errors import ConfigError


def use_threads(n: int) -> int:
    """Run this process, and so XLA's CPU thread pool, on `n` of the cores it may use.

    XLA's CPU client sizes its thread pool by the cores the process may run on when JAX
    first starts it, and (jax 0.10) no XLA flag sets that size, so the lever is the
    process's CPU affinity. Call it before the first JAX computation: threads that
    already exist keep their cores. One thread is fastest for 64-wide networks (PPO on
    CartPole); SAC's and TD3's 256-wide ones train about a quarter faster on two
    (benchmarks/results/compare.md). Returns the number of cores now in use;
    where the system has no affinity call (macOS), it changes nothing.
    """
    if n < 1:
        raise ConfigError(f"threads must be at least 1, got {n}")
    if not hasattr(os, "sched_setaffinity"):
        return os.cpu_count() or 1
    from jax._src import xla_bridge

    allowed = sorted(os.sched_getaffinity(0))
    if xla_bridge.backends_are_initialized():
        raise ConfigError("use_threads must be called before the first JAX computation")
    os.sched_setaffinity(0, allowed[:n])
    return min(n, len(allowed))


def inline_cpu_dispatch() -> bool:
    """Have JAX's CPU client run each computation on the thread that calls it.

    By default JAX hands a CPU computation to a worker thread and the caller waits for
    it; for the host door's many small calls (a policy acting on one batch of
    observations) the hand-over costs more than the work
    (benchmarks/results/design_notes.md). `ascent.make`, `ascent.load` and the CLI call
    this first. JAX reads the setting when it starts its CPU client, so it takes effect
    only before the first JAX computation; after that, or with ASCENT_INLINE_DISPATCH=0
    in the environment, it changes nothing. Returns whether computations now run inline.

    """
    import jax
    from jax._src import xla_bridge

    wanted = os.environ.get("ASCENT_INLINE_DISPATCH", "1") != "0"
    if wanted and not xla_bridge.backends_are_initialized():
        jax.config.update("jax_cpu_enable_async_dispatch", False)
    return not jax.config.read("jax_cpu_enable_async_dispatch")
