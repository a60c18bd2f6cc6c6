"""Optuna studies over an algorithm's settings (`ascent tune`), on either door, stored in
SQLite so that a killed study resumes.

**Search space.** A TOML file, one table per config field (`core.kind` as `["core.kind"]`
or `[core.kind]`):

    [lr]                      # a float range; log = true: log-uniform (low > 0)
    low = 1e-5
    high = 1e-2
    log = true
    [n_steps]                 # categorical: numbers, strings, booleans or lists
    choices = [64, 128, 256]
    [n_epochs]                # whole numbers: int = true, or whole bounds on an int field
    low = 1
    high = 20
    [gamma]                   # one_minus = true: 1 - gamma is drawn from [low, high]
    one_minus = true
    low = 1e-4
    high = 0.03
    log = true
    [train_freq]              # also: more fields set to the same value
    choices = [1, 8, 64]
    also = ["gradient_steps"]

Everything is checked before any training, each fault one line (`ConfigError`): a field
the algorithm lacks (naming its fields, and Ascent's name for an RL-Zoo one), a key a
table cannot have, an empty range or empty choices, a log-uniform range that reaches 0,
and the configs at the space's two corners (every range at its low end and first choice,
then at its high end and last choice) built as `ascent train` builds one (`make_config`).
A sampled config that still fails (a combination: minibatch_size above n_steps × n_envs)
is pruned, not trained, its reason kept in the trial's `invalid` attribute; a trial whose
training turns non-finite is pruned the same way (`diverged`), so that TPE learns to
avoid both rather than resample them.

**Default spaces** (no `--space`): RL Baselines3 Zoo's for PPO, A2C, SAC and TD3
(`rl_zoo3/hyperparams_opt.py`, `sample_<algo>_params`, DLR-RM/rl-baselines3-zoo at
0a9df503), carried into `ascent/catalog/presets/spaces/<algo>.toml` with Ascent's names:
learning_rate -> lr, batch_size -> minibatch_size, clip_range -> clip_eps, net_arch ->
hidden (both networks' widths), activation_fn -> activation, noise_type -> action_noise;
n_steps, n_epochs, gamma, gae_lambda, ent_coef, max_grad_norm, buffer_size,
learning_starts, train_freq and tau keep theirs. γ and λ are drawn as the zoo draws them
(1 - γ log-uniform), and gradient_steps follows train_freq as in the zoo. Left out, with
no Ascent field: SAC's log_std_init (Ascent's SAC policy outputs its log-std), SAC's
ent_coef and target_entropy "auto" (Ascent's defaults already), HER's settings. TD3's
noise_std starts at 0.01, not 0 (Ascent's must be above 0). Each file's header says
the same.

**A trial** builds its config as `ascent train` does: the preset, then `--set`, then the
trial's values; trains an `Agent` with a deterministic evaluation every `eval_every`
steps, each reported to the trial by `ReportToTrial` (a `learn` callback: the hooks of
`train/hooks.py`), which stops training when the median pruner says so; and scores the
final deterministic evaluation's mean return, maximised. Every trial trains with the
same seed (`--seed`), so two trials differ by their settings only.

**Sampler and pruner.** TPE (RL-Zoo's: 10 random trials first, multivariate), with the
constant liar so that parallel workers do not sample the same point, seeded from
`--seed`, the worker's index and the number of trials already in the study (a resumed
study does not replay the random trials it has); the median pruner after 5 trials, on
reports past the first third of training.

**Workers.** `--jobs N` trials at a time, each in a process of its own (multiprocessing's
spawn), XLA on one thread in each (`ascent._xla.XLA_FLAGS`, set before the worker
imports JAX), all sharing the study through its storage (SQLite: one writer at a time,
others wait up to a minute for the lock). A worker prints one line per finished trial
(its number, value or "pruned", settings and the best so far) and stops when the
COMPLETE and PRUNED trials, with the ones RUNNING, reach `--trials`; two workers that
start the last slot at once leave the later one's trial FAIL (`surplus`), untrained; on
SQLite, which cannot lock a row, the workers of one machine take turns to ask for a
trial, so that a retry is popped by one of them only (`ask`). A worker dies with its
parent (Linux: PR_SET_PDEATHSIG), so a killed `ascent tune` leaves nothing running.

**Crash safety.** The same storage and study name (and the same algorithm, environment,
space and settings: another combination is refused) continue the study. Its trials left
RUNNING by a process that has ended (same host; the process is told apart from a later
one with its pid by its start time) are marked FAIL and their parameters enqueued again
(`study.enqueue_trial`), so the killed point is trained again instead of lost: the trials
the sampler proposed are all scored, and TPE's sequence is not skewed by a gap. A trial
stopped by SIGINT or SIGTERM is failed and enqueued the same way. The study goes on until
its COMPLETE + PRUNED trials number `--trials`.

**Results** in `out/`: `best.toml`, the best trial's whole config as a preset (`ascent
train ALGO --env ENV --config best.toml` trains it); `trials.csv`, one row per trial with
its settings in config names; `history.png` and `importance.png` (Optuna's matplotlib
plots; importance needs two completed trials whose settings differ).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import difflib
import fcntl
import json
import math
import multiprocessing
import os
import signal
import socket
import sys
import tomllib
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ascent._xla import XLA_FLAGS, XLA_FLAGS_BY_AFFINITY
from ascent.algos.config import config_fields, whole_number
from ascent.catalog.registry import algorithm_class, build_algorithm, make_config
from ascent.catalog.settings import preset_table
from ascent.envs import HostVecEnv
from ascent.envs import make as make_env
from ascent.errors import AscentError, ConfigError, TrainingError
from ascent.io import new_run_dir
from ascent.io.figures import save_figure
from ascent.io.tables import read_toml, write_csv, write_toml
from ascent.train.agent import Agent

try:
    import optuna
    from optuna.trial import TrialState
except ImportError:  # the `tune` extra
    optuna = None

MISSING_OPTUNA = "ascent tune needs Optuna: pip install 'ascent-rl[tune]'"

SPACE_KEYS = ("low", "high", "log", "int", "choices", "one_minus", "also")

RL_ZOO_NAMES = {
    "learning_rate": "lr",
    "batch_size": "minibatch_size",
    "clip_range": "clip_eps",
    "net_arch": "hidden",
    "activation_fn": "activation",
    "noise_type": "action_noise",
}
"""RL-Zoo's names of settings that Ascent calls otherwise (named in a bad space's error)."""

DEFAULT_SPACES = ("ppo", "a2c", "sac", "td3")

STARTUP_TRIALS = 10  # TPE's random trials first (RL-Zoo's n_startup_trials)
PRUNER_STARTUP_TRIALS = 5  # trials the median pruner waits for
SQLITE_TIMEOUT = 60.0  # seconds a worker waits for SQLite's write lock
EVALUATIONS = 5  # evaluations per trial when --eval-every is not given
OWNER = "worker"  # a trial's user attribute: the process that runs it (`_process_tag`)


# --- search spaces ------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One field's range or choices. A list among the choices is drawn by its label (its
    JSON text: Optuna's categorical values are scalars) and set as the list."""

    field: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None
    one_minus: bool = False
    also: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The parameter's name in the study (what Optuna's plots show)."""
        return f"one_minus_{self.field}" if self.one_minus else self.field

    def labels(self) -> tuple[Any, ...]:
        assert self.choices is not None
        return tuple(json.dumps(c) if isinstance(c, list | dict) else c for c in self.choices)

    def suggest(self, trial: Any) -> Any:
        """The study's value for this trial (a label for a list)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, self.labels())
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def fields(self, value: Any) -> dict[str, Any]:
        """Config fields from the study's value."""
        if self.choices is not None:
            value = self.choices[self.labels().index(value)]
        elif self.one_minus:
            value = 1.0 - value
        return dict.fromkeys((self.field, *self.also), value)

    def ends(self) -> tuple[Any, Any]:
        """The study's values at the low end (first choice) and the high end (last)."""
        if self.choices is not None:
            return self.labels()[0], self.labels()[-1]
        return self.low, self.high

    def to_table(self) -> dict[str, Any]:
        """As a TOML table (the space stored with a study, compared when it resumes)."""
        table: dict[str, Any] = {"choices": list(self.choices)} if self.choices else {
            "low": self.low, "high": self.high, "log": self.log, "int": self.integer,
            "one_minus": self.one_minus,
        }  # fmt: skip
        return {**table, "also": list(self.also)} if self.also else table


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]
    source: str  # the file, or "the default ppo space", for messages

    def sample(self, trial: Any) -> dict[str, Any]:
        """The config fields this trial tries."""
        return self.fields({p.name: p.suggest(trial) for p in self.params})

    def fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Config fields from a trial's parameters (`trial.params`); those missing are
        left out."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in values:
                out.update(p.fields(values[p.name]))
        return out

    def to_tables(self) -> dict[str, Any]:
        return {p.field: p.to_table() for p in self.params}


