"""Test set-up: XLA's flags for the tier (one XLA thread per worker; the default tests
compile fast, the slow ones run fast) and the persistent compilation cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ascent._xla import XLA_FLAGS, XLA_FLAGS_FOR_TESTS, set_xla_flags

_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "jax"


def pytest_configure(config: pytest.Config) -> None:
    """Before any test module imports JAX: the flags of the tier asked for (`-m slow`:
    learning runs, which run longer than they compile), unless the environment sets
    them (the Makefile does, from ascent/_xla.py)."""
    slow = config.option.markexpr.strip() == "slow"
    set_xla_flags(XLA_FLAGS if slow else XLA_FLAGS_FOR_TESTS)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_compilation_cache_dir", str(_CACHE))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
