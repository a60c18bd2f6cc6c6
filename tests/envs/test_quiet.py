"""`envs/quiet.py`: the deprecation notices of building a MuJoCo environment are dropped
while Ascent builds one, and only then."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium
import pytest

from ascent.envs import make
from ascent.envs.quiet import is_mujoco, quiet_make

mujoco = pytest.importorskip("mujoco")

NOTICE = "compiler attribute 'settotalmass' is deprecated"


def test_ascent_builds_mujoco_envs_without_their_deprecation_notices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # MuJoCo's own handler writes MUJOCO_LOG.TXT here
    handler = mujoco.get_mju_user_warning()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_make("HalfCheetah-v4").close()
        make("HalfCheetah-v5", n_envs=2).close()  # the Gymnasium door goes through it
    assert [str(w.message) for w in caught if "out of date" in str(w.message)] == []
    out, err = capfd.readouterr()
    assert NOTICE not in out + err
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
    assert mujoco.get_mju_user_warning() is handler  # put back


def test_the_users_own_calls_still_see_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    quiet_make("HalfCheetah-v4").close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium.make("HalfCheetah-v4").close()
    assert any("HalfCheetah-v4 is out of date" in str(w.message) for w in caught)
    out, err = capfd.readouterr()
    assert NOTICE in out + err


def test_only_mujoco_ids_are_touched() -> None:
    assert is_mujoco("HalfCheetah-v5") and is_mujoco("Hopper-v4")
    assert not is_mujoco("CartPole-v1") and not is_mujoco("NoSuchEnv-v0")
