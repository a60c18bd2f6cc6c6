"""Learning-curve plots from run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import pytest
from matplotlib.figure import Figure

from ascent.errors import AscentError
from ascent.io import MetricsLogger, plot_bias_variance, plot_curve, plot_runs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_run(path: Path, scale: float) -> Path:
    with MetricsLogger(path, tensorboard=False) as logger:
        for i in range(1, 6):
            logger.log(i, {"env_steps": 100 * i, "loss": 1.0 / i})
            logger.log(i, {"env_steps": 100 * i, "episode_return": scale * i})
    return path


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Figures saved during the test, for checking what was drawn."""
    saved: list[Figure] = []
    real_savefig = Figure.savefig

    def savefig(self: Figure, *args: Any, **kwargs: Any) -> None:
        saved.append(self)
        real_savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def test_plot_runs_draws_one_labelled_line_per_run(tmp_path: Path, figures: list[Figure]) -> None:
    backend = matplotlib.get_backend()
    a = make_run(tmp_path / "ppo-CartPole-v1-1", 1.0)
    b = make_run(tmp_path / "ppo-CartPole-v1-2", 2.0)
    out = plot_runs([a, b], tmp_path / "plots" / "curves.png")
    assert out == tmp_path / "plots" / "curves.png"
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    (ax,) = figures[0].axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [a.name, b.name]
    assert ax.get_xlabel() == "env_steps" and ax.get_ylabel() == "episode_return"
    # rows where episode_return is empty (the loss-only rows) are left out of the line
    xs, ys = ax.get_lines()[1].get_data()
    assert list(xs) == [100, 200, 300, 400, 500] and list(ys) == [2, 4, 6, 8, 10]
    assert matplotlib.get_backend() == backend  # the user's backend is left alone

    plot_runs([a], tmp_path / "loss.png", y="loss", labels=["mine"])
    (ax,) = figures[1].axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mine"]


def test_plot_curve_writes_curve_png_in_the_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", 1.0)
    assert plot_curve(run) == run / "curve.png"
    assert (run / "curve.png").read_bytes()[:8] == PNG_SIGNATURE


def test_missing_metrics_or_columns_are_clear_errors(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", 1.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AscentError, match=r"empty has no metrics.csv"):
        plot_runs([run, empty], tmp_path / "x.png")
    with pytest.raises(AscentError, match=r"no column 'reward'.*episode_return"):
        plot_runs([run], tmp_path / "x.png", y="reward")
    with pytest.raises(AscentError, match="2 labels for 1 runs"):
        plot_runs([run], tmp_path / "x.png", labels=["a", "b"])
    with pytest.raises(AscentError, match="no runs"):
        plot_runs([], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_bias_variance_draws_bars_per_group_and_the_sweep(
    tmp_path: Path, figures: list[Figure]
) -> None:
    estimators = [
        {"label": name, "group": group, "bias": bias, "bias_se": 0.01, "variance": var}
        for group, scale in (("a", 1.0), ("b", 3.0))
        for name, bias, var in (("x", 0.02, 5.0), ("y", 0.5, 1.0))
        for bias, var in [(bias * scale, var * scale)]
    ]
    sweep = [
        {"x": lam, "series": s, "bias": b, "bias_se": 0.01, "variance": 1 + lam}
        for s, b in (("exact", 0.0), ("noisy", 0.3))
        for lam in (1.0, 0.0, 0.5)  # any order: each series is drawn sorted by x
    ]
    out = plot_bias_variance(estimators, sweep, tmp_path / "bv.png", title="t")
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    ax_var, ax_bias, ax_sweep, ax_right = figures[0].axes
    assert [t.get_text() for t in ax_var.get_yticklabels()] == ["x", "y"]
    widths = sorted(round(p.get_width(), 6) for p in ax_var.patches)
    assert widths == [1.0, 3.0, 5.0, 15.0]
    assert sorted(round(p.get_width(), 6) for p in ax_bias.patches) == [0.02, 0.06, 0.5, 1.5]
    xs, ys = ax_sweep.get_lines()[1].get_data()
    assert list(xs) == [0.0, 0.5, 1.0] and list(ys) == [0.3, 0.3, 0.3]
    assert list(ax_right.get_lines()[0].get_data()[1]) == [1.0, 1.5, 2.0]
    with pytest.raises(AscentError, match="no estimators"):
        plot_bias_variance([], sweep, tmp_path / "none.png")
