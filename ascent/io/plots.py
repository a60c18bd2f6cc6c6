"""Learning curves from run folders' metrics.csv, and bias–variance charts of estimators,
drawn to PNG (or any matplotlib format).

Figures are drawn on matplotlib's Agg canvas directly, without pyplot: no display is needed,
and importing Ascent never switches the backend of a user's notebook or GUI session.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ascent.errors import AscentError
from ascent.io.metrics import METRICS_FILE, STEP, read_metrics

CURVE_FILE = "curve.png"

PathLike = str | os.PathLike[str]


EPISODE_RETURN = "episode_return"


def _curve(run_dir: Path, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one run, keeping the rows where both are present. A run whose episodes
    never ended has no episode_return: its curve is empty."""
    path = run_dir / METRICS_FILE if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise AscentError(f"run {run_dir} has no {METRICS_FILE} — is it a run folder?")
    columns = read_metrics(path)
    if y == EPISODE_RETURN and y not in columns:
        columns[y] = np.full_like(columns[STEP], np.nan)
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
        if y == EPISODE_RETURN and len(ys) == 0:
            name = f"{name} (no episode ended)"
        ax.plot(xs, ys, label=name, linewidth=1.5)
    if y == EPISODE_RETURN and not any(len(ys) for _, ys in curves):
        ax.text(0.5, 0.5, "no episode ended: no return to plot", transform=ax.transAxes,
                ha="center", va="center")  # fmt: skip
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


TEAM_RETURN = "episode_team_return"


def plot_curve(run_dir: PathLike, x: str = "env_steps", y: str = "episode_return") -> Path:
    """Write the learning curve of one run to `run_dir/curve.png`; returns that path. A
    team's run (it logs `episode_team_return`) gets two panels: the return per agent with
    each agent's own, and the team's."""
    run_dir = Path(run_dir)
    path = run_dir / METRICS_FILE
    columns = read_metrics(path) if path.is_file() else {}
    if y != EPISODE_RETURN or TEAM_RETURN not in columns:
        return plot_runs([run_dir], run_dir / CURVE_FILE, x=x, y=y, title=run_dir.name)
    return _plot_team(run_dir, columns, x)


