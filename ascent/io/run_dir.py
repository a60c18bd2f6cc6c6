"""Run folders and small JSON files.

A run lives in `runs/<algo>-<env>-<YYYYmmdd-HHMMSS>/` with `config.json`, `metrics.csv`,
`tb/`, `checkpoints/`, `final/`, `curve.png` and `eval.json` (docs/design.md,
"Contracts: Run folder").
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

from ascent.errors import AscentError, RunInUseError
from ascent.io._files import dumps_json, read_bounded, write_bytes_atomic

STAMP_FORMAT = "%Y%m%d-%H%M%S"
MAX_JSON_BYTES = 64 * 2**20  # a run's config.json or eval.json is never this large


def _safe_part(text: str) -> str:
    """A path component from a name: separators (as in `ALE/Pong-v5`) and characters
    that some file systems refuse (`<MyEnv>`, `mod:Id`) become `_`."""
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", text)


def time_stamp(when: _dt.datetime | None = None) -> str:
    """`when` (default: the local time now) as `YYYYmmdd-HHMMSS`."""
    return (when or _dt.datetime.now()).strftime(STAMP_FORMAT)


def new_run_dir(
    algo: str,
    env_id: str,
    base: str | os.PathLike[str] = "runs",
    stamp: str | _dt.datetime | None = None,
) -> Path:
    """Create and return `base/<algo>-<env>-<stamp>`; `-1`, `-2`, ... is appended if taken.

    `stamp` defaults to the local time now as `YYYYmmdd-HHMMSS`; a datetime is formatted the
    same way, a string is used as given. The folder is created here (`mkdir` without
    `exist_ok`), so two runs started in the same second never share a folder.
    """
    if not isinstance(stamp, str):
        stamp = time_stamp(stamp)
    name = f"{_safe_part(algo)}-{_safe_part(env_id)}-{_safe_part(stamp)}"
    base_path = Path(base)
    base_path.mkdir(parents=True, exist_ok=True)
    suffix = 0
    while True:
        candidate = base_path / (name if suffix == 0 else f"{name}-{suffix}")
        try:
            candidate.mkdir()
        except FileExistsError:
            suffix += 1
            continue
        return candidate


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write `obj` as JSON (indent=2) to `path` atomically; numpy values become Python ones.

    Returns the path. Raises TypeError for values JSON cannot represent.
    """
    path = Path(path)
    write_bytes_atomic(path, dumps_json(obj).encode("utf-8"))
    return path


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse the JSON file at `path`; any failure is an `AscentError` naming the file."""
    path = Path(path)
    try:
        text = read_bounded(path, MAX_JSON_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise AscentError(f"file {path} does not exist — check the path") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise AscentError(f"file {path} cannot be read ({e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AscentError(
            f"file {path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}) "
            "— fix or delete it"
        ) from None


LOCK_FILE = ".lock"


class RunLock:
    """An exclusive lock on a run folder, so two processes never write one run.

    `flock` on `run_dir/.lock`, which holds the owner's pid: the kernel drops the lock
    when its process ends, however it ends, so the lock of a killed run is free again
    (a stale lock file is only a file). Raises RunInUseError if another process holds it.
    """

    _fd: int | None = None

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunInUseError(
                f"run folder {self.run_dir} is in use by another Ascent process (pid {owner}); "
                "wait for it to end or choose another --run-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Free the lock; safe to call twice."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.release()
