"""ONNX export (issue 31): the file, run by onnxruntime (which knows nothing of JAX),
gives the actions `Agent.act(obs, deterministic=True)` gives, for Discrete and Box
actions, normalised vector observations and uint8 frames through a CNN; `ascent export`
writes it from a run folder; what a file cannot hold is refused with one line."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

import ascent
from ascent.cli import main
from ascent.errors import ConfigError
from ascent.train.export import export_onnx

ort = pytest.importorskip("onnxruntime")

PPO = {"hidden": (16,), "n_envs": 2, "n_steps": 64, "minibatch_size": 64, "n_epochs": 2}
TINY = {"hidden": (4,), "n_envs": 1, "n_steps": 8, "minibatch_size": 8}  # never trained
N_OBS = 100


class Frames(gymnasium.Env):
    """uint8 frames (4, 12, 12), channels first (small enough for the MinAtar CNN), of
    random bytes; the reward is for the action's agreeing with the first pixel's parity.
    Discrete(2) actions, or a Box of one in [-1, 1]. 8 steps an episode."""

    def __init__(self, continuous: bool = False) -> None:
        self.observation_space = spaces.Box(0, 255, (4, 12, 12), np.uint8)
        self.action_space = (
            spaces.Box(-1.0, 1.0, (1,), np.float32) if continuous else spaces.Discrete(2)
        )

    def _obs(self) -> np.ndarray:
        self.frame = self.np_random.integers(0, 256, (4, 12, 12), dtype=np.uint8)
        return self.frame

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple:
        odd = bool(self.frame[0, 0, 0] % 2)
        reward = float((np.asarray(action).ravel()[0] > 0) == odd)
        self.t += 1
        return self._obs(), reward, False, self.t >= 8, {}


def trained(env: Any, run_dir: Path | None = None, **overrides: Any) -> ascent.Agent:
    config = {**PPO, "total_steps": 256, **overrides}
    agent = ascent.make("ppo", env=env, seed=0, **config)
    return agent.learn(run_dir=run_dir, progress=False)


def onnx_actions(path: Path, obs: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name) == ("obs", "action")
    assert isinstance(inp.shape[0], str)  # the batch is free: any N runs
    return session.run(None, {"obs": obs})[0]


def sampled(agent: ascent.Agent, n: int = N_OBS) -> np.ndarray:
    space = agent.env.observation_space
    space.seed(1)
    return np.stack([space.sample() for _ in range(n)])


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory: pytest.TempPathFactory) -> Any:
    run = tmp_path_factory.mktemp("cartpole") / "run"
    agent = trained("CartPole-v1", run_dir=run)
    yield agent, run
    agent.close()


def test_discrete_actions_equal_act(cartpole: Any, tmp_path: Path) -> None:
    agent, _ = cartpole
    path = export_onnx(agent, tmp_path / "cartpole.onnx")
    obs = sampled(agent).astype(np.float32)
    expected, _ = agent.act(obs, deterministic=True)
    got = onnx_actions(path, obs)
    assert got.dtype == np.int32 and got.shape == (N_OBS,)
    assert set(np.unique(expected)) == {0, 1}  # both actions occur: equality means something
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(onnx_actions(path, obs[:3]), expected[:3])


def test_box_actions_match_act_with_normalised_observations(tmp_path: Path) -> None:
    agent = trained("Pendulum-v1", normalize_obs=True)
    assert float(np.abs(np.asarray(agent.state.norm.obs.mean)).max()) > 0.01  # stats differ
    path = export_onnx(agent, tmp_path / "pendulum.onnx")
    obs = sampled(agent)
    expected, _ = agent.act(obs, deterministic=True)
    got = onnx_actions(path, obs)
    assert got.dtype == np.float32 and got.shape == (N_OBS, 1)
    assert np.ptp(expected) > 1e-3
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    agent.close()


@pytest.mark.slow  # make test's budget (7 minutes on 2 cores): the slow tier
def test_sac_squashed_mean_matches_act_and_no_constant_is_left_unread(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    small = {"hidden": (8,), "buffer_size": 64, "learning_starts": 8, "minibatch_size": 8}
    agent = ascent.make("sac", env="Pendulum-v1", seed=0, total_steps=32, **small)
    agent.learn(progress=False)
    path = export_onnx(agent, tmp_path / "sac.onnx")
    obs = sampled(agent)
    expected, _ = agent.act(obs, deterministic=True)
    np.testing.assert_allclose(onnx_actions(path, obs), expected, atol=1e-5, rtol=0)
    graph = onnx.load(str(path)).graph
    read = {name for node in graph.node for name in node.input}
    assert graph.initializer and all(init.name in read for init in graph.initializer)
    agent.close()


# the Box head's path is Pendulum's above: the CNN's with it runs with the slow tests
@pytest.mark.parametrize(
    "continuous", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["discrete", "box"]
)
def test_uint8_frames_through_a_cnn_match_act(continuous: bool, tmp_path: Path) -> None:
    agent = trained(lambda: Frames(continuous), total_steps=64, n_steps=16, minibatch_size=32)
    assert "MinAtarCNN_0" in agent.state.algo.params["params"]["actor"]
    path = export_onnx(agent, tmp_path / "frames.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(uint8)"  # frames stay bytes
    obs = sampled(agent)
    expected, _ = agent.act(obs, deterministic=True)
    got = onnx_actions(path, obs)
    if continuous:
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    else:
        np.testing.assert_array_equal(got, expected)
    agent.close()


def test_cli_writes_the_file_from_a_run_folder(
    cartpole: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent, run = cartpole
    path = tmp_path / "out" / "policy.onnx"
    assert main(["export", str(run), "-o", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    obs = sampled(agent, 20).astype(np.float32)
    np.testing.assert_array_equal(onnx_actions(path, obs), agent.act(obs)[0])


class Pair(gymnasium.Env):
    """One step of nothing: a Dict observation, or a MultiDiscrete action."""

    def __init__(self, dict_obs: bool = False) -> None:
        box = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Dict({"x": box}) if dict_obs else box
        self.action_space = spaces.Discrete(2) if dict_obs else spaces.MultiDiscrete([2, 3])

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> tuple:
        return self.observation_space.sample(), 0.0, True, False, {}


@pytest.mark.parametrize(
    ("env", "overrides", "named"),
    [
        (lambda: Pair(dict_obs=True), {}, "a Dict observation"),
        (Pair, {}, "a MultiDiscrete action space"),
        (
            "CartPole-v1",
            {"core": {"kind": "gru", "embed_dim": 4}},
            "a memory policy (core.kind gru)",
        ),
    ],
    ids=["dict-obs", "multi-discrete", "memory"],
)
def test_what_a_file_cannot_hold_is_refused(
    env: Any, overrides: dict[str, Any], named: str, tmp_path: Path
) -> None:
    agent = ascent.make("ppo", env=env, seed=0, **TINY, **overrides)
    with pytest.raises(ConfigError, match=re.escape(f"ONNX export: {named} is not supported")):
        export_onnx(agent, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
    agent.close()


def test_cli_refuses_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gru = {"kind": "gru", "embed_dim": 4}
    agent = ascent.make("ppo", env="CartPole-v1", core=gru, **TINY)
    saved = agent.save(tmp_path / "gru")
    agent.close()
    assert main(["export", str(saved), "-o", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ONNX export: a memory policy")


def test_without_jax2onnx_says_how_to_install(
    cartpole: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jax2onnx", None)  # import jax2onnx raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'ascent-rl\[onnx\]'"):
        export_onnx(cartpole[0], tmp_path / "x.onnx")
