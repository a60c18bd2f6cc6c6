"""Where a run's metrics rows go: loggers behind one protocol, chosen by name.

`metrics.csv` is always written: it is the record that `ascent plot`, resuming and the
tests read. The other backends are views of the same rows for the viewers people already
use, each named in `LOGGERS`:

- `tb`: TensorBoard events under `RUN/tb/` (`tensorboard --logdir runs`);
- `mlflow`: an MLflow run in `RUN/mlflow.db`, or in `MLFLOW_TRACKING_URI` where that is
  set (`pip install 'ascent-rl[mlflow]'`; view with `mlflow ui --backend-store-uri
  sqlite:///RUN/mlflow.db`);
- `wandb`: a Weights & Biases run under `RUN/wandb/`, offline unless `WANDB_MODE` says
  otherwise (`pip install 'ascent-rl[wandb]'`; upload it later with
  `wandb sync RUN/wandb/offline-run-*`).

The viewers get each metric under a tag grouped as Stable-Baselines3 groups its own
(`metric_tag`: `rollout/episode_return`, `train/policy_loss`, `eval/return`,
`time/steps_per_second`), and only finite values; the CSV keeps the plain names and every
value. Each backend imports its library when it is opened, so `import ascent` pays for none.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ascent.errors import AscentError, ConfigError
from ascent.io.metrics import TB_DIR, MetricsLogger, _EventFile
from ascent.io.run_dir import read_json

DEFAULT_LOGGERS = ("csv", "tb")
MLFLOW_DB = "mlflow.db"
WANDB_DIR = "wandb"
PROJECT = "ascent"  # the MLflow experiment and W&B project, unless the environment names one

# counters and clocks; anything else that is not an episode's or an evaluation's is learned
TIME_METRICS = frozenset({"env_steps", "iterations", "train_seconds", "steps_per_second"})


class Logger(Protocol):
    """A destination for metrics rows: `log` one row (plain metric names to scalars) at an
    environment step, `close` once at the end of a `learn` call."""

    def log(self, step: int, row: Mapping[str, float]) -> None: ...

    def close(self) -> None: ...


def metric_group(name: str) -> str:
    """The viewers' group of a metric: `eval` for an evaluation's (`eval_*`), `rollout`
    for the episodes' (`episodes`, `episode_*`, per agent too), `time` for the counters and
    clocks (`TIME_METRICS`), and `train` for everything learned (losses, entropy,
    `approx_kl`, clip fractions, `lr`, gradient norms, ...)."""
    if name.startswith("eval_"):
        return "eval"
    if name.startswith("episode"):
        return "rollout"
    if name in TIME_METRICS:
        return "time"
    return "train"


def metric_tag(name: str) -> str:
    """A metric's tag in the viewers: its group, a slash and its name, with an evaluation's
    `eval_` prefix said once (`eval_return` -> `eval/return`, `lr` -> `train/lr`)."""
    group = metric_group(name)
    return f"{group}/{name.removeprefix('eval_') if group == 'eval' else name}"


def viewer_values(row: Mapping[str, float]) -> dict[str, float]:
    """A row as the viewers take it: tagged names, finite values only."""
    values = {metric_tag(key): float(value) for key, value in row.items()}
    return {tag: value for tag, value in values.items() if math.isfinite(value)}


class TensorBoardLogger:
    """Scalars in a TensorBoard event file under `RUN/tb/`, tagged by `metric_tag`."""

    def __init__(self, run_dir: Path) -> None:
        self._events: _EventFile | None = _EventFile(run_dir / TB_DIR)

    def log(self, step: int, row: Mapping[str, float]) -> None:
        assert self._events is not None, "log after close"
        self._events.write(int(step), viewer_values(row))

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None


def _hyperparameters(run_dir: Path) -> dict[str, Any]:
    """The run's algorithm, environment, seed and config fields, from its config.json
    (written when the folder is attached); scalars only, as both trackers take them."""
    path = run_dir / "config.json"
    if not path.is_file():
        return {}
    try:
        meta = read_json(path)
    except AscentError:
        return {}
    fields = {key: meta.get(key) for key in ("algo", "env_id", "seed")}
    fields.update(meta.get("config") or {})
    return {k: v for k, v in fields.items() if isinstance(v, str | int | float | bool)}


class MLflowLogger:
    """One MLflow run per run folder, in `RUN/mlflow.db` (SQLite) or the store that
    `MLFLOW_TRACKING_URI` names; a later `learn` on the same folder logs into the same run.
    The experiment is `MLFLOW_EXPERIMENT_NAME`, or `ascent`."""

    def __init__(self, run_dir: Path) -> None:
        from mlflow.tracking import MlflowClient

        run_dir = run_dir.resolve()
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{run_dir / MLFLOW_DB}"
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or PROJECT
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            # artifacts (none are logged) would otherwise go to the working folder
            else self.client.create_experiment(name, (run_dir / "mlartifacts").as_uri())
        )
        folder = str(run_dir)
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`ascent.run_dir` = '{_quoted(folder)}'"
        )
        if found:
            self.run_id = found[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            run = self.client.create_run(
                experiment_id, run_name=run_dir.name, tags={"ascent.run_dir": folder}
            )
            self.run_id = run.info.run_id
            from mlflow.entities import Param

            params = [Param(k, str(v)) for k, v in _hyperparameters(run_dir).items()]
            for first in range(0, len(params), 100):  # MLflow takes at most 100 a batch
                self.client.log_batch(self.run_id, params=params[first : first + 100])
        self._open = True

    def log(self, step: int, row: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(tag, value, now, int(step)) for tag, value in viewer_values(row).items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def close(self) -> None:
        if self._open:
            self._open = False
            self.client.set_terminated(self.run_id)


def _quoted(text: str) -> str:
    """`text` inside single quotes of an MLflow search filter."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


