"""Bad input gets one line and exit status 2, never a traceback (issue 13, items 7 and
8): the `ascent` command is run in-process (`cli.main`, the same path as the command
line but for XLA's thread count), files are damaged on purpose, writes are made to fail."""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from matplotlib.figure import Figure

import ascent
from ascent import cli
from ascent.algos.ppo import PPOConfig
from ascent.errors import CheckpointError, ConfigError
from ascent.io import MetricsLogger, checkpoint, plot_runs

CHAIN = ["--env", "ascent/Chain-v0", "--no-progress", "--seed", "3",
         "--set", "hidden=16", "--set", "n_envs=4", "--set", "n_steps=16",
         "--set", "minibatch_size=32", "--set", "n_epochs=2"]  # fmt: skip
SMALL = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}


def one_line(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# --- item 7: a run that finishes no episode ---------------------------------------------


def test_a_run_that_ends_no_episode_succeeds_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MountainCar's episodes last 200 steps; 2 environments × 64 steps end none."""
    saved: list[Figure] = []
    real_savefig = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda f, *a, **k: saved.append(f) or real_savefig(f, *a, **k)
    )
    run = tmp_path / "run"
    code = cli.main(["train", "ppo", "--env", "MountainCar-v0", "--total-steps", "128",
                     "--set", "n_envs=2", "--set", "n_steps=64", "--set", "hidden=8",
                     "--set", "minibatch_size=64", "--eval-episodes", "1",
                     "--no-progress", "--run-dir", str(run)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert (run / "curve.png").is_file() and json.loads((run / "eval.json").read_text())
    (ax,) = saved[-1].axes
    assert "no episode ended" in " ".join(t.get_text() for t in ax.texts)
    assert ax.get_legend().get_texts()[0].get_text() == "run (no episode ended)"


def test_plotting_runs_without_episodes_next_to_one_with(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path / "none", tensorboard=False) as log:
        log.log(64, {"env_steps": 64, "loss": 1.0})
    with MetricsLogger(tmp_path / "some", tensorboard=False) as log:
        log.log(64, {"env_steps": 64, "episode_return": 3.0})
    out = plot_runs([tmp_path / "none", tmp_path / "some"], tmp_path / "both.png")
    assert out.is_file()


# --- item 8: one line and exit 2 --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--seed", "-1"], ["seed must be >= 0", "-1"]),
        (["--set", "n_envs=inf"], ["n_envs: cannot read 'inf' as int"]),
        (["--set", "total_steps=1e30"], ["total_steps must be at most"]),
        (["--set", "n_steps=16.9"], ["n_steps: cannot read '16.9' as int"]),
        (["--checkpoint-every", "-1"], ["checkpoint_every must be >= 1", "-1"]),
        (["--log-every", "0"], ["log_every must be >= 1"]),
        (["--eval-episodes", "0"], ["eval_episodes must be >= 1"]),
        (["--set", "log_std_init=nan"], ["log_std_init must be a finite number"]),
        (["--set", "gamma=inf"], ["gamma must be a finite number"]),
    ],
)
def test_bad_numbers_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    run = tmp_path / "run"
    code = cli.main(["train", "ppo", *CHAIN, *args, "--run-dir", str(run)])
    one_line(capsys, code, *words)
    assert not run.exists()  # refused before anything was made


TEAM = ["--env", "ascent/Climbing-v0", "--no-progress", "--total-steps", "200",
        "--set", "hidden=8"]  # fmt: skip


@pytest.mark.parametrize(
    ("algo", "args", "words"),
    [
        ("mappo", ["messages=attention", "message_heads=0"], ["message_heads must be > 0"]),
        ("maddpg", ["buffer_size=1000000000000"],
         ["buffer_size=1000000000000: the replay buffer would take", "TB", "available"]),
        ("qmix", ["epsilon=1.5"], ["epsilon must stay in [0, 1]", "1.5"]),
        ("qmix", ["epsilon=linear(2, -1)"], ["epsilon must stay in [0, 1]", "linear(2.0, -1.0)"]),
    ],
)  # fmt: skip
def test_bad_team_settings_on_the_command_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    algo: str,
    args: list[str],
    words: list[str],
) -> None:
    """Issue 30, item 3: each was a traceback (ZeroDivisionError, XLA's RESOURCE_EXHAUSTED
    for 216 TB) or accepted."""
    run = tmp_path / "run"
    sets = [x for arg in args for x in ("--set", arg)]
    code = cli.main(["train", algo, *TEAM, *sets, "--run-dir", str(run)])
    one_line(capsys, code, *words)
    assert not run.exists()


@pytest.mark.parametrize(
    ("field", "value", "made", "validated"),
    [
        ("gamma", True, "gamma: cannot read True as float", "gamma must be a number, got True"),
        ("n_steps", 16.9, "n_steps: cannot read 16.9", "n_steps must be a whole number, got 16.9"),
        ("log_std_init", math.nan, "log_std_init must be a finite number", "log_std_init must be"),
        ("hidden", (16, True), r"hidden: cannot read \(16, True\)", "hidden must be a whole num"),
    ],
)
def test_bad_values_from_python(field: str, value: object, made: str, validated: str) -> None:
    """Through `ascent.make` (values converted as from TOML) and building a config
    directly (values checked against the field types)."""
    with pytest.raises(ConfigError, match=made):
        ascent.make("ppo", env="ascent/Chain-v0", **{field: value})
    with pytest.raises(ConfigError, match=validated):
        PPOConfig(**{field: value}).validate()
    with pytest.raises(ConfigError, match="normalize_obs must be true or false"):
        PPOConfig(normalize_obs=1).validate()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, **SMALL)
    agent.learn(total_steps=64, progress=False)
    return agent.save(tmp_path_factory.mktemp("saved") / "agent")


