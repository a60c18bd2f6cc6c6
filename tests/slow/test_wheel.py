"""Installing Ascent into another project (issue 31): the wheel, built from a copy of the
sources, goes into a fresh virtualenv that knows nothing of this checkout, and trains
PPO on CartPole there from the command line and from Python, with the presets and tasks
that ship inside it (slow: about three minutes, most of it pip installing JAX)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ascent.catalog.registry import preset, presets

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = """
import json, ascent
from ascent.catalog.registry import preset, presets
a = ascent.make("ppo", "CartPole-v1", total_steps=2048)
a.learn(progress=False)
mean_return = a.evaluate(2).mean_return
maze = ascent.make("ppo", "ascent/TMaze-v0")
print(json.dumps({"mean_return": mean_return, "file": ascent.__file__, "presets": presets(),
                  "cartpole": preset("ppo", "CartPole-v1"), "maze": maze.env_id}))
"""


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_virtualenv_and_trains(tmp_path: Path) -> None:
    # no trace of this checkout or of the test's own virtualenv in the processes run
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["ASCENT_CACHE_DIR"] = str(tmp_path / "cache")
    seconds = {}

    # build from a copy, so nothing is written into the checkout (build/, *.egg-info)
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / "ascent", source / "ascent", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    start = time.perf_counter()
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(source)],
        tmp_path, env)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("ascent_rl-*.whl")
    seconds["build"] = time.perf_counter() - start

    start = time.perf_counter()
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], tmp_path, env)
    seconds["install"] = time.perf_counter() - start

    work = tmp_path / "project"
    work.mkdir()
    start = time.perf_counter()
    train = run([str(venv / "bin" / "ascent"), "train", "ppo", "--env", "CartPole-v1",
                 "--total-steps", "4096", "--no-progress", "--eval-episodes", "2",
                 "--run-dir", str(work / "run")], work, env)  # fmt: skip
    seconds["cli"] = time.perf_counter() - start
    assert "evaluation over 2 episodes" in train.stdout
    assert json.loads((work / "run" / "eval.json").read_text())["episodes"] == 2
    assert (work / "run" / "final").is_dir()

    start = time.perf_counter()
    python = run([str(venv / "bin" / "python"), "-c", SNIPPET], work, env)
    seconds["python"] = time.perf_counter() - start
    out = json.loads(python.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).is_relative_to(venv)  # the installed copy, not this checkout
    assert out["mean_return"] > 0
    # the presets are package data: the same tables as here, CartPole's applied
    assert out["presets"] == presets() and out["cartpole"] == preset("ppo", "CartPole-v1")
    assert out["cartpole"]["total_steps"] == 100_000
    assert out["maze"] == "ascent/TMaze-v0"
    listed = run([str(venv / "bin" / "ascent"), "list"], work, env).stdout
    assert "Breakout-MinAtar" in listed  # a preset the list reads from ppo.toml
    print("wheel test seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
