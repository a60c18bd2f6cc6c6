"""The persistent compilation cache switch."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jax
import pytest

from ascent.runtime import default_compile_cache, enable_compile_cache


@pytest.fixture
def restore_cache_config() -> Iterator[None]:
    before = (
        jax.config.jax_compilation_cache_dir,
        jax.config.jax_persistent_cache_min_compile_time_secs,
    )
    yield
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


@pytest.mark.usefixtures("restore_cache_config")
def test_enable_compile_cache_points_jax_at_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert enable_compile_cache(tmp_path / "c") == tmp_path / "c"
    assert (tmp_path / "c").is_dir()
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c")

    monkeypatch.setenv("ASCENT_CACHE_DIR", str(tmp_path / "env"))
    assert enable_compile_cache() == tmp_path / "env"
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "env")


@pytest.mark.usefixtures("restore_cache_config")
def test_agents_use_the_cache_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder already set (here the test suite's) is kept; none set, the default one;
    ASCENT_COMPILE_CACHE=0 sets nothing."""
    monkeypatch.setenv("ASCENT_CACHE_DIR", str(tmp_path / "default"))
    ours = jax.config.jax_compilation_cache_dir
    assert ours and default_compile_cache() == Path(ours)
    jax.config.update("jax_compilation_cache_dir", None)
    monkeypatch.setenv("ASCENT_COMPILE_CACHE", "0")
    assert default_compile_cache() is None and jax.config.jax_compilation_cache_dir is None
    monkeypatch.delenv("ASCENT_COMPILE_CACHE")
    assert default_compile_cache() == tmp_path / "default"
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "default")


SECOND_RUN = """
import jax, ascent
hits = []
jax.monitoring.register_event_listener(
    lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None
)
agent = ascent.make("ppo", env="ascent/Chain-v0", seed=0, total_steps=128, hidden=(16,),
                    n_envs=4, n_steps=16, minibatch_size=32, n_epochs=2)
agent.learn(progress=False)
print(jax.config.jax_compilation_cache_dir, len(hits))
"""


@pytest.mark.slow  # make test's budget (7 minutes on 2 cores): the slow tier
def test_a_python_program_starts_warm_the_second_time(tmp_path: Path) -> None:
    """From Python, as from the CLI: the second process reads its programs back."""
    env = {**os.environ, "ASCENT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("ASCENT_COMPILE_CACHE", None)
    runs = [
        subprocess.run(
            [sys.executable, "-c", SECOND_RUN],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )  # fmt: skip
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    (folder, first_hits), (_, second_hits) = (r.stdout.split()[-2:] for r in runs)
    assert folder == str(tmp_path / "cache") and any((tmp_path / "cache").iterdir())
    assert int(second_hits) > int(first_hits)
