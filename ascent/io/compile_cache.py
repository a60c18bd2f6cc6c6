"""JAX's persistent compilation cache, so a second run skips most compiling."""

from __future__ import annotations

import os
from pathlib import Path


def enable_compile_cache(path: str | Path | None = None) -> Path:
    """Point JAX's persistent compilation cache at `path` (default: $ASCENT_CACHE_DIR,
    else ~/.cache/ascent/jax). Every program is kept: even a small one takes tens of
    milliseconds to compile, more than reading it back. The same folder keeps the
    executables of `ascent.io.program_cache`."""
    import jax

    folder = Path(
        path or os.environ.get("ASCENT_CACHE_DIR") or Path.home() / ".cache" / "ascent" / "jax"
    )
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return folder
