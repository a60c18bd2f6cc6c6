"""A run on a local Ray instance prints none of Ray's start-up lines (issue 31): no
timestamped INFO lines, and no warning about the file-descriptor limit, which Ray gives
whenever the limit is below 4096 and cannot be raised (a laptop's usual 256 or 1024).
Slow: a local Ray instance and an A3C run take about a minute on two cores."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ascent.train.workers.ray_keeper import process_table

pytest.importorskip("ray", reason="Ray is not installed: pip install 'ascent-rl[ray]'")

ROOT = Path(__file__).resolve().parents[2]
RAY_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+(INFO|WARNING) ", re.MULTILINE)


def ray_processes() -> set[int]:
    return {
        pid
        for pid, (_, _, command) in process_table().items()
        if "raylet" in command or "gcs_server" in command or command.startswith("ray::")
    }


def low_file_limit() -> None:
    """In the child: 1024 open files at most, soft and hard, so Ray cannot raise it."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@pytest.mark.slow
def test_a_local_ray_run_prints_none_of_rays_start_up_lines(tmp_path: Path) -> None:
    before = ray_processes()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env["ASCENT_CACHE_DIR"] = str(ROOT / ".cache" / "jax")
    done = subprocess.run(
        [sys.executable, "-m", "ascent.cli", "train", "a3c", "--env", "gymnax/CartPole-v1",
         "--ray-address", "local", "--total-steps", "2000", "--no-progress",
         "--set", "workers=2", "--set", "n_envs=4", "--set", "n_steps=5",
         "--set", "hidden=16", "--eval-episodes", "2", "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=400,
        preexec_fn=low_file_limit,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "evaluation over 2 episodes" in done.stdout
    assert not RAY_LOG_LINE.findall(done.stderr), done.stderr
    for line in ("File descriptor limit", "Started a local Ray instance", "Connected to Ray"):
        assert line not in done.stderr, done.stderr
    time.sleep(1.0)
    assert not (ray_processes() - before)  # quiet, and still nothing left running
