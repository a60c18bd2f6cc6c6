"""Optuna studies (issue 33, item 2; `ascent/tuning/study.py`): a bad search space stops
in one line before any training, the default spaces are RL-Zoo's in Ascent's names, the
pruning hook stops a trial below the median, trials left running by a dead process are
failed and tried again, the best trial round-trips through `--config`, and (slow) a
study killed with SIGKILL and started again completes its trials."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from ascent._xla import XLA_FLAGS_FOR_TESTS
from ascent.algos.config import config_fields
from ascent.catalog.registry import algorithm_class, make_config
from ascent.catalog.settings import preset_table
from ascent.cli import _read_toml, main
from ascent.tuning import study as tuning
from ascent.tuning.study import (
    RL_ZOO_NAMES,
    ReportToTrial,
    StudySpec,
    check_corners,
    default_space,
    make_pruner,
    parse_space,
    recover,
)

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 20  # of asking at once (without the turns, about 1 in 4 of them pops a retry twice)
TINY = [
    "--set", "hidden=16", "--set", "n_envs=2", "--set", "n_steps=16",
    "--set", "minibatch_size=16", "--set", "n_epochs=1", "--eval-episodes", "2",
]  # fmt: skip
SPACE = """
[lr]
low = 1e-4
high = 1e-2
log = true
[gamma]
one_minus = true
low = 0.001
high = 0.1
log = true
[hidden]
choices = [[16], [8, 8]]
"""


@pytest.fixture(autouse=True)
def shared_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawned workers compile into the tests' cache, warm from one run to the next."""
    monkeypatch.setenv("ASCENT_CACHE_DIR", str(ROOT / ".cache" / "jax"))


def tune(tmp_path: Path, *args: str) -> list[str]:
    return ["tune", "ppo", "--env", "CartPole-v1", "--out", str(tmp_path / "out"), *args]


@pytest.mark.parametrize(
    ("space", "words"),
    [
        ("[lrr]\nlow = 1e-4\nhigh = 1e-2\n", ["no setting 'lrr'", "did you mean lr", "clip_eps"]),
        ("[learning_rate]\nlow = 1e-4\nhigh = 1e-2\n", ["RL-Zoo's name", "calls it lr"]),
        ("[lr]\nlow = 1e-2\nhigh = 1e-2\n", ["[lr]", "the range is empty"]),
        ("[n_steps]\nchoices = []\n", ["[n_steps]", "at least one value"]),
        ("[lr]\nlow = 0.0\nhigh = 1e-2\nlog = true\n", ["log-uniform", "above 0"]),
        ("[ent_coef]\nlow = -0.1\nhigh = 0.1\nlog = true\n", ["[ent_coef]", "above 0"]),
        ("[lr]\nlo = 1e-4\nhigh = 1e-2\n", ["[lr] has no key 'lo'", "low, high"]),
        ("[lr]\nlow = 1e-4\nhigh = 1e-2\nlog = 1\n", ["log must be true or false"]),
        ("[lr]\nlow = 1e-4\n", ["needs low and high"]),
        ("[lr]\nlow = 1e-4\nhigh = 1e-2\nchoices = [1e-3]\n", ["not both"]),
        ("[n_steps]\nlow = 8.5\nhigh = 64\nint = true\n", ["whole bounds"]),
        ("[gae_lambda]\nlow = 0.5\nhigh = 1.5\n", ["high corner", "gae_lambda must be in"]),
        ('[activation]\nchoices = ["tanh", "swish"]\n', ["high corner", "activation"]),
        ("[train_freq]\nchoices = [1]\n", ["no setting 'train_freq'"]),
        ("[lr]\nlow = 1e-4\nhigh = 1e-2\nalso = ['vf_coeff']\n", ["no setting 'vf_coeff'"]),
        ("lr = 3\n", ["[lr] must be a table"]),
        ("[lr\n", ["not valid TOML"]),
        ("", ["no fields to tune"]),
    ],
)
def test_a_bad_search_space_is_one_line_and_exit_2_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], space: str, words: list[str]
) -> None:
    path = tmp_path / "space.toml"
    path.write_text(space)
    assert main(tune(tmp_path, "--space", str(path), "--trials", "2")) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for word in words:
        assert word in err, err
    assert not (tmp_path / "out").exists()  # nothing made, nothing trained


