"""`use_threads`: the cores XLA computes on, set through the process's CPU affinity."""

from __future__ import annotations

import os
import subprocess
import sys

import jax.numpy as jnp
import pytest

from ascent.errors import ConfigError
from ascent.runtime import use_threads

needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system"
)

# the size of XLA's CPU thread pool shows in the threads the process has after a
# computation that can use it
PROBE = """
import os, sys
import ascent
used = ascent.use_threads(int(sys.argv[1]))
import jax.numpy as jnp
x = jnp.ones((512, 512))
(x @ x).block_until_ready()
print(used, len(os.sched_getaffinity(0)), len(os.listdir("/proc/self/task")))
"""


@needs_affinity
def test_one_thread_shrinks_the_cores_and_xla_pool() -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs at least two cores")
    runs = [
        subprocess.run(
            [sys.executable, "-c", PROBE, str(n)], capture_output=True, text=True, check=True
        ).stdout.split()
        for n in (1, 2)
    ]
    (used1, cores1, tasks1), (used2, cores2, tasks2) = [[int(x) for x in r] for r in runs]
    assert (used1, cores1) == (1, 1) and (used2, cores2) == (2, 2)
    assert tasks1 < tasks2  # one pool thread fewer


def test_after_jax_started_it_says_so() -> None:
    jnp.zeros(1).block_until_ready()
    if not hasattr(os, "sched_setaffinity"):
        return
    with pytest.raises(ConfigError, match="before the first JAX computation"):
        use_threads(1)


def test_at_least_one_thread() -> None:
    with pytest.raises(ConfigError, match="threads must be at least 1"):
        use_threads(0)
