"""Metric logs: `metrics.csv` in the run folder, mirrored to TensorBoard under `tb/`.

The CSV is the record (one row per `log`, flushed at once so a crash loses nothing already
logged); TensorBoard is a view of it for live monitoring.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import numpy as np

from ascent.errors import AscentError
from ascent.io._files import write_bytes_atomic

METRICS_FILE = "metrics.csv"
TB_DIR = "tb"
STEP = "step"

PathLike = str | os.PathLike[str]


def _format_value(key: str, value: Any) -> str:
    """A CSV cell: integers as integers, floats in shortest round-trip form ('nan', 'inf')."""
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ValueError(f"metric {key!r} must be a scalar, got shape {arr.shape}")
    if arr.dtype.kind in "iub":
        return str(int(arr))
    return repr(float(arr))


class MetricsLogger:
    """Append metric rows to `run_dir/metrics.csv` and, optionally, TensorBoard `run_dir/tb/`.

    The first CSV column is `step`; the header holds every key seen so far, in order of first
    appearance. A row with a new key rewrites the file (atomically) with the wider header, the
    old rows getting empty cells. An existing metrics.csv (a resumed run) is appended to.
    Non-finite values go to the CSV as 'nan'/'inf' and are skipped in TensorBoard.
    """

    def __init__(self, run_dir: PathLike, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / METRICS_FILE
        self._columns: list[str] = []
        self._file: TextIO | None = None
        if self.path.is_file() and self.path.stat().st_size > 0:
            header = _read_header(self.path)
            self._columns = header[1:]
            self._file = self._open_append()
        self._tb: Any = None
        if tensorboard:
            self._tb = _EventFile(self.run_dir / TB_DIR)

    @property
    def columns(self) -> list[str]:
        """The CSV header: `step` and then the metric keys seen so far."""
        return [STEP, *self._columns]

    def _open_append(self) -> TextIO:
        f = open(self.path, "a+", newline="", encoding="utf-8")
        # A crash in the middle of a row leaves no newline at the end; start a fresh line.
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:
            f.seek(f.tell() - 1)
            if f.read(1) != "\n":
                f.write("\n")
        return f

    def _rewrite_header(self) -> None:
        """Rewrite metrics.csv with the current header, padding old rows with empty cells."""
        if self._file is not None:
            self._file.close()
            self._file = None
        old_rows: list[list[str]] = []
        if self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as f:
                old_rows = [r for r in csv.reader(f) if r][1:]
        width = 1 + len(self._columns)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.columns)
        for r in old_rows:
            writer.writerow(r + [""] * (width - len(r)))
        write_bytes_atomic(self.path, buf.getvalue().encode("utf-8"))
        self._file = self._open_append()

    def log(self, step: int, row: Mapping[str, float]) -> None:
        """Append `row` at `step` to the CSV (flushed now) and to TensorBoard."""
        if STEP in row:
            raise ValueError(f"metric name {STEP!r} is reserved for the step column")
        cells = {key: _format_value(key, value) for key, value in row.items()}
        new_keys = [key for key in cells if key not in self._columns]
        if new_keys or self._file is None:
            self._columns.extend(new_keys)
            self._rewrite_header()
        assert self._file is not None
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(
            [str(int(step)), *(cells.get(key, "") for key in self._columns)]
        )
        self._file.write(line.getvalue())
        self._file.flush()
        if self._tb is not None:
            finite = {key: float(text) for key, text in cells.items()}
            self._tb.write(int(step), {k: v for k, v in finite.items() if math.isfinite(v)})

    def close(self) -> None:
        """Close the CSV and TensorBoard files; safe to call twice."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _EventFile:
    """A TensorBoard event file written on the calling thread, so that a full disk is an
    error here (tensorboardX's SummaryWriter writes on a thread of its own, which dies
    with a traceback and leaves `flush` waiting forever)."""

    def __init__(self, folder: Path) -> None:
        # Imported here: tensorboardX pulls in protobuf, which `import ascent` need not pay.
        from tensorboardX.event_file_writer import EventsWriter

        folder.mkdir(parents=True, exist_ok=True)
        self._writer = EventsWriter(str(folder / "events"))

    def write(self, step: int, values: Mapping[str, float]) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import scalar

        now = time.time()
        for key, value in values.items():
            self._writer.write_event(Event(wall_time=now, step=step, summary=scalar(key, value)))
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def _metrics_path(path: PathLike) -> Path:
    path = Path(path)
    return path / METRICS_FILE if path.is_dir() else path


def _read_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise AscentError(f"metrics file {path} cannot be read ({e})") from None
    if not header or header[0] != STEP:
        raise AscentError(
            f"metrics file {path} does not start with a '{STEP}' column "
            "— it was not written by Ascent; move it away"
        )
    return header


def read_metrics(path: PathLike) -> dict[str, np.ndarray]:
    """Columns of a metrics.csv (or of a run folder's) as float arrays; empty cells are NaN.

    Raises AscentError naming the file if it is missing or malformed.
    """
    path = _metrics_path(path)
    if not path.is_file():
        raise AscentError(f"metrics file {path} does not exist — is this a run folder?")
    header = _read_header(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r][1:]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise AscentError(f"metrics file {path} cannot be read ({e})") from None
    table = np.full((len(rows), len(header)), np.nan)
    for i, r in enumerate(rows):
        if len(r) > len(header):
            raise AscentError(
                f"metrics file {path} line {i + 2} has {len(r)} cells for "
                f"{len(header)} columns — the file is damaged"
            )
        # A shorter row is a line cut by a crash; its missing cells stay NaN.
        for j, cell in enumerate(r):
            if cell == "":
                continue
            try:
                table[i, j] = float(cell)
            except ValueError:
                raise AscentError(
                    f"metrics file {path} line {i + 2}, column {header[j]!r}: "
                    f"{cell!r} is not a number — the file is damaged"
                ) from None
    return {name: table[:, j].copy() for j, name in enumerate(header)}


def drop_rows_after(path: PathLike, step: int, keep_in: PathLike | None = None) -> int:
    """Remove the rows of `metrics.csv` logged after `step` (a resumed run logs them again
    from its checkpoint); returns how many were dropped. Rewritten atomically. With
    `keep_in`, the dropped rows are first written there, under the same header."""
    csv_path = _metrics_path(path)
    if not csv_path.is_file():
        return 0
    lines = csv_path.read_text().splitlines(keepends=True)
    if not lines:
        return 0
    kept, dropped = [lines[0]], [lines[0]]
    for line in lines[1:]:
        first = line.split(",", 1)[0].strip()
        try:
            logged_at = int(float(first))
        except ValueError:  # a row cut off by a crash
            dropped.append(line)
            continue
        (kept if logged_at <= step else dropped).append(line)
    if len(dropped) > 1:
        if keep_in is not None:
            write_bytes_atomic(Path(keep_in), "".join(dropped).encode())
        write_bytes_atomic(csv_path, "".join(kept).encode())
    return len(dropped) - 1
