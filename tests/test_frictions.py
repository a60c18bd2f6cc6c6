"""Small frictions of issue 31 (item 8): a finished run's --resume, --version, dir(ascent),
repr(agent) and --preset/--no-preset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tyro

import ascent
from ascent import cli
from ascent.errors import ConfigError
from ascent.io import list_checkpoints
from ascent.train.runs import resume

SMALL = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder whose checkpoint is at its total_steps (64: one iteration)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, **SMALL)
    agent.learn(total_steps=64, run_dir=run, progress=False)
    agent.close()
    return run


def one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_resuming_a_finished_run_says_so_and_names_total_steps(
    finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.relative_to(finished) for p in finished.rglob("*"))
    line = one_line_error(capsys, cli.main(["train", "--resume", str(finished), "--no-progress"]))
    assert f"run {finished} has finished (64 of 64 steps)" in line
    assert f"--resume {finished} --total-steps N" in line
    # a target it has reached already is refused the same way
    code = cli.main(["train", "--resume", str(finished), "--total-steps", "32", "--no-progress"])
    assert "--total-steps 32" in one_line_error(capsys, code)
    # nothing was moved aside and the folder is free again: a larger target resumes
    assert sorted(p.relative_to(finished) for p in finished.rglob("*")) == before
    agent = resume(finished, check_finished=True, total_steps=128)
    agent.close()
    # from Python, resume() of a finished run is fine: learn(total_steps=...) goes on
    agent = resume(finished)
    try:
        assert agent.env_steps == 64 and agent.total_steps == 64
    finally:
        agent.close()


def test_a_new_run_into_a_folder_holding_another_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Training a new run into a run folder with checkpoints would mix the two runs'
    checkpoints (and --resume would pick the other run's newest): refused, nothing
    written; the run's own agent goes on writing it."""
    run = tmp_path / "run"
    own = ascent.make("ppo", env="ascent/Chain-v0", seed=3, **SMALL)
    own.learn(total_steps=64, run_dir=run, progress=False)
    own.release_run_dir()
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    args = ["train", "ppo", "--env", "ascent/Chain-v0", "--run-dir", str(run),
            "--total-steps", "64", "--no-progress"]  # fmt: skip
    line = one_line_error(capsys, cli.main(args))
    assert line == (
        f"error: run folder {run} holds another run (checkpoints to step 64); "
        f"continue it with: ascent train --resume {run}, or choose another --run-dir"
    )
    fresh = ascent.make("ppo", env="ascent/Chain-v0", seed=4, **SMALL)
    with pytest.raises(ConfigError, match="holds another run"):
        fresh.learn(total_steps=64, run_dir=run, progress=False)
    fresh.close()
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before
    try:  # its own agent goes on writing it
        own.learn(total_steps=128, run_dir=run, progress=False)
        assert own.env_steps == 128 and list_checkpoints(run)[-1][0] == 128
    finally:
        own.close()


def test_version_flag_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"ascent {ascent.__version__}\n"
    command = subprocess.run(
        [sys.executable, "-m", "ascent.cli", "--version"], capture_output=True, text=True
    )
    assert (command.returncode, command.stdout) == (0, f"ascent {ascent.__version__}\n")


def test_dir_shows_the_lazy_public_api() -> None:
    assert set(ascent.__all__) == {"Agent", "__version__", "load", "make", "sweep", "use_threads"}
    assert set(ascent.__all__) <= set(dir(ascent))
    assert not {"TYPE_CHECKING", "Any", "annotations"} & set(dir(ascent))
    for name in ascent.__all__:
        assert getattr(ascent, name) is not None


def test_repr_of_an_agent_names_algorithm_env_seed_steps_and_run(finished: Path) -> None:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, **SMALL)
    try:
        assert repr(agent) == "Agent(ppo on ascent/Chain-v0, seed 3, 0 steps, no run folder)"
    finally:
        agent.close()
    loaded = ascent.load(finished)
    try:
        assert repr(loaded) == f"Agent(ppo on ascent/Chain-v0, seed 3, 64 steps, run {finished})"
    finally:
        loaded.close()


def test_preset_flag_pair_has_no_double_negative(capsys: pytest.CaptureFixture[str]) -> None:
    def parse(*args: str) -> cli.Train:
        return tyro.cli(cli.Train, args=["ppo", "--env", "CartPole-v1", *args])

    assert parse().preset and parse("--preset").preset
    assert not parse("--no-preset").preset
    with pytest.raises(SystemExit):
        parse("--no-no-preset")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        parse("--help")
    assert "--no-no-preset" not in capsys.readouterr().out
