"""The `ascent` command, run as a user runs it: a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ascent

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = [
    "--seed", "3", "--total-steps", "2048",
    "--set", "hidden=16", "--set", "n_envs=4", "--set", "n_steps=16",
    "--set", "minibatch_size=32", "--set", "n_epochs=2", "--eval-episodes", "2",
]  # fmt: skip


def ascent_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASCENT_CACHE_DIR": str(ROOT / ".cache" / "jax")}
    return subprocess.run(
        [sys.executable, "-m", "ascent.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


def test_unknown_env_is_one_line_exit_2(tmp_path: Path) -> None:
    result = ascent_cli("train", "ppo", "--env", "NoSuchEnv-v0", *TINY, cwd=tmp_path)
    assert_one_line_error(result, "unknown environment 'NoSuchEnv-v0'")
    assert not (tmp_path / "runs").exists()  # nothing was created for a failed start


@pytest.mark.parametrize(
    ("setting", "field"),
    [("gamma=abc", "gamma"), ("lr=-1", "lr"), ("clip_eps=0", "clip_eps"), ("bogus=1", "bogus")],
)
def test_bad_set_is_one_line_exit_2(tmp_path: Path, setting: str, field: str) -> None:
    result = ascent_cli(
        "train", "ppo", "--env", "ascent/Chain-v0", "--set", setting, "--no-progress", cwd=tmp_path
    )
    assert_one_line_error(result, field)
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tiny finished run (folder, stdout), shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("cli") / "run"
    result = ascent_cli(
        "train", "ppo", "--env", "ascent/Chain-v0", *TINY, "--run-dir", str(folder), "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def test_train_writes_the_run_folder(run: tuple[Path, str]) -> None:
    folder, stdout = run
    for name in ("config.json", "metrics.csv", "curve.png", "eval.json"):
        assert (folder / name).is_file(), name
    assert list((folder / "tb").glob("events.out.tfevents.*"))
    assert list((folder / "checkpoints").glob("step_*/state.safetensors"))
    assert (folder / "final" / "state.safetensors").is_file()
    assert (folder / "final" / "meta.json").is_file()
    assert (folder / "curve.png").read_bytes()[:8] == PNG_SIGNATURE

    config = json.loads((folder / "config.json").read_text())
    assert config["algo"] == "ppo" and config["env_id"] == "ascent/Chain-v0"
    assert config["seed"] == 3 and config["config"]["hidden"] == [16]
    result = json.loads((folder / "eval.json").read_text())
    assert {"mean_return", "std_return", "returns", "episodes"} <= set(result)
    assert result["episodes"] == len(result["returns"]) == 2
    assert f"mean return {result['mean_return']:.2f}" in stdout
    header = (folder / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "env_steps", "episode_return", "loss"} <= set(header)


def test_eval_json(run: tuple[Path, str]) -> None:
    folder, _ = run
    result = ascent_cli("eval", str(folder), "--episodes", "3", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["episodes"] == 3 and len(data["returns"]) == 3
    assert data["mean_return"] == pytest.approx(sum(data["returns"]) / 3)


def test_plot(run: tuple[Path, str], tmp_path: Path) -> None:
    folder, _ = run
    out = tmp_path / "curves.png"
    result = ascent_cli("plot", str(folder), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == PNG_SIGNATURE


def test_list_names_the_algorithms() -> None:
    result = ascent_cli("list")
    assert result.returncode == 0, result.stderr
    for name in ("reinforce", "actor-critic", "a2c", "ppo", "ascent/Chain-v0"):
        assert name in result.stdout


def test_eval_of_a_tampered_checkpoint(tmp_path: Path) -> None:
    agent = ascent.make("ppo", env="ascent/Chain-v0", hidden=(16,), n_envs=4)
    saved = agent.save(tmp_path / "saved")
    state = saved / "state.safetensors"
    data = bytearray(state.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte in the last tensor
    state.write_bytes(bytes(data))
    result = ascent_cli("eval", str(saved))
    assert_one_line_error(result, str(state))


def test_a_team_trains_evaluates_and_resumes_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "team"
    team = ["--set", "hidden=8", "--set", "n_envs=4", "--set", "n_steps=25", "--set",
            "minibatch_size=50", "--set", "n_epochs=1", "--eval-episodes", "2"]  # fmt: skip
    result = ascent_cli("train", "mappo", "--env", "ascent/Climbing-v0", "--total-steps", "200",
                        *team, "--run-dir", str(folder), "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "each agent: agent_0" in result.stdout and "team:" in result.stdout
    header = (folder / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"episode_return", "episode_team_return", "episode_return/agent_1"} <= set(header)
    data = json.loads(ascent_cli("eval", str(folder), "--episodes", "2", "--json").stdout)
    assert set(data["agent_mean_returns"]) == {"agent_0", "agent_1"}
    resumed = ascent_cli("train", "--resume", str(folder), "--total-steps", "300", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert ascent.load(folder).env_steps == 300