def _plot_team(run_dir: Path, columns: Mapping[str, np.ndarray], x: str) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    agents = sorted(k for k in columns if k.startswith(f"{EPISODE_RETURN}/"))
    fig = Figure(figsize=(11.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    xs = columns[x]

    def line(ax: Any, name: str, label: str, **style: Any) -> None:
        keep = np.isfinite(xs) & np.isfinite(columns[name])
        ax.plot(xs[keep], columns[name][keep], label=label, **style)

    line(left, EPISODE_RETURN, "mean over agents", linewidth=2.0, color="black")
    for name in agents:
        line(left, name, name.split("/", 1)[1], linewidth=1.0, alpha=0.8)
    line(right, TEAM_RETURN, "team (sum over agents)", linewidth=1.5)
    for ax, ylabel in ((left, "episode return per agent"), (right, "team episode return")):
        ax.set_xlabel(x)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    fig.suptitle(run_dir.name)
    out = run_dir / CURVE_FILE
    fig.savefig(out, dpi=120)
    return out


def plot_bias_variance(
    estimators: Sequence[Mapping[str, Any]],
    sweep: Sequence[Mapping[str, Any]],
    out: PathLike,
    *,
    sweep_label: str = "λ",
    title: str | None = None,
) -> Path:
    """Bias and variance of gradient estimators, drawn in three panels and saved to `out`.

    estimators: rows with "label", "group" (e.g. a weighting; one bar colour per
    group), "bias", "bias_se" and "variance". Left panel: variance per estimator; middle:
    bias per estimator as a bar with its standard error as a black tick (a bar that ends
    near its tick is what an unbiased estimator shows). Both on log scales.
    sweep: rows with "x", "series", "bias", "bias_se", "variance"; right panel: bias
    (solid, with standard-error band) and variance (dashed, right axis) against x
    (labelled `sweep_label`), one colour per series. Returns `out`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not estimators:
        raise AscentError("no estimators to plot — pass at least one row")
    labels = list(dict.fromkeys(str(row["label"]) for row in estimators))
    groups = list(dict.fromkeys(str(row["group"]) for row in estimators))
    height = 0.8 / len(groups)
    colours = [f"C{i}" for i in range(10)]

    fig = Figure(figsize=(15.0, 0.32 * len(labels) * len(groups) + 2.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax_var, ax_bias, ax_sweep = fig.subplots(1, 3, width_ratios=(1, 1, 1.2))
    for g, group in enumerate(groups):
        rows = {str(r["label"]): r for r in estimators if str(r["group"]) == group}
        ys = [i + (g - (len(groups) - 1) / 2) * height for i in range(len(labels))]
        present = [(y, rows[name]) for y, name in zip(ys, labels, strict=True) if name in rows]
        y_at = [y for y, _ in present]
        colour = colours[g % len(colours)]
        ax_var.barh(y_at, [r["variance"] for _, r in present], height, color=colour, label=group)
        ax_bias.barh(y_at, [r["bias"] for _, r in present], height, color=colour, label=group)
        ax_bias.scatter(
            [r["bias_se"] for _, r in present], y_at, marker="|", s=120, color="black", zorder=3
        )
    ax_bias.scatter([], [], marker="|", s=120, color="black", label="standard error")
    for ax, name in ((ax_var, "total variance per sample"), (ax_bias, "relative bias")):
        ax.set_xscale("log")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.5, -0.5)  # first row on top
        ax.set_xlabel(f"{name} (log scale)")
        ax.grid(True, axis="x", alpha=0.3)
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize="small")
    ax_bias.set_yticklabels([])

    ax_right = ax_sweep.twinx()
    for k, series in enumerate(dict.fromkeys(str(row["series"]) for row in sweep)):
        rows = sorted((r for r in sweep if str(r["series"]) == series), key=lambda r: r["x"])
        xs = np.array([r["x"] for r in rows], float)
        bias = np.array([r["bias"] for r in rows], float)
        se = np.array([r["bias_se"] for r in rows], float)
        colour = colours[k % len(colours)]
        ax_sweep.plot(xs, bias, "o-", color=colour, label=f"bias, {series}")
        ax_sweep.fill_between(xs, np.maximum(bias - se, 0), bias + se, color=colour, alpha=0.15)
        ax_right.plot(
            xs, [r["variance"] for r in rows], "s--", color=colour, label=f"variance, {series}"
        )
    ax_sweep.set_xlabel(sweep_label)
    ax_sweep.set_ylabel("relative bias (solid)")
    ax_right.set_ylabel("total variance per sample (dashed)")
    ax_sweep.set_ylim(bottom=0)
    ax_sweep.grid(True, alpha=0.3)
    handles = ax_sweep.get_legend_handles_labels()
    more = ax_right.get_legend_handles_labels()
    if handles[0] or more[0]:
        ax_sweep.legend(
            handles[0] + more[0],
            handles[1] + more[1],
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncol=2,
            fontsize="small",
        )
    if title is not None:
        fig.suptitle(title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out


def plot_sweep(
    out: PathLike,
    labels: Sequence[str],
    steps: Sequence[np.ndarray],
    curves: Sequence[np.ndarray],
    finals: np.ndarray,
    title: str | None = None,
    top: int = 8,
) -> Path:
    """A sweep's figure: left, each configuration's training curve (the mean over its
    seeds of `curves[c]` [S, U] against `steps[c]` [U]), the `top` best by final return
    named and in colour, the rest grey; right, every configuration's final return
    (`finals` [C, S]), sorted, each seed a dot and the mean a bar. Returns `out`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    order = np.argsort(-finals.mean(axis=1), kind="stable")
    best = set(order[:top].tolist())
    fig = Figure(figsize=(12.0, max(4.5, 0.22 * len(labels) + 1.5)), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=(1.2, 1.0))
    with np.errstate(all="ignore"):
        for c in [c for c in range(len(labels)) if c not in best] + order[:top].tolist():
            mean = np.nanmean(curves[c], axis=0)
            keep = np.isfinite(mean)
            if c in best:
                left.plot(steps[c][keep], mean[keep], linewidth=1.6, label=labels[c])
            else:
                left.plot(steps[c][keep], mean[keep], color="0.75", linewidth=0.8)
    left.set_xlabel("env_steps")
    left.set_ylabel("episode_return (training, mean over seeds)")
    left.grid(True, alpha=0.3)
    left.legend(loc="best", fontsize="x-small")
    y = np.arange(len(order))[::-1]
    right.barh(y, finals[order].mean(axis=1), color="tab:blue", alpha=0.35)
    for row, c in zip(y, order, strict=True):
        right.plot(finals[c], np.full(finals.shape[1], row), "o", color="tab:blue", ms=3)
    right.set_yticks(y, [labels[c] for c in order], fontsize="x-small")
    right.set_xlabel("final deterministic return (bar: mean; dots: seeds)")
    right.grid(True, axis="x", alpha=0.3)
    if title is not None:
        fig.suptitle(title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
