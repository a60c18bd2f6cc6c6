"""Test set-up: XLA's flags for the tier (one XLA thread per worker; the default tests
compile fast, the slow ones run fast) and the persistent compilation cache."""

from __future__ import annotations

import json
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test files longest first in the tier run (`tests/file_seconds.json`; a file
    not in it first of all, its cost unknown), each file's tests in their own order: the
    Makefile runs `--dist loadfile --no-loadscope-reorder`, so xdist hands the files out
    in this order and the two workers end together (`tests/file_seconds.py` says why)."""
    table = Path(__file__).with_name("file_seconds.json")
    tier = "slow" if config.option.markexpr.strip() == "slow" else "default"
    seconds = json.loads(table.read_text()).get(tier, {}) if table.is_file() else {}
    root = Path(config.rootpath)
    first: dict[str, int] = {}
    for item in items:
        first.setdefault(Path(item.path).relative_to(root).as_posix(), len(first))

    def key(item: pytest.Item) -> tuple[float, int]:
        name = Path(item.path).relative_to(root).as_posix()
        return -seconds.get(name, float("inf")), first[name]

    items.sort(key=key)  # stable: a file's tests keep their order
