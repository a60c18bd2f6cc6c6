"""A run folder is never lost to a resume, a second process or a kill (issue 13, items
3, 4 and 9): resuming stops at a damaged newest checkpoint instead of passing over it,
one process at a time writes a run folder, and config.json holds what the run uses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import ascent
from ascent.errors import CheckpointError, RunInUseError
from ascent.io import read_metrics
from ascent.io.run_dir import RunLock
from ascent.train.runs import resume

ROOT = Path(__file__).resolve().parents[2]
CHAIN = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}
STEPS = [f"step_{64 * i:012d}" for i in (2, 3, 4)]  # the three kept of a 4-iteration run


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASCENT_CACHE_DIR": str(ROOT / ".cache" / "jax")}
    return subprocess.run([sys.executable, "-m", "ascent.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)  # fmt: skip


def _killed_run(folder: Path) -> Path:
    """A run of 4 iterations, a checkpoint and a row after each, killed before final/."""
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, total_steps=8 * 64, **CHAIN)
    agent.learn(total_steps=4 * 64, run_dir=folder, progress=False, log_every=1,
                checkpoint_every=1)  # fmt: skip
    agent.close()
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "tb" not in p.parts and p.name != ".lock"
    }


def _damage(newest: Path, how: str) -> None:
    meta = newest / "meta.json"
    if how == "bad json":
        meta.write_text(meta.read_text()[:-20])
    elif how == "newer format":
        record = json.loads(meta.read_text())
        meta.write_text(json.dumps({**record, "format": 99}))
    else:
        (newest / "state.safetensors").unlink()


@pytest.mark.parametrize("how", ["bad json", "newer format", "state missing"])
def test_a_damaged_newest_checkpoint_stops_the_resume(tmp_path: Path, how: str) -> None:
    run = _killed_run(tmp_path / "run")
    checkpoints = run / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == STEPS
    _damage(checkpoints / STEPS[-1], how)
    before = _snapshot(run)
    with pytest.raises(CheckpointError) as info:
        resume(run)
    message = str(info.value)
    assert "\n" not in message and STEPS[-1] in message
    assert f"--resume-from {STEPS[-2]}" in message
    assert _snapshot(run) == before  # no row, no checkpoint touched
    # the run folder is free again for the user's next try
    RunLock(run).release()


def test_the_cli_names_the_damaged_checkpoint_in_one_line(tmp_path: Path) -> None:
    run = _killed_run(tmp_path / "run")
    _damage(run / "checkpoints" / STEPS[-1], "bad json")
    before = _snapshot(run)
    result = cli("train", "--resume", str(run), "--no-progress")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot resume from {STEPS[-1]}")
    assert _snapshot(run) == before


def test_resume_from_an_older_checkpoint_sets_the_later_ones_aside(tmp_path: Path) -> None:
    run = _killed_run(tmp_path / "run")
    _damage(run / "checkpoints" / STEPS[-1], "bad json")
    before = _snapshot(run)
    agent = resume(run, start=STEPS[-2])
    assert agent.env_steps == 3 * 64
    aside = list((run / "abandoned").iterdir())
    assert len(aside) == 1 and aside[0].name.startswith(f"after-{STEPS[-2]}-")
    moved = aside[0] / STEPS[-1]
    for name in ("meta.json",):  # set aside byte for byte
        assert (moved / name).read_bytes() == before[f"checkpoints/{STEPS[-1]}/{name}"]
    assert read_metrics(aside[0] / "metrics.csv")["step"].tolist() == [256]
    assert read_metrics(run)["step"].tolist() == [64, 128, 192]
    assert agent.total_steps == 4 * 64  # the target of the run it continues
    agent.learn(total_steps=8 * 64, progress=False)
    agent.close()
    assert read_metrics(run)["step"].tolist() == [64 * i for i in range(1, 9)]
    assert moved.is_dir()  # a later checkpoint of the same step did not replace it
    with pytest.raises(CheckpointError, match="no checkpoint .*step_000000000999"):
        resume(run, start="step_000000000999")


def test_one_process_at_a_time_writes_a_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = ascent.make("ppo", env="ascent/Chain-v0", seed=3, **CHAIN)
    first.attach_run_dir(run)
    try:
        second = ascent.make("ppo", env="ascent/Chain-v0", seed=4, **CHAIN)
        with pytest.raises(RunInUseError, match=f"pid {os.getpid()}"):
            second.learn(total_steps=64, run_dir=run, progress=False)
        result = cli("train", "ppo", "--env", "ascent/Chain-v0", "--run-dir", str(run),
                     "--total-steps", "64", "--no-progress")  # fmt: skip
        assert result.returncode == 2
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and f"{run} is in use by another Ascent process" in lines[0]
        assert not (run / "metrics.csv").exists()
    finally:
        first.close()
    second.learn(total_steps=64, run_dir=run, progress=False)  # free once the first closed
    second.close()


def test_the_lock_of_a_killed_process_is_free(tmp_path: Path) -> None:
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from ascent.io.run_dir import RunLock; "
         f"lock = RunLock({str(run)!r}); print('held', flush=True); time.sleep(300)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        with pytest.raises(RunInUseError, match=f"pid {holder.pid}"):
            RunLock(run)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    assert (run / ".lock").exists()  # the stale file stays; its lock went with the process
    RunLock(run).release()


def test_config_json_holds_the_options_the_run_uses(tmp_path: Path) -> None:
    run = tmp_path / "run"
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, total_steps=4096, **CHAIN)
    agent.attach_run_dir(run)

    def killed(state: object, n: int) -> None:
        raise KeyboardInterrupt  # the process dies before its first checkpoint

    agent.runner.driver.run = killed  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        agent.learn(total_steps=12 * 64, progress=False, log_every=2, checkpoint_every=3)
    agent.close()
    config = json.loads((run / "config.json").read_text())
    assert (config["log_every"], config["checkpoint_every"], config["total_steps"]) == (2, 3, 768)
    again = resume(run)
    assert (again.log_every, again.checkpoint_every, again.total_steps) == (2, 3, 768)
    again.learn(again.total_steps, progress=False)  # as `ascent train --resume` does
    again.close()
    assert again.env_steps == 768
    steps = sorted(p.name for p in (run / "checkpoints").glob("step_*"))
    assert steps == [f"step_{64 * i:012d}" for i in (6, 9, 12)]
