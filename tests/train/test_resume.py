"""Resuming: a run killed mid-way and resumed from its last checkpoint ends with the
same parameters, bit for bit, as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
from safetensors.numpy import load_file

import ascent
from ascent.io import read_metrics
from ascent.train.runs import resume

ROOT = Path(__file__).resolve().parents[2]
# 1,600 updates of 64 steps in chunks of 16: a few seconds, so a kill after the first
# checkpoint lands long before the end
TOTAL_STEPS = 102_400
TRAIN = [
    "train", "ppo", "--env", "ascent/Chain-v0", "--seed", "3",
    "--total-steps", str(TOTAL_STEPS),
    "--set", "hidden=16", "--set", "n_envs=4", "--set", "n_steps=16",
    "--set", "minibatch_size=32", "--set", "n_epochs=2",
    "--eval-episodes", "2", "--no-progress",
]  # fmt: skip


def cli_env() -> dict[str, str]:
    """The test's XLA flags and the repository's compilation cache for child processes."""
    return {**os.environ, "ASCENT_CACHE_DIR": str(ROOT / ".cache" / "jax")}


def ascent_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ascent.cli", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=ROOT,
        timeout=timeout,
    )


def _rows(run_dir: Path) -> int:
    path = run_dir / "metrics.csv"
    return len(path.read_text().splitlines()) - 1 if path.is_file() else 0


def test_killed_run_resumes_bit_for_bit(tmp_path: Path) -> None:
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    process = subprocess.Popen(
        [sys.executable, "-m", "ascent.cli", *TRAIN, "--run-dir", str(cut),
         "--checkpoint-every", "64"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        # kill once a checkpoint exists (after 4 chunks of 16 updates) and the log has moved
        # on past it (6 rows), so the resumed run must also drop the rows it repeats
        while not list((cut / "checkpoints").glob("step_*")) or _rows(cut) < 6:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()  # type: ignore[union-attr]
    assert process.returncode == -signal.SIGKILL
    assert not (cut / "final").exists(), "the run finished before it was killed"

    resumed = ascent_cli("train", "--resume", str(cut), "--no-progress", "--eval-episodes", "2")
    assert resumed.returncode == 0, resumed.stderr
    first_line = resumed.stdout.splitlines()[0]
    assert first_line.startswith(f"resuming {cut} at step ")
    assert 0 < int(first_line.rsplit(" ", 1)[1]) < TOTAL_STEPS

    uninterrupted = ascent_cli(*TRAIN, "--run-dir", str(whole))
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    a = load_file(cut / "final" / "state.safetensors")
    b = load_file(whole / "final" / "state.safetensors")
    assert sorted(a) == sorted(b)
    different = [key for key in a if not np.array_equal(a[key], b[key])]
    assert not different, f"differ after resuming: {different}"
    assert any(".params" in key for key in a)
    # the resumed run's log has each step once, as the uninterrupted one does
    steps_cut = read_metrics(cut)["step"].tolist()
    assert steps_cut == read_metrics(whole)["step"].tolist()


CHAIN = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}


def test_resume_keeps_the_chunking_of_the_original_run(tmp_path: Path) -> None:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, total_steps=2048, **CHAIN)
    agent.learn(total_steps=6 * 64, run_dir=tmp_path, progress=False, log_every=3)
    again = resume(tmp_path)
    assert again.iterations == 6 and again.log_every == 3
    again.learn(total_steps=12 * 64, progress=False)
    iterations = read_metrics(tmp_path)["iterations"]
    assert iterations.tolist() == [3, 6, 9, 12]


def test_host_door_save_load_round_trip(tmp_path: Path) -> None:
    agent = ascent.make("ppo", env="CartPole-v1", seed=5, hidden=(16,), n_envs=2, n_steps=16,
                        minibatch_size=32, n_epochs=1)  # fmt: skip
    try:
        agent.learn(total_steps=64, progress=False)
        assert agent.iterations == 2 and not agent.is_jax_door
        agent.save(tmp_path / "saved")
    finally:
        agent.close()
    loaded = ascent.load(tmp_path / "saved")
    try:
        assert loaded.iterations == 2 and loaded.env_steps == 64 and loaded.config == agent.config
        saved_leaves = jax.tree.leaves(agent.state)
        loaded_leaves = jax.tree.leaves(loaded.state)
        assert len(saved_leaves) == len(loaded_leaves)
        for x, y in zip(saved_leaves, loaded_leaves, strict=True):
            assert x.dtype == y.dtype and np.array_equal(x, y)
        obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
        np.testing.assert_array_equal(agent.act(obs)[0], loaded.act(obs)[0])
    finally:
        loaded.close()


def test_compiled_door_runs_ten_rows_per_call_and_logs_each(tmp_path: Path) -> None:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, total_steps=2048, **CHAIN)
    calls = []
    run_chunk = agent.loop.run_jax_chunk
    agent.loop.run_jax_chunk = lambda state, n: calls.append(n) or run_chunk(state, n)
    agent.learn(total_steps=25 * 64, run_dir=tmp_path, progress=False, log_every=2,
                checkpoint_every=14)  # fmt: skip
    # 20-iteration calls, cut short at each checkpoint (14, 28) and at the end (25)
    assert calls == [14, 6, 5]
    metrics = read_metrics(tmp_path)
    assert metrics["iterations"].tolist() == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25]
    assert metrics["step"].tolist() == [64 * i for i in metrics["iterations"]]
    steps = sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*"))
    assert steps == [f"step_{64 * i:012d}" for i in (14, 25)]


def test_gymnasium_door_chunks_by_time_and_logs_each_row(tmp_path: Path) -> None:
    """Quick rows go to the Gymnasium door's loop several at a time (about a quarter of
    a second's worth, at most ten); every row is still logged, and each chunk still
    stops at a checkpoint."""
    agent = ascent.make("a2c", env="CartPole-v1", seed=3, n_envs=2, n_steps=5)
    calls = []
    run_chunk = agent.loop.run_host_chunk
    agent.loop.run_host_chunk = lambda state, n, obs: calls.append(n) or run_chunk(state, n, obs)
    agent.learn(total_steps=60 * 10, run_dir=tmp_path, progress=False, log_every=1,
                checkpoint_every=25)  # fmt: skip
    assert sum(calls) == 60 and calls[0] == 1  # the first chunk's time includes compiling
    assert 1 < max(calls) <= 10 and len(calls) < 30
    assert set(np.cumsum(calls)) >= {25, 50, 60}  # no chunk runs past a checkpoint
    metrics = read_metrics(tmp_path)
    assert metrics["iterations"].tolist() == list(range(1, 61))
    steps = sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*"))
    assert steps == [f"step_{10 * i:012d}" for i in (25, 50, 60)]
