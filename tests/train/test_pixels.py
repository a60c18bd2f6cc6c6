"""Pixels end to end (issue 29): uint8 frames stay uint8 in rollouts and in replay and
are scaled inside the network; the run states each image's channel order and torso; a
CNN policy round-trips through checkpoint -> load -> act; MinAtar's frames train through
the small CNN on the compiled door."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium
import jax
import numpy as np
from gymnasium import spaces

import ascent

PPO = {"hidden": (8,), "n_envs": 2, "n_steps": 8, "minibatch_size": 16, "n_epochs": 1}


class Frames(gymnasium.Env):
    """A bright column at a random x of a uint8 frame; the reward is for naming its half
    (Discrete) or its side's sign (Box). 8 steps an episode."""

    def __init__(self, shape: tuple[int, ...] = (4, 12, 12), continuous: bool = False) -> None:
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.width = shape[-1] if shape[0] < shape[-1] else shape[1]
        self.channels_first = shape[0] < shape[-1]
        self.continuous = continuous
        self.action_space = (
            spaces.Box(-1.0, 1.0, (1,), np.float32) if continuous else spaces.Discrete(2)
        )

    def _obs(self) -> np.ndarray:
        self.x = int(self.np_random.integers(self.width))
        frame = np.zeros(self.observation_space.shape, np.uint8)
        if self.channels_first:
            frame[..., self.x] = 255
        else:
            frame[:, self.x, :] = 255
        return frame

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple:
        right = self.x >= self.width // 2
        if self.continuous:
            reward = float((np.asarray(action)[0] > 0) == right)
        else:
            reward = float(int(action) == right)
        self.t += 1
        return self._obs(), reward, False, self.t >= 8, {}


def test_a_cnn_policy_keeps_bytes_states_its_torso_and_round_trips(tmp_path: Path) -> None:
    agent = ascent.make("ppo", env=Frames, seed=0, total_steps=32, **PPO)
    agent.learn(run_dir=tmp_path / "run", progress=False)
    params = agent.state.algo.params["params"]
    # (4, 12, 12): channels first; under 36 pixels a side `auto` picks the small CNN
    assert params["actor"]["MinAtarCNN_0"]["Conv_0"]["kernel"].shape == (3, 3, 4, 16)
    rollout = agent.loop._host.buffer.rollout(None)
    assert rollout.obs.dtype == np.uint8 and rollout.obs.shape == (8, 2, 4, 12, 12)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["observation"] == {
        "obs": "image (4, 12, 12) uint8, channels first, torso minatar"
    }
    env = Frames()
    env.reset(seed=3)
    frames = np.stack([env.step(0)[0] for _ in range(16)])
    actions, _ = agent.act(frames)
    path = agent.save(tmp_path / "cnn")
    loaded = ascent.load(path, env=Frames)
    for a, b in zip(jax.tree.leaves(loaded.state.algo), jax.tree.leaves(agent.state.algo),
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(loaded.act(frames)[0], actions)
    assert np.shape(loaded.act(frames[0])[0]) == ()
    agent.close()
    loaded.close()


def test_replay_stores_frames_as_bytes() -> None:
    small = {"hidden": (8,), "buffer_size": 32, "learning_starts": 8, "minibatch_size": 4}
    env = lambda: Frames((10, 10, 3), continuous=True)  # noqa: E731
    agent = ascent.make("sac", env=env, seed=0, total_steps=16, **small)
    agent.learn(progress=False)
    stored = agent.state.buffer.data.obs
    assert stored.dtype == np.uint8 and stored.shape == (32, 10, 10, 3)
    assert int(np.asarray(stored[:16]).max()) == 255
    assert "MinAtarCNN_0" in str(jax.tree_util.tree_structure(agent.state.algo))
    agent.close()


def test_minatar_trains_through_the_small_cnn_on_the_compiled_door() -> None:
    agent = ascent.make("ppo", env="gymnax/Breakout-MinAtar", seed=0, total_steps=32, **PPO)
    agent.learn(progress=False)
    assert agent.is_jax_door and agent.env_steps == 32
    kernel = agent.state.algo.params["params"]["actor"]["MinAtarCNN_0"]["Conv_0"]["kernel"]
    assert kernel.shape == (3, 3, 4, 16)  # MinAtar's (10, 10, 4) frames, channels last
    agent.close()