def test_without_optuna_ascent_tune_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tuning, "optuna", None)
    assert main(tune(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: ascent tune needs Optuna: pip install 'ascent-rl[tune]'"]


ZOO_FIELDS = {
    "ppo": {"minibatch_size", "n_steps", "gamma", "gae_lambda", "lr", "ent_coef", "clip_eps",
            "n_epochs", "max_grad_norm", "hidden", "activation"},
    "a2c": {"n_steps", "gamma", "gae_lambda", "lr", "ent_coef", "max_grad_norm", "hidden",
            "activation"},
    "sac": {"gamma", "lr", "minibatch_size", "buffer_size", "learning_starts", "train_freq",
            "gradient_steps", "tau", "hidden"},
    "td3": {"gamma", "lr", "minibatch_size", "buffer_size", "tau", "train_freq",
            "gradient_steps", "action_noise", "noise_std", "hidden"},
}  # fmt: skip
ENVS = {"ppo": "CartPole-v1", "a2c": "CartPole-v1", "sac": "Pendulum-v1", "td3": "Pendulum-v1"}


@pytest.mark.parametrize("algo", sorted(ZOO_FIELDS))
def test_the_default_spaces_are_rl_zoos_in_ascents_field_names(algo: str) -> None:
    space = parse_space(default_space(algo), algo, "default")
    fields = {f for p in space.params for f in (p.field, *p.also)}
    assert fields == ZOO_FIELDS[algo]
    assert fields <= set(config_fields(algorithm_class(algo).Config))  # real fields
    assert not fields & set(RL_ZOO_NAMES)  # in Ascent's names
    low, high = check_corners(space, algo, ENVS[algo], {})  # both corners are valid configs
    if algo in ("ppo", "a2c"):  # 1 - gamma drawn log-uniformly from [1e-4, 0.03]
        assert (low.gamma, high.gamma) == pytest.approx((1 - 1e-4, 1 - 0.03))
        assert {low.hidden, high.hidden} <= {(64,), (64, 64), (256, 256)}
    else:  # gradient_steps follows train_freq, as in the zoo
        assert (low.train_freq, low.gradient_steps, high.train_freq) == (1, 1, 512)
        assert high.gradient_steps == 512


def test_the_pruning_hook_stops_a_trial_below_the_median_after_the_warm_up() -> None:
    study = optuna.create_study(direction="maximize", pruner=make_pruner(total_steps=300))
    for _ in range(5):  # the median pruner's start-up trials
        trial = study.ask()
        hook = ReportToTrial(trial)
        assert hook(None, [{"env_steps": 50, "eval_return": 100.0}]) is None
        assert hook(None, [{"env_steps": 200, "eval_return": 100.0}]) is None
        study.tell(trial, 100.0)
    good, bad = ReportToTrial(study.ask()), ReportToTrial(study.ask())
    rows = [{"env_steps": 50, "episode_return": 1.0}, {"env_steps": 50, "eval_return": 10.0}]
    assert bad(None, rows) is None  # before the warm-up (a third of 300 steps): kept
    assert good(None, [{"env_steps": 200, "eval_return": 150.0}]) is None
    assert bad(None, [{"env_steps": 200, "episode_return": 5.0}]) is None  # no evaluation
    assert bad(None, [{"env_steps": 200, "eval_return": 10.0}]) is False  # below the median
    assert (bad.pruned_at, bad.last, good.pruned_at) == (200, 10.0, None)
    assert bad.trial.storage.get_trial(bad.trial._trial_id).intermediate_values == {
        50: 10.0,
        200: 10.0,
    }


def test_a_trial_left_running_by_a_dead_process_is_failed_and_tried_again(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    space = parse_space({"lr": {"low": 1e-4, "high": 1e-2, "log": True}}, "ppo", "test")
    spec = StudySpec("ppo", "CartPole-v1", space, {}, 4, 0, 100, 2, 300, url, "s")
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    dead, alive = study.ask(), study.ask()
    dead.suggest_float("lr", 1e-4, 1e-2, log=True)
    alive.suggest_float("lr", 1e-4, 1e-2, log=True)
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # its pid names no process now
    dead.set_user_attr("worker", f"{socket.gethostname()}:{process.pid}:1")
    alive.set_user_attr("worker", tuning._process_tag(os.getpid()))

    assert recover(spec, tuning.open_storage(url), echo=print) == [dead.number]
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING]
    assert trials[2].system_attrs["fixed_params"] == dead.params  # the next ask takes them
    assert trials[2].user_attrs == {"retry_of": dead.number}


def test_workers_asking_at_once_pop_a_retry_once(tmp_path: Path) -> None:
    # SQLite cannot lock the waiting trial's row: without `ask`'s turns, askers released at
    # once (threads here, each with its own connections, as worker processes have) can
    # pop the same retry, and all but one of them then fail at `tell`
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="s", storage=url, direction="maximize")
    askers = [optuna.load_study(study_name="s", storage=tuning.open_storage(url))
              for _ in range(6)]  # fmt: skip
    for round_ in range(ROUNDS):
        askers[0].enqueue_trial({"lr": 1e-3}, user_attrs={"retry_of": round_})
        start = threading.Barrier(len(askers))

        def ask(study: optuna.Study, start: threading.Barrier = start) -> optuna.Trial:
            start.wait()
            return tuning.ask(study, url)

        with ThreadPoolExecutor(len(askers)) as pool:
            trials = list(pool.map(ask, askers))
        assert len({t.number for t in trials}) == len(askers)  # each trial asked for once
        retries = [t.user_attrs.get("retry_of") for t in trials]
        assert sorted(retries, key=str) == [round_] + [None] * (len(askers) - 1)


def test_a_workers_line_is_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    # workers share stdout: a line written in two pieces (print's text, then its newline,
    # each its own write under PYTHONUNBUFFERED) can have another worker's line between
    writes: list[str] = []

    class Recorder:
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

        def flush(self) -> None:
            writes.append("<flush>")

    monkeypatch.setattr(sys, "stdout", Recorder())
    tuning.print_line("trial 3 [3/4]: 9.50")
    assert writes == ["trial 3 [3/4]: 9.50\n", "<flush>"]


def test_a_study_writes_its_results_and_the_best_trial_round_trips_through_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "space.toml").write_text(SPACE)
    args = ["--space", str(tmp_path / "space.toml"), "--trials", "2", "--total-steps", "256"]
    assert main(tune(tmp_path, *args, "--eval-every", "128", *TINY)) == 0
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "best.toml", "history.png", "importance.png", "study.db", "trials.csv"]  # fmt: skip
    printed = capsys.readouterr().out
    assert "trials.csv" in printed and "--config" in printed

    study = optuna.load_study(study_name="ppo-CartPole-v1", storage=f"sqlite:///{out / 'study.db'}")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    best = study.best_trial
    config = make_config("ppo", "CartPole-v1", _read_toml(out / "best.toml"))  # as --config
    assert preset_table(config) == best.user_attrs["config"]  # the trial's whole config
    assert config.lr == best.params["lr"]  # the trial's values, to the last bit
    assert config.gamma == 1 - best.params["one_minus_gamma"]
    assert list(config.hidden) == {"[16]": [16], "[8, 8]": [8, 8]}[best.params["hidden"]]
    assert (config.total_steps, config.n_envs, config.n_epochs) == (256, 2, 1)  # --set kept

    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["COMPLETE", "COMPLETE"]
    assert {r["number"]: float(r["value"]) for r in rows} == {
        str(t.number): t.value for t in study.trials
    }
    assert float(rows[best.number]["gamma"]) == config.gamma


