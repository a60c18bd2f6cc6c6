"""Learning curves from run folders' metrics.csv, drawn to PNG (or any matplotlib format).

Figures are drawn on matplotlib's Agg canvas directly, without pyplot: no display is needed,
and importing Ascent never switches the backend of a user's notebook or GUI session.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ascent.errors import AscentError
from ascent.io.metrics import METRICS_FILE, read_metrics

CURVE_FILE = "curve.png"

PathLike = str | os.PathLike[str]


def _curve(run_dir: Path, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one run, keeping the rows where both are present."""
    path = run_dir / METRICS_FILE if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise AscentError(f"run {run_dir} has no {METRICS_FILE} — is it a run folder?")
    columns = read_metrics(path)
    missing = [name for name in (x, y) if name not in columns]
    if missing:
        have = ", ".join(sorted(columns)) or "none"
        raise AscentError(
            f"{path} has no column {', '.join(repr(m) for m in missing)} (columns: {have}) "
            "— choose x and y among them"
        )
    xs, ys = columns[x], columns[y]
    keep = np.isfinite(xs) & np.isfinite(ys)
    return xs[keep], ys[keep]


def plot_runs(
    run_dirs: Sequence[PathLike],
    out: PathLike,
    x: str = "env_steps",
    y: str = "episode_return",
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Plot `y` against `x` for each run (one line per run) and save the figure to `out`.

    Lines are labelled with the run folder names unless `labels` are given. The format
    follows `out`'s suffix (.png, .pdf, .svg). Raises AscentError if a run has no
    metrics.csv or lacks a column. Returns `out`.
    """
    # Imported here: matplotlib takes a noticeable time to import, and most commands don't plot.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = [Path(r) for r in run_dirs]
    if not runs:
        raise AscentError("no runs to plot — pass at least one run folder")
    if labels is not None and len(labels) != len(runs):
        raise AscentError(f"got {len(labels)} labels for {len(runs)} runs — give one per run")
    names = list(labels) if labels is not None else [r.name for r in runs]
    curves = [_curve(r, x, y) for r in runs]

    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for (xs, ys), name in zip(curves, names, strict=True):
        ax.plot(xs, ys, label=name, linewidth=1.5)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


def plot_curve(run_dir: PathLike, x: str = "env_steps", y: str = "episode_return") -> Path:
    """Write the learning curve of one run to `run_dir/curve.png`; returns that path."""
    run_dir = Path(run_dir)
    return plot_runs([run_dir], run_dir / CURVE_FILE, x=x, y=y, title=run_dir.name)