def read_space(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A search-space file's tables; ConfigError when it cannot be read."""
    return read_toml(path, "search space")


def default_space(algo: str) -> dict[str, Any]:
    """RL-Zoo's space for `algo` in Ascent's names (module docstring)."""
    name = algorithm_class(algo).name
    if name not in DEFAULT_SPACES:
        raise ConfigError(
            f"there is no default search space for {name} (there are for "
            f"{', '.join(DEFAULT_SPACES)}): give one with --space FILE.toml"
        )
    path = resources.files("ascent.catalog.presets").joinpath(f"spaces/{name}.toml")
    with path.open("rb") as f:
        return tomllib.load(f)


def parse_space(tables: Mapping[str, Any], algo: str, source: str) -> SearchSpace:
    """A checked `SearchSpace` for `algo` from TOML tables; ConfigError, in one line
    naming `source` and the table, for anything wrong."""
    cls = algorithm_class(algo)
    kinds = _field_kinds(cls.Config)
    known = list(kinds)
    if not tables:
        raise ConfigError(f"search space {source} has no fields to tune")
    params = []
    for name, table in _flatten(tables):
        where = f"search space {source}: [{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table of low/high or choices, got {table!r}")
        _check_field(name, known, cls.name, where)
        params.append(_param(name, table, kinds.get(name), known, cls.name, where))
    taken: dict[str, str] = {}
    for p in params:
        for f in (p.field, *p.also):
            if f in taken:
                raise ConfigError(
                    f"search space {source}: {f} is set by [{taken[f]}] and [{p.field}]"
                )
            taken[f] = p.field
    return SearchSpace(tuple(params), source)


