"""What an environment gives back is checked against its spaces, and a step that hangs
is cut short (issue 13, item 5): one line naming the environment, the step and the
quantity, the last good checkpoint intact."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.envs import Chain, HostVecEnv
from ascent.errors import EnvError, StepTimeout

ROOT = Path(__file__).resolve().parents[2]
PPO = {"hidden": (8,), "n_steps": 8, "minibatch_size": 16, "n_epochs": 1}
BAD_FROM = 5  # the first step that goes wrong


class Faulty(gymnasium.Env):
    """CartPole's spaces; from step BAD_FROM on, the output goes wrong in one way."""

    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, fault: str, bad: bool = True) -> None:
        self.fault, self.bad, self.t = fault, bad, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action: object) -> tuple:
        self.t += 1
        obs, reward, done = np.zeros(4, np.float32), 1.0, False
        if self.bad and self.t >= BAD_FROM:
            if self.fault == "short obs":
                obs = np.zeros(1, np.float32)  # broadcast into (4,) before
            elif self.fault == "string obs":
                obs = np.array(["1", "2", "3", "4"])
            elif self.fault == "string reward":
                reward = "1.0"
            elif self.fault == "string flag":
                done = "False"
            elif self.fault == "raises":
                raise RuntimeError("the simulator exploded")
            elif self.fault == "sleeps":
                time.sleep(3600)
            elif self.fault == "spins":
                while True:
                    pass
        return obs, reward, done, False, {}


def second_faulty(fault: str) -> object:
    """A factory whose second environment (index 1) is the faulty one."""
    made = []

    def factory() -> Faulty:
        made.append(Faulty(fault, bad=len(made) == 1))
        return made[-1]

    return factory


FAULTS = {
    "short obs": "observation has shape (1,), expected (4,)",
    "string obs": "observation has dtype <U1, expected numbers",
    "string reward": "reward '1.0' (str) is not a number",
    "string flag": "terminated 'False' (str) is not a bool",
    "raises": "step() raised RuntimeError: the simulator exploded",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_bad_step_is_named_in_one_line(fault: str) -> None:
    with HostVecEnv(second_faulty(fault), 2, 0) as env:
        env.reset()
        for _ in range(BAD_FROM - 1):
            env.step(np.zeros(2))
        with pytest.raises(EnvError) as info:
            env.step(np.zeros(2))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"environment 1 of <Faulty> at its step {BAD_FROM}: ")
    assert FAULTS[fault] in message


def test_good_output_of_other_kinds_passes() -> None:
    """A list observation, a 0-d array reward and an int flag are what they should be."""

    class Lenient(Faulty):
        def step(self, action: object) -> tuple:
            return [0.0, 0.1, 0.2, 0.3], np.array(1.5), 0, np.False_, {}

    with HostVecEnv(lambda: Lenient("none"), 1, 0) as env:
        env.reset()
        obs, reward, terminated, truncated, _ = env.step(np.zeros(1))
    np.testing.assert_allclose(obs[0], [0.0, 0.1, 0.2, 0.3], rtol=1e-6)
    assert reward[0] == 1.5 and not terminated[0] and not truncated[0]


@pytest.mark.parametrize("fault", ["sleeps", "spins"])
def test_a_hung_step_times_out(fault: str) -> None:
    with HostVecEnv(second_faulty(fault), 2, 0, step_timeout=0.5) as env:
        env.reset()
        for _ in range(BAD_FROM - 1):
            env.step(np.zeros(2))
        start = time.monotonic()
        with pytest.raises(StepTimeout) as info:
            env.step(np.zeros(2))
    assert time.monotonic() - start < 5
    assert str(info.value).startswith(f"environment 1 of <Faulty> at its step {BAD_FROM}: ")
    assert "did not return within 0.5 s" in str(info.value)


def test_a_hung_step_times_out_off_the_main_thread() -> None:
    """Off the main thread no signal reaches the step: an asynchronous exception does,
    once the environment runs Python code."""
    caught: list[BaseException] = []

    def train() -> None:
        env = HostVecEnv(second_faulty("spins"), 2, 0, step_timeout=0.5)
        try:
            env.reset()
            for _ in range(BAD_FROM):
                env.step(np.zeros(2))
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            caught.append(e)
        finally:
            env.close()

    worker = threading.Thread(target=train)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive() and len(caught) == 1
    assert isinstance(caught[0], StepTimeout) and "did not return within 0.5 s" in str(caught[0])


