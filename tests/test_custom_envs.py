"""`ascent.make(algo, env=...)` takes an id, an environment object or a factory, for on-
and off-policy algorithms alike (issue 13, item 10)."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest

import ascent
from ascent.envs import Chain, HostVecEnv
from ascent.errors import CheckpointError, EnvError

PPO = {"hidden": (8,), "n_steps": 16, "minibatch_size": 16, "n_epochs": 1}
SAC = {"hidden": (8,), "buffer_size": 256, "learning_starts": 16, "minibatch_size": 8}


class Walk(gymnasium.Env):
    """A user's own environment, not registered anywhere: walk to +3 on a line."""

    observation_space = gymnasium.spaces.Box(-5.0, 5.0, (1,), np.float32)

    def __init__(self, continuous: bool = False) -> None:
        self.continuous = continuous
        self.action_space = (
            gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
            if continuous
            else gymnasium.spaces.Discrete(2)
        )
        self.x = 0.0
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self.x, self.t = 0.0, 0
        return np.array([self.x], np.float32), {}

    def step(self, action: object) -> tuple:
        move = float(np.asarray(action).reshape(-1)[0]) if self.continuous else 2 * int(action) - 1
        self.x += move
        self.t += 1
        done = self.x >= 3
        return np.array([self.x], np.float32), float(done), done, self.t >= 20, {}


def _check(agent: ascent.Agent, n_envs: int) -> None:
    try:
        agent.learn(total_steps=64, progress=False)
        assert agent.env_steps == 64 and agent.env.n_envs == n_envs
        result = agent.evaluate(episodes=2)
        assert len(result.returns) == 2
        agent.learn(total_steps=128, progress=False)  # training goes on after evaluating
        assert agent.env_steps == 128
    finally:
        agent.close()


@pytest.mark.parametrize(("algo", "overrides", "continuous"),
                         [("ppo", PPO, False), ("sac", SAC, True)])  # fmt: skip
def test_an_instance_is_one_environment(algo: str, overrides: dict, continuous: bool) -> None:
    env = Walk(continuous)
    agent = ascent.make(algo, env=env, **overrides)
    assert isinstance(agent.env, HostVecEnv) and agent.env._envs == [env]
    assert agent.env_id == "<Walk>" and agent.config.n_envs == 1
    _check(agent, 1)


@pytest.mark.parametrize(("algo", "overrides", "continuous"),
                         [("ppo", PPO, False), ("sac", SAC, True)])  # fmt: skip
def test_a_factory_makes_each_environment(algo: str, overrides: dict, continuous: bool) -> None:
    made: list[Walk] = []

    def factory() -> Walk:
        made.append(Walk(continuous))
        return made[-1]

    agent = ascent.make(algo, env=factory, n_envs=2, **overrides)
    assert len(made) == 2 and agent.env._envs == made
    _check(agent, 2)
    assert len(made) > 2  # evaluation made its own


def test_registered_id_instance_and_jax_object(tmp_path: Path) -> None:
    with ascent.make("ppo", env="CartPole-v1", n_envs=2, **PPO).env as env:
        assert env.n_envs == 2
    agent = ascent.make("ppo", env=gymnasium.make("CartPole-v1"), **PPO)
    assert agent.env_id == "<CartPole-v1>"
    _check(agent, 1)
    chain = ascent.make("ppo", env=Chain(length=4), n_envs=2, **PPO)
    assert chain.is_jax_door and chain.env_id == "<ascent/Chain-v0>"
    chain.learn(total_steps=64, progress=False)
    # a file cannot name an object: loading asks for it again
    path = chain.save(tmp_path / "chain")
    with pytest.raises(CheckpointError, match=r"environment object <ascent/Chain-v0>"):
        ascent.load(path)
    loaded = ascent.load(path, env=Chain(length=4))
    assert loaded.env_steps == 64


def test_bad_environment_arguments_are_one_line() -> None:
    with pytest.raises(EnvError, match="one environment, not n_envs=3"):
        ascent.make("ppo", env=Walk(), n_envs=3, **PPO)
    with pytest.raises(EnvError, match="got int"):
        ascent.make("ppo", env=3, **PPO)
    with pytest.raises(EnvError, match="returned a str"):
        ascent.make("ppo", env=lambda: "CartPole-v1", **PPO)