def _flatten(tables: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field, table) pairs; `[core.kind]` (a table of tables) becomes `core.kind`."""
    for name, table in tables.items():
        nested = (
            isinstance(table, dict)
            and table
            and not set(table) & set(SPACE_KEYS)
            and all(isinstance(v, dict) for v in table.values())
        )
        if nested:
            yield from ((f"{name}.{sub}", t) for sub, t in table.items())
        else:
            yield name, table


def _field_kinds(config: type) -> dict[str, Any]:
    """The config's fields and their types, a nested spec's as `core.<name>`."""
    out = {}
    for name, kind in config_fields(config).items():
        if dataclasses.is_dataclass(kind):
            out.update({f"{name}.{sub}": k for sub, k in typing.get_type_hints(kind).items()})
        else:
            out[name] = kind
    return out


def _check_field(name: str, known: Sequence[str], algo: str, where: str) -> None:
    if name in known:
        return
    if name in RL_ZOO_NAMES and RL_ZOO_NAMES[name] in known:
        hint = f" (RL-Zoo's name: Ascent calls it {RL_ZOO_NAMES[name]})"
    else:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(
        f"{where}: {algo} has no setting {name!r}{hint}; its settings are: {', '.join(known)}"
    )


def _param(
    name: str, table: dict[str, Any], kind: Any, known: Sequence[str], algo: str, where: str
) -> Param:
    bad = [k for k in table if k not in SPACE_KEYS]
    if bad:
        raise ConfigError(f"{where} has no key {bad[0]!r}; its keys are: {', '.join(SPACE_KEYS)}")
    for flag in ("log", "int", "one_minus"):
        if not isinstance(table.get(flag, False), bool):
            raise ConfigError(f"{where}: {flag} must be true or false, got {table[flag]!r}")
    also = table.get("also", [])
    if not isinstance(also, list) or not all(isinstance(a, str) for a in also):
        raise ConfigError(f"{where}: also must be a list of field names, got {also!r}")
    for other in also:
        _check_field(other, known, algo, f"{where} also")
    if "choices" in table:
        extra = [k for k in ("low", "high", "log", "int", "one_minus") if k in table]
        if extra:
            raise ConfigError(f"{where}: choices or a range (low, high), not both ({extra[0]})")
        choices = table["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a list of at least one value")
        labels = [json.dumps(c) if isinstance(c, list | dict) else c for c in choices]
        if len(set(map(repr, labels))) != len(labels):
            raise ConfigError(f"{where}: choices repeat a value: {choices!r}")
        return Param(name, choices=tuple(choices), also=tuple(also))
    for end in ("low", "high"):
        value = table.get(end)
        if value is None:
            raise ConfigError(f"{where} needs low and high (a range) or choices")
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ConfigError(f"{where}: {end} must be a number, got {value!r}")
        if math.isinf(value):
            raise ConfigError(f"{where}: {end} must be finite, got {value!r}")
    low, high, log = table["low"], table["high"], table.get("log", False)
    if not low < high:
        raise ConfigError(f"{where}: the range is empty: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ConfigError(
            f"{where}: a log-uniform range must lie above 0, got low = {low} (use log = false, "
            "or a positive low)"
        )
    whole = isinstance(low, int) and isinstance(high, int)
    integer = table.get("int", whole and kind is int)
    if integer and not whole:
        raise ConfigError(f"{where}: int = true needs whole bounds, got {low} and {high}")
    one_minus = table.get("one_minus", False)
    if one_minus and integer:
        raise ConfigError(f"{where}: one_minus draws 1 - {name} from a range of floats, not int")
    return Param(
        name, low=low, high=high, log=log, integer=integer, one_minus=one_minus, also=tuple(also)
    )


def check_corners(
    space: SearchSpace, algo: str, env: str, overrides: Mapping[str, Any]
) -> list[Any]:
    """The configs at the space's two corners (every range at its low end, every choice
    its first; then the high ends, the last), built and validated as `ascent train`
    builds one; ConfigError naming the corner otherwise. Returns the two configs."""
    configs = []
    for corner, side in (("low", 0), ("high", 1)):
        values = {p.name: p.ends()[side] for p in space.params}
        fields = space.fields(values)
        try:
            configs.append(make_config(algo, env, {**overrides, **fields}))
        except ConfigError as e:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in fields.items())
            raise ConfigError(
                f"search space {space.source}: at its {corner} corner ({shown}) the config "
                f"is invalid: {e}"
            ) from None
    return configs


def check_environment(algo: str, env: str, config: Any) -> None:
    """EnvError, before any trial, for an id that names no environment or one that `algo`
    cannot train on (made once, with one copy, and closed)."""
    environment = make_env(env, n_envs=1, seed=0)
    try:
        build_algorithm(algorithm_class(algo), config, environment)
    finally:
        if isinstance(environment, HostVecEnv):
            environment.close()


# --- one trial ----------------------------------------------------------------------


class ReportToTrial:
    """A `learn` callback (`train/hooks.py`) that reports each periodic evaluation's mean
    return to an Optuna trial at its step, and stops training when the trial's pruner
    says so (`pruned_at` then holds the step)."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.pruned_at: int | None = None
        self.last: float | None = None  # the last evaluation's mean return

    def __call__(self, agent: Any, rows: Sequence[Mapping[str, float]]) -> bool | None:
        for row in rows:
            if "eval_return" not in row:
                continue
            step, self.last = int(row["env_steps"]), float(row["eval_return"])
            self.trial.report(self.last, step)
            if self.trial.should_prune():
                self.pruned_at = step
                return False
        return None