def test_training_stops_with_the_last_checkpoint_intact(tmp_path: Path) -> None:
    bad_step = 60

    class Late(Faulty):
        def step(self, action: object) -> tuple:
            out = super().step(action)
            return (np.zeros(1, np.float32), *out[1:]) if self.t >= bad_step else out

    # 2 environments, 8 steps each an iteration: the 60th step is in iteration 8
    agent = ascent.make("ppo", env=lambda: Late("none"), n_envs=2, total_steps=128, **PPO)
    with pytest.raises(EnvError) as info:
        agent.learn(run_dir=tmp_path / "run", progress=False, log_every=1, checkpoint_every=2)
    agent.close()
    message = str(info.value)
    last = tmp_path / "run" / "checkpoints" / f"step_{96:012d}"
    assert "observation has shape (1,)" in message and "\n" not in message
    assert message.endswith(f"training stopped, last good checkpoint: {last}")
    loaded = ascent.load(last, env=lambda: Late("none"))
    assert loaded.env_steps == 96
    loaded.close()


PLANTED = """
import numpy as np, gymnasium
class Short(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)
    def reset(self, *, seed=None, options=None):
        return np.zeros(4, np.float32), {}
    def step(self, action):
        return np.zeros(1, np.float32), 1.0, False, False, {}
gymnasium.register("Short-v0", entry_point=Short)
"""


def test_the_cli_stops_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "short_env_13.py").write_text(PLANTED)
    result = subprocess.run(
        [sys.executable, "-m", "ascent.cli", "train", "ppo", "--env", "short_env_13:Short-v0",
         "--total-steps", "64", "--no-progress", "--run-dir", str(tmp_path / "run"),
         "--set", "hidden=8", "--set", "n_envs=2", "--set", "n_steps=8",
         "--set", "minibatch_size=16"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "ASCENT_CACHE_DIR": str(ROOT / ".cache" / "jax")},
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("error: environment 0 of Short-v0 at its step 1: ")
    assert "observation has shape (1,), expected (4,)" in lines[0]


@dataclass(frozen=True)
class WrongChain(Chain):
    """A JAX task whose observations are one cell short of its space."""

    def _observe(self, position: jnp.ndarray) -> jnp.ndarray:
        return super()._observe(position)[:-1]


def test_a_jax_environment_is_checked_against_its_spaces() -> None:
    with pytest.raises(EnvError, match=r"reset's observation does not fit .*obs: shape \(7,\)"):
        ascent.make("ppo", env=WrongChain(), n_envs=2, **PPO)


class NotASpace(Faulty):
    """An action space that is not a gymnasium space (issue 30, item 3)."""

    action_space = 2  # type: ignore[assignment]


class ShapeTuple(Faulty):
    observation_space = (4,)  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("cls", "words"),
    [
        (NotASpace, "<NotASpace>: action_space must be a gymnasium.spaces.Space, got int 2"),
        (ShapeTuple, "<ShapeTuple>: observation_space must be a gymnasium.spaces.Space, got "
                     "tuple (4,)"),
    ],
)  # fmt: skip
def test_spaces_that_are_not_gymnasium_spaces_are_named(cls: type, words: str) -> None:
    def factory() -> Faulty:
        return cls("none")

    for make in (lambda: HostVecEnv(factory, 2), lambda: ascent.make("ppo", env=factory, **PPO)):
        with pytest.raises(EnvError) as info:
            make()
        assert "\n" not in str(info.value) and words in str(info.value)


class ObsOnly(Faulty):
    """A reset() in the old Gym API: the observation without the info."""

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        return super().reset(seed=seed)[0]


def test_a_reset_that_returns_only_the_observation_is_named() -> None:
    with HostVecEnv(lambda: ObsOnly("none"), 2, 0) as env:
        with pytest.raises(EnvError) as info:
            env.reset()
        message = str(info.value)
        assert "\n" not in message and "observation has shape" not in message
        assert message.startswith("environment 0 of <ObsOnly>")
        assert "reset must return (obs, info), got ndarray" in message