class WandbLogger:
    """A Weights & Biases run whose files are under `RUN/wandb/`, offline unless
    `WANDB_MODE` is set (`wandb sync` uploads an offline run later). The project is
    `WANDB_PROJECT`, or `ascent`; each `learn` call is a W&B run of its own, named after
    the folder."""

    def __init__(self, run_dir: Path) -> None:
        import wandb

        self._run: Any = wandb.init(
            dir=str(run_dir),
            project=os.environ.get("WANDB_PROJECT") or PROJECT,
            name=run_dir.name,
            mode=os.environ.get("WANDB_MODE") or "offline",
            config=_hyperparameters(run_dir),
            reinit="create_new",  # several runs in one process (each learn call, tests)
            # stdout is the progress bar's: no banner, no capture
            settings=wandb.Settings(silent=True, console="off"),
        )

    def log(self, step: int, row: Mapping[str, float]) -> None:
        assert self._run is not None, "log after close"
        self._run.log(viewer_values(row), step=int(step))

    def close(self) -> None:
        if self._run is not None:
            run, self._run = self._run, None
            run.finish()


def _csv(run_dir: Path) -> Logger:
    return MetricsLogger(run_dir, tensorboard=False)


# name -> (opener, the modules it needs, the extra that installs them)
LOGGERS: dict[str, tuple[Callable[[Path], Logger], tuple[str, ...], str | None]] = {
    "csv": (_csv, (), None),
    "tb": (TensorBoardLogger, ("tensorboardX",), "tensorboard"),
    # SQLAlchemy: MLflow's SQLite store (mlflow-skinny leaves it out)
    "mlflow": (MLflowLogger, ("mlflow", "sqlalchemy", "alembic"), "mlflow"),
    "wandb": (WandbLogger, ("wandb",), "wandb"),
}


def _missing(name: str) -> ConfigError:
    extra = LOGGERS[name][2]
    return ConfigError(f"the {name} logger needs its library: pip install 'ascent-rl[{extra}]'")


def logger_names(names: str | Iterable[str]) -> tuple[str, ...]:
    """The loggers asked for (`"csv,tb"` or a sequence of names), checked: `csv` first and
    always there, each name once; ConfigError for an unknown name or a library that is not
    installed (looked for, not imported)."""
    if isinstance(names, str):
        names = names.split(",")
    chosen = ["csv"]
    for raw in names:
        name = raw.strip().lower()
        if not name or name in chosen:
            continue
        if name not in LOGGERS:
            raise ConfigError(f"unknown logger {raw.strip()!r}; known: {', '.join(LOGGERS)}")
        if any(importlib.util.find_spec(module) is None for module in LOGGERS[name][1]):
            raise _missing(name)
        chosen.append(name)
    return tuple(chosen)


class FanOut:
    """Every row to each of several loggers, in order (the CSV first, so the record is
    written before any viewer can fail); `close` closes them all, the first error raised
    after."""

    def __init__(self, loggers: Sequence[Logger]) -> None:
        self.loggers = list(loggers)

    def log(self, step: int, row: Mapping[str, float]) -> None:
        for logger in self.loggers:
            logger.log(step, row)

    def close(self) -> None:
        error: BaseException | None = None
        for logger in self.loggers:
            try:
                logger.close()
            except BaseException as e:  # close the rest; raise the first
                error = error or e
        self.loggers = []
        if error is not None:
            raise error


def open_loggers(run_dir: str | os.PathLike[str], names: str | Iterable[str]) -> FanOut:
    """The loggers `names` (see `logger_names`) opened on `run_dir`, as one `FanOut`."""
    run_dir = Path(run_dir)
    opened: list[Logger] = []
    try:
        for name in logger_names(names):
            try:
                opened.append(LOGGERS[name][0](run_dir))
            except ImportError as e:  # installed but broken: a dependency of it missing
                raise ConfigError(f"{_missing(name)} (importing it failed: {e})") from None
    except BaseException:
        FanOut(opened).close()
        raise
    return FanOut(opened)
