"""The persistent compilation cache switch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jax
import pytest

from ascent.io import enable_compile_cache
from ascent.io.cache import default_cache_dir


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
def test_enable_compile_cache_sets_and_keeps_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert enable_compile_cache(tmp_path / "c") == tmp_path / "c"
    assert (tmp_path / "c").is_dir()
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c")
    assert enable_compile_cache() == tmp_path / "c"  # an existing setting is kept

    monkeypatch.setenv("ASCENT_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    jax.config.update("jax_compilation_cache_dir", None)
    assert enable_compile_cache() == tmp_path / "env"
