"""Low-level file helpers shared by the io modules: durable writes and JSON encoding.

A file is written to a temporary sibling, fsync-ed, then `os.replace`-d into place, so a
reader sees either the old content or the new, never half of the new.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename or a new file) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file_durably(path: Path, data: bytes) -> None:
    """Write `data` to a new file at `path` and fsync it (no rename; `path` must be fresh)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically: temporary sibling, fsync, `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them: ValueError for a
    device, a pipe or a folder (reading /dev/zero would never end) or a larger file."""
    with open(path, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data


def to_jsonable(obj: Any) -> Any:
    """`json.dumps` fallback: numpy/jax scalars and arrays, paths, dataclasses, enums, sets."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    if hasattr(obj, "__array__"):  # jax.Array and friends, without importing jax here
        return np.asarray(obj).tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def dumps_json(obj: Any) -> str:
    """JSON text with indent=2 and a trailing newline; numpy values are converted."""
    return json.dumps(obj, indent=2, default=to_jsonable) + "\n"