def _copy(saved: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("meta.json", "state.safetensors"):
        (copy / name).write_bytes((saved / name).read_bytes())
    return copy


def _edit_meta(path: Path, **changes: object) -> None:
    record = json.loads((path / "meta.json").read_text())
    for key, value in changes.items():
        if key == "format":
            record["format"] = value
        elif key.startswith("config."):
            record["meta"]["config"][key.removeprefix("config.")] = value
        else:
            record["meta"][key] = value
    (path / "meta.json").write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"seed": "abc"}, "seed must be a whole number, got 'abc'"),
        ({"seed": -4}, "seed must be >= 0"),
        ({"log_every": -5}, "log_every must be >= 1"),
        ({"checkpoint_every": 2.5}, "checkpoint_every must be a whole number"),
        ({"train_seconds": "x"}, "train_seconds must be a number >= 0"),
        ({"config.gamma": "abc"}, "gamma: cannot read 'abc' as float"),
        ({"config.n_envs": 1e30}, "n_envs must be at most"),
        ({"format": True}, "'format' is True, not a format number"),
        ({"format": 0}, "'format' is 0, not a format number"),
        ({"format": "1"}, "'format' is '1', not a format number"),
        ({"format": 2}, "has format 2, newer than this Ascent"),
    ],
)
def test_bad_numbers_in_meta_json(
    saved: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict,
    words: str,
) -> None:
    copy = _copy(saved, tmp_path)
    _edit_meta(copy, **changes)
    with pytest.raises(CheckpointError, match=words.replace("(", r"\(")) as info:
        ascent.load(copy)
    assert "\n" not in str(info.value) and str(copy) in str(info.value)
    one_line(capsys, cli.main(["eval", str(copy)]), str(copy))


def test_a_state_file_that_is_a_device_is_not_read(saved: Path, tmp_path: Path) -> None:
    copy = _copy(saved, tmp_path)
    (copy / "state.safetensors").unlink()
    (copy / "state.safetensors").symlink_to("/dev/zero")
    start = time.monotonic()
    with pytest.raises(CheckpointError, match="not a regular file"):
        ascent.load(copy)
    assert time.monotonic() - start < 10


def test_a_state_file_longer_than_its_header_says(saved: Path, tmp_path: Path) -> None:
    copy = _copy(saved, tmp_path)
    with (copy / "state.safetensors").open("ab") as f:
        f.write(b"\0" * 4096)
    with pytest.raises(CheckpointError, match="bytes where its header says"):
        ascent.load(copy)


def test_a_meta_json_that_is_a_device_is_not_read(saved: Path, tmp_path: Path) -> None:
    copy = _copy(saved, tmp_path)
    (copy / "meta.json").unlink()
    (copy / "meta.json").symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="not a regular file"):
        ascent.load(copy)


def test_nan_parameters_are_refused_on_load(saved: Path, tmp_path: Path) -> None:
    """A checkpoint whose SHA-256 is right but whose parameters hold NaN (re-hashed by
    whoever edited it): no run ever saves one."""
    copy = _copy(saved, tmp_path)
    tensors = safetensors.numpy.load_file(copy / "state.safetensors")
    key = next(k for k in tensors if ".params" in k and tensors[k].dtype == np.float32)
    tensors[key] = np.full_like(tensors[key], np.nan)
    data = safetensors.numpy.save(tensors)
    (copy / "state.safetensors").write_bytes(data)
    record = json.loads((copy / "meta.json").read_text())
    record["sha256"]["state.safetensors"] = hashlib.sha256(data).hexdigest()
    (copy / "meta.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=f"non-finite values in {key}".replace("[", r"\[")):
        ascent.load(copy)


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EACCES])
def test_a_failing_write_stops_in_one_line_with_the_checkpoint_intact(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: int,
) -> None:
    """The third checkpoint cannot be written (a full disk, or permission refused)."""
    run = tmp_path / "run"
    real = checkpoint.write_file_durably
    calls = []

    def failing(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) > 4:  # two files a checkpoint
            raise OSError(error, os.strerror(error))
        real(path, data)

    monkeypatch.setattr(checkpoint, "write_file_durably", failing)
    code = cli.main(["train", "ppo", *CHAIN, "--total-steps", "512", "--checkpoint-every", "2",
                     "--run-dir", str(run)])  # fmt: skip
    line = one_line(capsys, code, "cannot write", os.strerror(error))
    last = run / "checkpoints" / f"step_{256:012d}"
    assert line.endswith(f"training stopped, last good checkpoint: {last}")
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        f"step_{128:012d}",
        f"step_{256:012d}",
    ]  # no half-written third one
    monkeypatch.setattr(checkpoint, "write_file_durably", real)
    assert ascent.load(last).env_steps == 256


def test_a_failing_metrics_write_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ascent.io import metrics

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(metrics._EventFile, "write", full)
    code = cli.main(["train", "ppo", *CHAIN, "--total-steps", "128",
                     "--run-dir", str(tmp_path / "run")])  # fmt: skip
    one_line(capsys, code, "No space left on device", "training stopped")


def test_evaluating_zero_episodes_is_refused(saved: Path, capsys: pytest.CaptureFixture) -> None:
    one_line(capsys, cli.main(["eval", str(saved), "--episodes", "0"]), "episodes must be >= 1")
    with pytest.raises(ConfigError, match="episodes must be >= 1"):
        ascent.load(saved).evaluate(episodes=0)