@dataclass(frozen=True)
class StudySpec:
    """What every worker of a study needs (picklable: sent to spawned processes)."""

    algo: str
    env: str
    space: SearchSpace
    overrides: dict[str, Any]
    trials: int
    seed: int
    eval_every: int
    eval_episodes: int
    total_steps: int  # the base config's, for the pruner's warm-up
    storage: str
    study_name: str

    def settings(self) -> dict[str, Any]:
        """What a resumed study must share with the one it continues (JSON)."""
        return _jsonable({
            "algo": self.algo, "env": self.env, "space": self.space.to_tables(),
            "overrides": self.overrides, "seed": self.seed, "eval_every": self.eval_every,
            "eval_episodes": self.eval_episodes,
        })  # fmt: skip


def objective(spec: StudySpec, trial: Any) -> float:
    """Train the trial's config and return its final deterministic evaluation's mean
    return; raises `optuna.TrialPruned` for a pruned, invalid or diverged one."""
    fields = spec.space.sample(trial)
    try:
        config = make_config(spec.algo, spec.env, {**spec.overrides, **fields})
    except ConfigError as e:
        trial.set_user_attr("invalid", str(e))
        raise optuna.TrialPruned(f"invalid config: {e}") from None
    trial.set_user_attr("config", _jsonable(preset_table(config)))
    agent = Agent(spec.algo, spec.env, config, spec.seed)
    try:
        report = ReportToTrial(trial)
        try:
            agent.learn(
                progress=False,
                eval_every=spec.eval_every,
                eval_episodes=spec.eval_episodes,
                callback=report,
            )
        except TrainingError as e:  # a non-finite loss or parameter: these settings diverge
            trial.set_user_attr("diverged", str(e))
            raise optuna.TrialPruned(f"diverged: {e}") from None
        if report.pruned_at is not None:
            trial.set_user_attr("pruned_at", report.pruned_at)
            raise optuna.TrialPruned(
                f"pruned at step {report.pruned_at} (evaluation {report.last:.2f})"
            )
        return agent.evaluate(spec.eval_episodes).mean_return
    finally:
        agent.close()


