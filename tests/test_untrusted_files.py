"""Files are data, never code (issue 13, items 1 and 2): an environment id read from a
checkpoint or a run folder never imports a module, and the compile cache refuses a
folder that someone else could write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ascent
from ascent.errors import CheckpointError

ROOT = Path(__file__).resolve().parents[1]
CHAIN = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}
PLANTED = """
from pathlib import Path
Path(__file__).with_name("PLANTED_RAN").write_text("the planted module ran")
import gymnasium
gymnasium.register("Planted-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv",
                   max_episode_steps=50)
"""


def _set_env_id(meta_path: Path, env_id: str) -> None:
    record = json.loads(meta_path.read_text())
    target = record["meta"] if "meta" in record else record
    target["env_id"] = env_id
    meta_path.write_text(json.dumps(record))


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A folder holding a module whose import leaves a mark (as a planted `mod.py` in
    the working folder would run), on sys.path for the test."""
    folder = tmp_path / "workdir"
    folder.mkdir()
    (folder / "planted_mod_13.py").write_text(PLANTED)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    sys.modules.pop("planted_mod_13", None)


def _saved(tmp_path: Path, env_id: str) -> Path:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, **CHAIN)
    path = agent.save(tmp_path / "saved")
    _set_env_id(path / "meta.json", env_id)
    return path


@pytest.mark.parametrize("env_id", ["this:Chain-v0", "planted_mod_13:Planted-v0"])
def test_loading_a_checkpoint_imports_nothing(tmp_path: Path, planted: Path, env_id: str) -> None:
    path = _saved(tmp_path, env_id)
    module = env_id.split(":")[0]
    with pytest.raises(CheckpointError, match=f"would import module '{module}'") as info:
        ascent.load(path)
    assert "\n" not in str(info.value) and str(path / "meta.json") in str(info.value)
    assert module not in sys.modules
    assert not (planted / "PLANTED_RAN").exists()


def test_a_saved_id_is_checked_against_the_registered_ones(tmp_path: Path) -> None:
    path = _saved(tmp_path, "NotRegistered-v9")
    with pytest.raises(CheckpointError, match="'NotRegistered-v9', which is not registered"):
        ascent.load(path)
    # the caller may name the environment instead
    agent = ascent.load(path, env="ascent/Chain-v0")
    assert agent.env_id == "ascent/Chain-v0" and agent.iterations == 0


def test_a_module_id_given_in_python_is_honoured(planted: Path) -> None:
    agent = ascent.make("ppo", env="planted_mod_13:Planted-v0", n_envs=1, n_steps=16,
                        minibatch_size=16, hidden=(8,))  # fmt: skip
    try:
        assert (planted / "PLANTED_RAN").exists()
        assert agent.env_id == "planted_mod_13:Planted-v0"
    finally:
        agent.close()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASCENT_CACHE_DIR": str(ROOT / ".cache" / "jax")}
    return subprocess.run(
        [sys.executable, "-m", "ascent.cli", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
    )  # fmt: skip


def test_eval_and_resume_import_nothing_from_a_run_folder(tmp_path: Path, planted: Path) -> None:
    """`python -m` puts the working folder first on sys.path, where the module lies."""
    run = tmp_path / "run"
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=3, total_steps=128, **CHAIN)
    agent.learn(run_dir=run, progress=False, checkpoint_every=1)
    agent.close()
    for meta in [run / "config.json", *run.glob("checkpoints/step_*/meta.json")]:
        _set_env_id(meta, "planted_mod_13:Planted-v0")
    evaluated = _cli("eval", str(run / "checkpoints" / "step_000000000128"), cwd=planted)
    resumed = _cli("train", "--resume", str(run), "--no-progress", cwd=planted)
    for result in (evaluated, resumed):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and "would import module 'planted_mod_13'" in lines[0]
    assert not (planted / "PLANTED_RAN").exists()
