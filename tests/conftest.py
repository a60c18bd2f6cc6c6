"""Test set-up: one XLA thread per worker and the persistent compilation cache."""

from __future__ import annotations

import os
from pathlib import Path

from ascent._xla import set_xla_flags

set_xla_flags()  # one XLA thread: the workers of `pytest -n 2` share the cores
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "jax"
jax.config.update("jax_compilation_cache_dir", str(_CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