def make_sampler(seed: int, worker: int, trials_before: int) -> Any:
    """TPE seeded from the study's seed, the worker and the trials already stored."""
    state = np.random.SeedSequence([seed, worker, trials_before]).generate_state(1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            n_startup_trials=STARTUP_TRIALS,
            multivariate=True,
            constant_liar=True,
            seed=int(state),
        )


def make_pruner(total_steps: int) -> Any:
    """The median pruner, deciding on reports past the first third of training."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=total_steps // 3
    )


# --- the study ----------------------------------------------------------------------


def open_storage(url: str) -> Any:
    """Optuna's RDB storage at `url`; SQLite waits for its write lock rather than fail."""
    kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT}} if url.startswith("sqlite") else {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as e:  # SQLAlchemy's many errors for a bad URL or an unreadable file
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"cannot open the study storage {url}: {reason}") from None


def load_study(spec: StudySpec, storage: Any, sampler: Any = None) -> Any:
    return optuna.load_study(
        study_name=spec.study_name,
        storage=storage,
        sampler=sampler,
        pruner=make_pruner(spec.total_steps),
    )


def _counts(study: Any, before: int | None = None) -> tuple[int, int]:
    """(finished: COMPLETE + PRUNED, RUNNING) trials, of those numbered below `before`."""
    finished = running = 0
    for t in study.get_trials(deepcopy=False):
        if before is not None and t.number >= before:
            continue
        finished += t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        running += t.state == TrialState.RUNNING
    return finished, running


