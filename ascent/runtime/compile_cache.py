"""JAX's persistent compilation cache, so a second run skips most compiling.

The folder holds native code, which JAX and `ascent.runtime.program_cache` load and run: it
must be a folder only you can write. `private_folder` creates it so (mode 0700) and
refuses, with one line, a folder that another user owns or that group or others may
write.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ascent.errors import CacheError


def private_folder(folder: Path) -> Path:
    """`folder`, created with mode 0700 if missing; CacheError if it exists but another
    user owns it, or group or others may write to it (anyone who can write there can
    make this process run their code)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()  # the folder a symbolic link leads to, as JAX will use it
    if not stat.S_ISDIR(info.st_mode):
        raise CacheError(f"compile cache {folder} is not a folder; set ASCENT_CACHE_DIR to one")
    if info.st_uid != os.geteuid():
        raise CacheError(
            f"compile cache {folder} belongs to user {info.st_uid}, not to you "
            f"({os.geteuid()}): it holds code this process would run; use a folder of your "
            "own (ASCENT_CACHE_DIR) or delete that one"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(
            f"compile cache {folder} may be written by others (mode "
            f"{stat.S_IMODE(info.st_mode):o}): it holds code this process would run; "
            f"run 'chmod 700 {folder}' or use another folder (ASCENT_CACHE_DIR)"
        )
    return folder


def enable_compile_cache(path: str | Path | None = None) -> Path:
    """Point JAX's persistent compilation cache at `path` (default: $ASCENT_CACHE_DIR,
    else ~/.cache/ascent/jax), a private folder (`private_folder`). Every program is
    kept: even a small one takes tens of milliseconds to compile, more than reading it
    back. The same folder keeps the executables of `ascent.runtime.program_cache`."""
    import jax

    folder = Path(
        path or os.environ.get("ASCENT_CACHE_DIR") or Path.home() / ".cache" / "ascent" / "jax"
    )
    private_folder(folder)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return folder


OPT_OUT = "ASCENT_COMPILE_CACHE"  # set to 0 (or off, false, no) for no persistent cache


def default_compile_cache() -> Path | None:
    """The cache every Ascent agent uses unless told otherwise, set when the first agent
    of a process is made (`Agent.__init__`), so that Python users start warm as the CLI
    does: JAX's cache folder if one is set already (the user's choice, kept), else
    `enable_compile_cache()`'s ($ASCENT_CACHE_DIR, else ~/.cache/ascent/jax). None, and
    nothing set, when $ASCENT_COMPILE_CACHE is 0 (the cache is a process-wide JAX setting: a program
    that wants none of it says so)."""
    import jax

    if os.environ.get(OPT_OUT, "").strip().lower() in ("0", "off", "false", "no"):
        return None
    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    return enable_compile_cache()
