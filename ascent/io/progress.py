"""Training progress on the terminal (a rich bar) or in logs (a plain line every ~10%)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
)
from rich.table import Table
from rich.text import Text

REPORT_FRACTION = 0.1  # plain mode prints a line each time this much more of the run is done


BAR_WIDTH = 8  # the bar's own columns: with the widest cells the line fits in 80
DESCRIPTION_WIDTH = 16


class _RateColumn(ProgressColumn):
    """Steps per second, estimated by rich over its recent samples; "compiling" until the
    first chunk is back (its time is mostly XLA's compiling)."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("running"):
            return Text("compiling")
        speed = task.finished_speed or task.speed
        return Text("?/s" if speed is None else f"{speed:,.0f}/s")


def _count(n: float) -> str:
    """Steps in at most 6 characters: 99,999, then 100k ... 9,999k, then 10.0M ..."""
    if n < 100_000:
        return f"{n:,.0f}"
    if n < 10_000_000:
        return f"{n / 1e3:,.0f}k"
    return f"{n / 1e6:.1f}M"


class _StepsColumn(ProgressColumn):
    """Steps done / total, compact (`_count`)."""

    def render(self, task: Task) -> Text:
        return Text(f"{_count(task.completed)}/{_count(task.total or 0)}")


class _TimeColumn(ProgressColumn):
    """Elapsed<remaining, as tqdm writes it."""

    def render(self, task: Task) -> Text:
        remaining = task.time_remaining
        eta = "?" if remaining is None else _format_duration(remaining, compact=True)
        elapsed = _format_duration(task.finished_time or task.elapsed or 0.0, compact=True)
        return Text(f"{elapsed}<{eta}")


def _format_duration(seconds: float, compact: bool = False) -> str:
    """h:mm:ss (compact: mm:ss under an hour)."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if compact and seconds < 3600:
        return f"{seconds // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _format_return(value: float | None) -> str:
    """Two decimals, none from 1,000 on (at most 8 characters up to a million)."""
    if value is None:
        return "-"
    return f"{value:.2f}" if abs(value) < 1000 else f"{value:,.0f}"


class TrainingProgress:
    """Progress of a training run: steps done/total, steps/s, last mean return, elapsed, ETA.

    On a terminal it draws a rich progress bar. When stdout is not a terminal (CI, a log
    file), it prints one plain line each time another ~10% of the steps is done, and a last
    one at the end, so logs stay readable. With `enabled=False` it prints nothing.
    Use as a context manager:

        with TrainingProgress(total_steps) as progress:
            ...
            progress.update(steps_done, episode_return=mean_return)

    `start_steps` is where a resumed run starts, so its speed counts only new steps.
    """

    def __init__(
        self,
        total_steps: int,
        description: str = "training",
        enabled: bool = True,
        *,
        start_steps: int = 0,
        console: Console | None = None,
    ) -> None:
        if total_steps <= 0:
            raise ValueError(f"total_steps must be > 0, got {total_steps}")
        self.total_steps = int(total_steps)
        self.description = description
        self.console = console if console is not None else Console()
        self.enabled = enabled
        self.interactive = enabled and (self.console.is_terminal or self.console.is_jupyter)
        self._start_steps = int(start_steps)
        self._steps = int(start_steps)
        self._return: float | None = None
        self._start_time: float | None = None
        self._reported_steps: int | None = None
        self._next_report = self._report_mark_after(self._start_steps)
        self._progress: Progress | None = None
        self._task: Any = None

    def _report_mark_after(self, steps: int) -> int:
        interval = max(1, math.ceil(self.total_steps * REPORT_FRACTION))
        return min(self.total_steps, (steps // interval + 1) * interval)

    def start(self) -> None:
        """Start the clock (and draw the bar); `update` calls this if needed."""
        if self._start_time is not None:
            return
        self._start_time = time.perf_counter()
        if self.interactive:
            # one line of at most 80 columns: description 16, bar 8, steps 13, rate 9,
            # return 12, time 15, and rich's five single spaces between them
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=BAR_WIDTH),
                _StepsColumn(),
                _RateColumn(),
                TextColumn("ret {task.fields[episode_return]}"),
                _TimeColumn(),
                console=self.console,
            )
            self._progress.start()
            description = self.description
            if len(description) > DESCRIPTION_WIDTH:
                description = description[: DESCRIPTION_WIDTH - 1] + "…"
            self._task = self._progress.add_task(
                description,
                total=self.total_steps,
                completed=self._start_steps,
                episode_return=_format_return(None),
                running=False,
            )
        elif self.enabled:  # a log: say why the first line takes a while
            print(f"{self.description}: compiling", file=self.console.file, flush=True)

    def update(self, steps_done: int, episode_return: float | None = None) -> None:
        """Record that `steps_done` steps (in total, not since the last call) are done.

        `episode_return` is the latest mean episode return; None keeps the previous one.
        """
        self.start()
        self._steps = int(steps_done)
        if episode_return is not None:
            self._return = float(episode_return)
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=self._steps,
                episode_return=_format_return(self._return),
                running=True,
            )
        elif self._steps >= self._next_report:
            self._print_line()
            self._next_report = self._report_mark_after(self._steps)

    def summary(self) -> str:
        """One plain line: steps, percent, steps/s, return, elapsed and ETA."""
        elapsed = 0.0 if self._start_time is None else time.perf_counter() - self._start_time
        new_steps = self._steps - self._start_steps
        rate = new_steps / elapsed if elapsed > 0 and new_steps > 0 else math.nan
        left = max(0, self.total_steps - self._steps)
        eta = 0.0 if left == 0 else left / rate if rate > 0 else math.inf
        rate_text = "?" if math.isnan(rate) else f"{rate:,.0f}"
        percent = 100.0 * self._steps / self.total_steps
        return (
            f"{self.description}: {self._steps:,}/{self.total_steps:,} steps ({percent:.0f}%)"
            f" | {rate_text} steps/s | return {_format_return(self._return)}"
            f" | elapsed {_format_duration(elapsed)} | eta {_format_duration(eta)}"
        )

    def _print_line(self) -> None:
        if not self.enabled:
            return
        print(self.summary(), file=self.console.file, flush=True)
        self._reported_steps = self._steps

    def close(self) -> None:
        """Stop the bar, or print the final plain line if the last one is out of date."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        elif self._start_time is not None and self._reported_steps != self._steps:
            self._print_line()

    def __enter__(self) -> TrainingProgress:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _format_cell(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e12:
            return f"{int(value):,}"
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def print_table(
    title: str, rows: Sequence[Mapping[str, Any]], *, console: Console | None = None
) -> None:
    """Print `rows` as a table; columns are the keys in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    table = Table(title=title)
    for key in columns:
        numeric = all(isinstance(row.get(key), int | float | np.number | None) for row in rows)
        table.add_column(key, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_format_cell(row.get(key)) for key in columns))
    (console if console is not None else Console()).print(table)
