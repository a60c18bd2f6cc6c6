"""Tables as files: CSV rows and TOML presets, written atomically (`_files.py`)."""

from __future__ import annotations

import csv
import io
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w

from ascent.errors import ConfigError
from ascent.io._files import write_bytes_atomic


def write_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write `rows` (dicts) as CSV with a header of their keys in first-seen order; a
    row without a key leaves its cell empty. Returns the path."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(path)
    write_bytes_atomic(path, text.getvalue().encode("utf-8"))
    return path


def write_toml(path: str | os.PathLike[str], table: Mapping[str, Any], header: str = "") -> Path:
    """Write `table` as TOML (None values left out: TOML has no null), after `header`
    lines as comments. Returns the path."""
    plain = {k: v for k, v in table.items() if v is not None}
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    path = Path(path)
    write_bytes_atomic(path, (comments + tomli_w.dumps(plain)).encode("utf-8"))
    return path


def read_toml(path: str | os.PathLike[str], what: str = "config file") -> dict[str, Any]:
    """The tables of the TOML file at `path`; a ConfigError naming it as `what` when it
    cannot be read or is not TOML."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what} {path} is not valid TOML: {e}") from None
