"""XLA's CPU flags, defined once.

XLA reads XLA_FLAGS when JAX starts its CPU client, so they must be in the environment
before JAX is imported: this module imports nothing but the standard library. Run as a
script (`python3 ascent/_xla.py`, or `... tests` for `XLA_FLAGS_FOR_TESTS`) it prints
them, which is how the Makefile takes them, before the virtualenv exists.

Every word must be a `--flag`: XLA stops reading the variable at a word that is not one
and drops the flags after it (a bare `intra_op_parallelism_threads=1` once hid the
scheduler flag, and MAPPO's vmapped seeds hung 9 runs in 10;
benchmarks/results/design_notes.md).
"""

from __future__ import annotations

import os

# For a process whose XLA threads follow its CPU affinity (the CLI's --threads,
# `ascent.use_threads`, `taskset` in benchmarks/compare.py): Eigen stays multi-threaded,
# so two cores help SAC's 256-wide networks (benchmarks/results/compare.md). The
# concurrency-optimised scheduler was seen to hang a vmapped program on its second
# call with jax 0.10.2.
XLA_FLAGS_BY_AFFINITY = "--xla_cpu_enable_concurrency_optimized_scheduler=false"

# For processes that run side by side on unpinned cores (make's test workers,
# benchmark cases a few at a time): small networks run fastest with XLA on one thread.
XLA_FLAGS = f"--xla_cpu_multi_thread_eigen=false {XLA_FLAGS_BY_AFFINITY}"

# For the default tests (`make test`), which compile hundreds of small programs and run
# each for moments: LLVM's optimisations off and XLA's older fusion emitters compile
# small agents 2-4x faster and train 2-3.7x slower (benchmarks/results/compile_flags.md,
# issue 27). The slow tests, which train, keep XLA_FLAGS. Numbers agree with XLA_FLAGS'
# to rounding.
XLA_FLAGS_FOR_TESTS = (
    f"{XLA_FLAGS} --xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
)


def profiling_flags(dump: str) -> str:
    """The flags that make XLA:CPU record every op it runs as a profiler event and write
    each module's optimised HLO as text under `dump` (for per-op profiles that name each
    op by the source line that made it: benchmarks/peers/op_profile.py)."""
    return f"--xla_cpu_enable_xprof_traceme=true --xla_dump_to={dump} --xla_dump_hlo_as_text"


def set_xla_flags(flags: str = XLA_FLAGS) -> str:
    """Put `flags` in the environment's XLA_FLAGS unless it is set already (a value the
    user chose wins). Call it before importing JAX. Returns the value in effect."""
    return os.environ.setdefault("XLA_FLAGS", flags)


if __name__ == "__main__":
    import sys

    print(XLA_FLAGS_FOR_TESTS if sys.argv[1:] == ["tests"] else XLA_FLAGS)
