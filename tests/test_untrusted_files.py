"""Files are data, never code (issue 13, items 1 and 2): an environment id read from a
checkpoint or a run folder never imports a module, and the compile cache refuses a
folder that someone else could write."""

from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.errors import CacheError, CheckpointError
from ascent.runtime import enable_compile_cache, program_cache
from ascent.runtime.program_cache import CachedJit

ROOT = Path(__file__).resolve().parents[1]
# a constant of this session's, so that no JAX cache holds the test's programs already
SHIFT = float(np.random.default_rng().integers(1, 2**20))
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


# --- the compile cache (item 2) -------------------------------------------------------


class Planted:
    """A pickle that, when loaded, leaves a mark: what another user could plant."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.mark, "the planted pickle ran"))


def double(x: jax.Array) -> jax.Array:
    return 2 * x + SHIFT


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    """JAX's cache pointed at a folder of the test's (JAX itself writing nothing)."""
    before = (
        jax.config.jax_compilation_cache_dir,
        jax.config.jax_persistent_cache_min_compile_time_secs,
    )
    folder = tmp_path / "cache"
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1e9)
    yield folder
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


def _plant(cache: Path, mark: Path) -> CachedJit:
    """A named program whose file under its source key holds a planted pickle."""
    jitted = CachedJit(double, source=lambda: "planted")
    x = jnp.arange(3.0)
    key = program_cache.source_key(double, f"planted\0{jitted._options}", (x,))
    programs = cache / program_cache.FOLDER
    programs.mkdir(parents=True, exist_ok=True)
    (programs / f"source-{key}").write_bytes(zlib.compress(pickle.dumps(Planted(mark))))
    return jitted


def test_a_cache_others_may_write_is_refused(cache: Path, tmp_path: Path) -> None:
    mark = tmp_path / "MARK"
    jitted = _plant(cache, mark)
    for folder in (cache, cache / program_cache.FOLDER):
        folder.chmod(0o777)
    with pytest.raises(CacheError) as info:
        jitted(jnp.arange(3.0))
    message = str(info.value)
    assert "\n" not in message and str(cache) in message and f"chmod 700 {cache}" in message
    assert not mark.exists()
    with pytest.raises(CacheError, match="may be written by others"):
        enable_compile_cache(cache)


def test_a_cache_of_another_user_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    try:
        os.chown(folder, 65534, 65534)
    except PermissionError:
        pytest.skip("changing a folder's owner needs root")
    with pytest.raises(CacheError, match="belongs to user 65534, not to you"):
        enable_compile_cache(folder)


def test_a_new_cache_is_private_and_holds_no_pickle_of_ascents(cache: Path, tmp_path: Path) -> None:
    x = jnp.arange(3.0)
    expected = np.asarray(CachedJit(double, source=lambda: "mine")(x))
    programs = cache / program_cache.FOLDER
    assert stat.S_IMODE(cache.stat().st_mode) == stat.S_IMODE(programs.stat().st_mode) == 0o700
    named = [p for p in programs.iterdir() if p.name.startswith("source-")]
    assert len(named) == 1
    data = named[0].read_bytes()
    assert data.startswith(program_cache.MAGIC)
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)
    # a pickle under a program's name in a private folder is not unpickled either
    mark = tmp_path / "MARK"
    jitted = _plant(cache, mark)
    np.testing.assert_array_equal(np.asarray(jitted(x)), expected)
    assert not mark.exists()
    assert stat.S_IMODE(enable_compile_cache(tmp_path / "new" / "jax").stat().st_mode) == 0o700


def test_the_cli_refuses_a_shared_cache_in_one_line(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = subprocess.run(
        [sys.executable, "-m", "ascent.cli", "train", "ppo", "--env", "ascent/Chain-v0",
         "--total-steps", "64", "--no-progress", "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "ASCENT_CACHE_DIR": str(shared)},
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: compile cache {shared} may be")