def run_trials(spec: StudySpec, worker: int = 0, echo: Callable[[str], None] = print) -> None:
    """One worker's loop: ask, train, tell, print, until the study has its trials."""
    storage = open_storage(spec.storage)
    before = len(load_study(spec, storage).get_trials(deepcopy=False))
    study = load_study(spec, storage, make_sampler(spec.seed, worker, before))
    parent = os.getppid()
    while os.getppid() == parent:  # a worker whose parent died stops
        finished, running = _counts(study)
        if finished + running >= spec.trials:
            return
        trial = ask(study, spec.storage)
        if sum(_counts(study, before=trial.number)) >= spec.trials:
            # another worker took the last slot as this one asked: leave it untrained
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            return
        try:
            value = objective(spec, trial)
        except optuna.TrialPruned as e:
            frozen = study.tell(trial, state=TrialState.PRUNED)
            echo(_progress(spec, study, frozen, str(e)))
        except BaseException as e:
            study.tell(trial, state=TrialState.FAIL)
            if isinstance(e, KeyboardInterrupt):  # SIGINT, SIGTERM: tried again on resume
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            raise
        else:
            frozen = study.tell(trial, value)
            echo(_progress(spec, study, frozen, f"{value:.2f}"))


def ask(study: Any, url: str) -> Any:
    """`study.ask()`, one worker of this machine at a time on a SQLite study, the new trial
    tagged with its process (`OWNER`). A waiting trial (a retry) is popped by setting it
    RUNNING after reading it WAITING; other databases lock the row in between (SELECT ...
    FOR UPDATE), SQLite has no row locks, so two workers asking at once could both pop
    it, both train it, and the later one's `tell` fail ("Cannot tell a COMPLETE trial";
    optuna#4621). Here they take turns: an exclusive flock on the database file, held
    only while asking (on Linux independent of SQLite's own fcntl locks on it)."""
    with _asking_alone(url):
        trial = study.ask()
        trial.set_user_attr(OWNER, _process_tag(os.getpid()))
    return trial


@contextlib.contextmanager
def _asking_alone(url: str) -> Iterator[None]:
    database = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    if not database:  # another database, or SQLite in memory (one process)
        yield
        return
    with open(database, "rb") as lock:  # made by `run_study` before any worker starts
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _progress(spec: StudySpec, study: Any, trial: Any, outcome: str) -> str:
    finished, _ = _counts(study)
    settings = " ".join(f"{k}={_show(v)}" for k, v in spec.space.fields(trial.params).items())
    try:
        best = study.best_trial
        best_text = f"best {best.value:.2f} (trial {best.number})"
    except ValueError:  # no trial has completed
        best_text = "no trial completed yet"
    return f"trial {trial.number} [{finished}/{spec.trials}]: {outcome} | {settings} | {best_text}"


def recover(spec: StudySpec, storage: Any, echo: Callable[[str], None] = print) -> list[int]:
    """Trials left RUNNING by a process that has ended: marked FAIL, their parameters
    enqueued to be trained again. Returns their numbers. A trial running elsewhere
    (another host, a live process) is left alone."""
    study = load_study(spec, storage)
    study_id = storage.get_study_id_from_name(spec.study_name)
    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(t.user_attrs.get(OWNER, ""))
        owner_host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if owner and owner_host != host:
            echo(f"trial {t.number} is running on {owner_host}: left alone")
            continue
        if owner and pid.isdigit() and _process_tag(int(pid)) == owner:
            continue  # its process is alive: another `ascent tune` on the same study
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        storage.set_trial_user_attr(trial_id, "failed", "left running by a process that ended")
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
        if t.params:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
        failed.append(t.number)
    return failed


