"""Run folders and atomic JSON files."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from ascent.errors import AscentError
from ascent.io import new_run_dir, read_json, write_json


def test_new_run_dir_names_and_creates_unique_folders(tmp_path: Path) -> None:
    first = new_run_dir("ppo", "ALE/Pong-v5", base=tmp_path / "runs", stamp="20240102-030405")
    assert first == tmp_path / "runs" / "ppo-ALE_Pong-v5-20240102-030405"
    assert first.is_dir()
    second = new_run_dir("ppo", "ALE/Pong-v5", base=tmp_path / "runs", stamp="20240102-030405")
    third = new_run_dir("ppo", "ALE/Pong-v5", base=tmp_path / "runs", stamp="20240102-030405")
    assert (second.name, third.name) == (first.name + "-1", first.name + "-2")

    when = dt.datetime(2025, 12, 31, 23, 59, 58)
    assert new_run_dir("sac", "Pendulum-v1", base=tmp_path, stamp=when).name == (
        "sac-Pendulum-v1-20251231-235958"
    )
    now = new_run_dir("a2c", "CartPole-v1", base=tmp_path)
    assert re.fullmatch(r"a2c-CartPole-v1-\d{8}-\d{6}", now.name)


@dataclass(frozen=True)
class Config:
    lr: float
    hidden: tuple[int, ...]


def test_write_json_converts_numpy_and_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "eval.json"
    obj = {
        "mean": np.float32(1.5),
        "returns": np.arange(3),
        "n": np.int64(20),
        "jax": jnp.asarray([1.0, 2.0]),
        "config": Config(lr=3e-4, hidden=(64, 64)),
        "path": tmp_path,
    }
    assert write_json(path, obj) == path
    text = path.read_text()
    assert text.startswith("{\n  ")  # indent=2
    assert json.loads(text) == {
        "mean": 1.5,
        "returns": [0, 1, 2],
        "n": 20,
        "jax": [1.0, 2.0],
        "config": {"lr": 3e-4, "hidden": [64, 64]},
        "path": str(tmp_path),
    }
    assert read_json(path)["n"] == 20

    # a failed write leaves the previous file as it was, and no temporary file
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text())["n"] == 20
    assert [p.name for p in path.parent.iterdir()] == ["eval.json"]


def test_write_json_interrupted_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_json(tmp_path / "config.json", {"v": 1})

    def fail(fd: int) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="power cut"):
        write_json(path, {"v": 2})
    monkeypatch.undo()
    assert read_json(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_read_json_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(AscentError, match="missing.json does not exist"):
        read_json(tmp_path / "missing.json")
    bad = tmp_path / "config.json"
    bad.write_text('{"lr": 0.1,')
    with pytest.raises(AscentError, match=r"config.json is not valid JSON \(line 1"):
        read_json(bad)