def trial_states(db: Path) -> set[tuple[str, int]]:
    """(state, how many parameters it has drawn) of the study's trials, read without
    writing (Optuna would make the tables of a study not made yet)."""
    if not db.is_file():
        return set()
    query = (
        "SELECT t.state, COUNT(p.param_id) FROM trials t "
        "LEFT JOIN trial_params p ON p.trial_id = t.trial_id GROUP BY t.trial_id"
    )
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
            return {(state, int(n)) for state, n in connection.execute(query)}
    except sqlite3.Error:  # its tables are not made yet
        return set()


@pytest.mark.slow
def test_a_study_killed_with_sigkill_continues_and_completes_its_trials(tmp_path: Path) -> None:
    (tmp_path / "space.toml").write_text(SPACE)
    out, trials = tmp_path / "out", 4
    command = [
        sys.executable, "-m", "ascent.cli", *tune(tmp_path, "--space", str(tmp_path / "space.toml"),
        "--trials", str(trials), "--total-steps", "512", "--eval-every", "128", *TINY),
    ]  # fmt: skip
    # the crash is what is tested, not learning: the default tier's quick compiles
    env = {**os.environ, "XLA_FLAGS": XLA_FLAGS_FOR_TESTS}
    storage = f"sqlite:///{out / 'study.db'}"
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    # one done, one training: all of its parameters drawn (SPACE has 3; a trial killed
    # between two draws would leave its retry to draw the rest)
    wanted = {("COMPLETE", 3), ("RUNNING", 3)}
    deadline, states = time.monotonic() + 120, set()
    while time.monotonic() < deadline and not wanted <= states:
        time.sleep(0.05)
        states = trial_states(out / "study.db")
    assert wanted <= states, first.communicate()[0]
    first.send_signal(signal.SIGKILL)
    first.wait()
    trials_then = optuna.load_study(study_name="ppo-CartPole-v1", storage=storage).trials
    done = [t for t in trials_then if t.state == TrialState.COMPLETE]
    running = [t for t in trials_then if t.state == TrialState.RUNNING]
    worker = int(running[0].user_attrs["worker"].split(":")[1])
    for _ in range(100):  # the worker dies with its parent (PR_SET_PDEATHSIG)
        if not tuning._process_tag(worker):
            break
        time.sleep(0.1)
    assert not tuning._process_tag(worker), "the worker outlived its killed parent"

    again = subprocess.run(
        command + ["--jobs", "2"], capture_output=True, text=True, timeout=300, env=env
    )
    assert again.returncode == 0, again.stderr
    final = optuna.load_study(study_name="ppo-CartPole-v1", storage=storage).trials
    states = [t.state for t in final]
    finished = [t for t in final if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == trials and TrialState.RUNNING not in states
    for earlier in done:  # kept as they were
        assert final[earlier.number].state == TrialState.COMPLETE
        assert final[earlier.number].value == earlier.value
    killed = final[running[0].number]
    assert killed.state == TrialState.FAIL
    retry = [t for t in final if t.user_attrs.get("retry_of") == killed.number]
    assert len(retry) == 1 and retry[0].params == killed.params
    # one line per trial finished after the restart; the first line says how many were
    first_line = again.stdout.splitlines()[0]
    assert "left running by a process that ended" in first_line
    before = int(first_line.split(": ", 1)[1].split(" of ")[0])
    lines = [line for line in again.stdout.splitlines() if line.startswith("trial ")]
    assert len(lines) == trials - before and before >= len(done)
    assert (out / "best.toml").is_file() and (out / "trials.csv").is_file()
