"""The persistent compilation cache switch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jax
import pytest

from ascent.runtime import enable_compile_cache


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
