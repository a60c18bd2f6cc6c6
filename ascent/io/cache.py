"""JAX's persistent compilation cache, so a second run skips XLA compilation (STYLE rule 13)."""

from __future__ import annotations

import os
from pathlib import Path

import jax

CACHE_ENV = "ASCENT_CACHE_DIR"
MIN_COMPILE_SECS = 0.2  # cache anything slower to compile than this; smaller is not worth a file


def default_cache_dir() -> Path:
    """`$ASCENT_CACHE_DIR`, else `$XDG_CACHE_HOME/ascent/jax`, else `~/.cache/ascent/jax`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ascent" / "jax"


def enable_compile_cache(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Turn on JAX's persistent compilation cache and return its folder.

    With no `cache_dir`, a cache folder already configured (by the user or a test set-up) is
    kept; otherwise `default_cache_dir()` is used.
    """
    current = jax.config.jax_compilation_cache_dir
    if cache_dir is None and current:
        return Path(current)
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECS)
    return path