def _process_tag(pid: int) -> str:
    """host:pid:start, the start time (Linux: /proc/PID/stat's field 22) telling a process
    from a later one given the same pid; '' when no process has `pid`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ""
    except PermissionError:
        pass  # alive, another user's
    try:
        start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = ""
    return f"{socket.gethostname()}:{pid}:{start}"


def run_study(
    algo: str,
    env: str,
    *,
    trials: int = 50,
    jobs: int = 1,
    storage: str | None = None,
    study_name: str | None = None,
    space: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    eval_every: int | None = None,
    eval_episodes: int = 10,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> Path:
    """Run (or continue) a study of `algo` on `env` until it has `trials` COMPLETE or
    PRUNED trials, `jobs` at a time, and write its results to `out` (module docstring).
    `overrides`: config fields over the preset, under the trial's values. Returns `out`.
    Everything is checked, in one line (`ConfigError`), before a trial starts."""
    if optuna is None:
        raise ConfigError(MISSING_OPTUNA)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = algorithm_class(algo).name
    trials = whole_number("trials", trials)
    jobs = whole_number("jobs", jobs)
    eval_episodes = whole_number("eval_episodes", eval_episodes)
    overrides = dict(overrides or {})
    if space is None:
        tables, source = default_space(name), f"(the default {name} space)"
    else:
        tables, source = read_space(space), str(space)
    parsed = parse_space(tables, name, source)
    base, _ = check_corners(parsed, name, env, overrides)
    check_environment(name, env, base)
    if eval_every is None:
        eval_every = max(1, base.total_steps // EVALUATIONS)
    eval_every = whole_number("eval_every", eval_every)
    out = Path(out) if out is not None else new_run_dir(f"tune-{name}", env)
    out.mkdir(parents=True, exist_ok=True)
    spec = StudySpec(
        algo=name,
        env=env,
        space=parsed,
        overrides=overrides,
        trials=trials,
        seed=whole_number("seed", seed, minimum=0),
        eval_every=eval_every,
        eval_episodes=eval_episodes,
        total_steps=base.total_steps,
        storage=storage or f"sqlite:///{out.resolve() / 'study.db'}",
        study_name=study_name or f"{name}-{env}",
    )
    rdb = open_storage(spec.storage)
    study = optuna.create_study(
        study_name=spec.study_name, storage=rdb, direction="maximize", load_if_exists=True
    )
    _check_same_study(study, spec)
    failed = recover(spec, rdb, echo)
    finished, _ = _counts(study)
    echo(
        f"study {spec.study_name!r} in {spec.storage}: {finished} of {trials} trials done"
        + (
            f"; trials {', '.join(map(str, failed))} left running by a process that ended: "
            "failed, their settings queued again"
            if failed
            else ""
        )
        + f"; results in {out}"
    )
    if finished < trials:
        _run_workers(spec, jobs)
    write_results(load_study(spec, rdb), spec, out, echo)
    return out


def _check_same_study(study: Any, spec: StudySpec) -> None:
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ConfigError(f"study {spec.study_name!r} in {spec.storage} minimises: another name")
    stored = study.user_attrs.get("ascent")
    settings = spec.settings()
    if stored is None:
        study.set_user_attr("ascent", settings)
        return
    differ = [k for k in settings if stored.get(k) != settings[k]]
    if differ:
        raise ConfigError(
            f"study {spec.study_name!r} in {spec.storage} was started with other "
            f"{', '.join(differ)}: give the same ones to continue it, or another --study-name"
        )


def _run_workers(spec: StudySpec, jobs: int) -> None:
    """`jobs` spawned processes running `run_trials`; an error one of them met is raised
    here, once."""
    context = multiprocessing.get_context("spawn")
    pipes = [context.Pipe(duplex=False) for _ in range(jobs)]  # (receive, send): its error
    workers = [
        context.Process(target=_worker, args=(spec, i, send), name=f"ascent-tune-{i}")
        for i, (_, send) in enumerate(pipes)
    ]
    with _environment("XLA_FLAGS", _worker_flags()):  # read by each worker's XLA at start
        for w in workers:
            w.start()
    try:
        for w in workers:
            w.join()
    except KeyboardInterrupt:  # the workers had SIGINT too: they fail and queue their trials
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.terminate()
        raise
    errors = [receive.recv() for receive, _ in pipes if receive.poll()]
    if errors:
        raise AscentError(errors[0])
    crashed = [w.exitcode for w in workers if w.exitcode != 0]
    if crashed:
        raise AscentError(f"a worker of the study ended with status {crashed[0]} (see above)")


def _worker_flags() -> str:
    """XLA's flags for workers: the user's, else one thread each (`XLA_FLAGS`, not the
    CLI's per-affinity ones: several workers share the cores)."""
    flags = os.environ.get("XLA_FLAGS")
    return XLA_FLAGS if flags in (None, "", XLA_FLAGS_BY_AFFINITY) else flags


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


def _worker(spec: StudySpec, index: int, errors: Any) -> None:
    """A spawned worker's body: it dies with its parent, prints its trials, and sends an
    Ascent error back as one line."""
    _die_with_parent()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        run_trials(spec, index, echo=print_line)
    except AscentError as e:
        errors.send(str(e))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def print_line(line: str) -> None:
    """`line` and its newline to stdout in one write, flushed: the workers share stdout,
    and under PYTHONUNBUFFERED `print`'s text and newline are two writes, between which
    another worker's line could land (seen: two trials' lines on one)."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent ends (PR_SET_PDEATHSIG), so a killed
    `ascent tune` leaves no worker training; elsewhere the worker stops between trials."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG


# --- results ------------------------------------------------------------------------


def write_results(study: Any, spec: StudySpec, out: Path, echo: Callable[[str], None]) -> None:
    """best.toml, trials.csv, history.png and importance.png in `out`."""
    trials = study.get_trials(deepcopy=False)
    write_csv(out / "trials.csv", [_row(spec.space, t) for t in trials])
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        echo(f"no trial completed: no best.toml or plots; wrote {out / 'trials.csv'}")
        return
    best = study.best_trial
    write_toml(
        out / "best.toml",
        best.user_attrs["config"],
        header=(
            f"ascent tune: the best of {len(complete)} completed trials of study "
            f"{spec.study_name!r} ({spec.storage}): trial {best.number}, mean return "
            f"{best.value:.2f}\nascent train {spec.algo} --env {spec.env} --config best.toml"
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        from optuna.visualization import matplotlib as plots

        save_figure(plots.plot_optimization_history(study).figure, out / "history.png")
        varied = any(
            len({repr(t.params.get(p.name)) for t in complete}) > 1 for p in spec.space.params
        )
        written = ["best.toml", "trials.csv", "history.png"]
        if len(complete) < 2 or not varied:
            echo("importance plot skipped: it needs two completed trials with different settings")
        else:
            try:
                with warnings.catch_warnings(record=True) as caught:  # said in one line each
                    warnings.simplefilter("always", UserWarning)
                    figure = plots.plot_param_importances(study).figure
                save_figure(figure, out / "importance.png")
                written.append("importance.png")
                for w in caught:
                    echo(f"importance plot: {w.message}")
            except (ValueError, RuntimeError) as e:
                echo(f"importance plot skipped: {e}")
    echo(
        f"best: trial {best.number}, mean return {best.value:.2f} | "
        + " ".join(f"{k}={_show(v)}" for k, v in spec.space.fields(best.params).items())
    )
    echo(f"wrote {', '.join(written)} to {out}")
    echo(f"train it: ascent train {spec.algo} --env {spec.env} --config {out / 'best.toml'}")


def _row(space: SearchSpace, t: Any) -> dict[str, Any]:
    note = next(
        (f"{k}: {t.user_attrs[k]}" for k in ("invalid", "diverged", "failed", "surplus")
         if k in t.user_attrs), ""
    )  # fmt: skip
    if "pruned_at" in t.user_attrs:
        note = f"pruned at step {t.user_attrs['pruned_at']}"
    if "retry_of" in t.user_attrs:
        note = f"{note}; retry of trial {t.user_attrs['retry_of']}".lstrip("; ")
    seconds = (
        (t.datetime_complete - t.datetime_start).total_seconds()
        if t.datetime_complete and t.datetime_start
        else None
    )
    fields = {
        k: json.dumps(v) if isinstance(v, list) else v for k, v in space.fields(t.params).items()
    }
    return {
        "number": t.number,
        "state": t.state.name,
        "value": t.value,
        **fields,
        "seconds": None if seconds is None else round(seconds, 2),
        "note": note,
    }


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return json.dumps(value).replace(" ", "")
    return str(value)


def _jsonable(obj: Any) -> Any:
    """Through JSON and back: what Optuna's storage gives back (tuples as lists)."""
    return json.loads(json.dumps(obj))


__all__ = [
    "ReportToTrial",
    "SearchSpace",
    "check_corners",
    "default_space",
    "parse_space",
    "read_space",
    "run_study",
]
