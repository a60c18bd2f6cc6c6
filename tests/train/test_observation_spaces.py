"""Observations of any standard space (issue 28): a nested Dict-of-Tuple observation
goes through collect → update → checkpoint → load → act on both doors, as do Discrete
ones; normalisation keeps statistics of Box leaves only; an observation that differs
from its space, or a space Ascent cannot take, is one line naming the path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

import ascent
from ascent.core.normalize import RunningMeanStd
from ascent.envs import Chain
from ascent.errors import EnvError

PPO = {"hidden": (8,), "n_envs": 2, "n_steps": 8, "minibatch_size": 16, "n_epochs": 1}
NESTED = spaces.Dict(
    {
        "pos": spaces.Box(-1.0, 1.0, (2,), np.float32),
        "goal": spaces.Discrete(3),
        "extra": spaces.Tuple((spaces.MultiBinary(2), spaces.MultiDiscrete([3, 2]))),
    }
)


class Reach(gymnasium.Env):
    """Pick the goal the observation names (reward 1); the rest of the observation is
    noise. 6 steps an episode. With `continuous`, a Box action whose first component
    should be the goal's sign (for SAC)."""

    observation_space = NESTED

    def __init__(self, continuous: bool = False, broken_at: int | None = None) -> None:
        self.continuous = continuous
        self.broken_at = broken_at  # a step whose observation loses its "goal" key
        self.action_space = (
            spaces.Box(-1.0, 1.0, (1,), np.float32) if continuous else spaces.Discrete(3)
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self) -> dict[str, Any]:
        self.goal = int(self.np_random.integers(3))
        obs = {
            "pos": self.np_random.uniform(-1, 1, 2).astype(np.float32),
            "goal": self.goal,
            "extra": (self.np_random.integers(0, 2, 2).astype(np.int8), np.array([2, 1])),
        }
        if self.broken_at is not None and self.t >= self.broken_at:
            del obs["goal"]
        return obs

    def step(self, action: Any) -> tuple:
        self.t += 1
        if self.continuous:
            reward = float(np.sign(np.asarray(action)[0]) == (1.0 if self.goal else -1.0))
        else:
            reward = float(int(action) == self.goal)
        return self._obs(), reward, False, self.t >= 6, {}


@dataclass(frozen=True)
class DictChain(Chain):
    """Chain on the JAX door with a nested Dict-of-Tuple observation of every leaf kind:
    the cell as a Discrete, a Box, and a Tuple of a MultiBinary and a MultiDiscrete."""

    env_id: str = "test/DictChain"

    @property
    def observation_space(self) -> spaces.Dict:  # type: ignore[override]
        extra = spaces.Tuple((spaces.MultiBinary(2), spaces.MultiDiscrete([3, 2])))
        return spaces.Dict(
            {"cell": spaces.Discrete(self.length), "time": spaces.Box(0.0, 1.0, (1,)),
             "extra": extra}
        )  # fmt: skip

    def _observe(self, position: jax.Array) -> Any:  # type: ignore[override]
        bits = jnp.stack([position % 2, position // 2 % 2]).astype(jnp.int8)
        dials = jnp.stack([position % 3, position % 2]).astype(jnp.int32)
        return {"cell": position.astype(jnp.int32), "time": jnp.zeros((1,), jnp.float32),
                "extra": (bits, dials)}  # fmt: skip


def _leaves_equal(a: Any, b: Any) -> None:
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("door", ["gymnasium", "jax"])
def test_a_nested_observation_trains_saves_loads_and_acts(door: str, tmp_path: Path) -> None:
    env: Any = (lambda: Reach()) if door == "gymnasium" else DictChain(length=4)
    agent = ascent.make("ppo", env=env, seed=1, total_steps=32, **PPO)
    agent.learn(progress=False)
    assert agent.env_steps == 32
    one = Reach().reset(seed=0)[0] if door == "gymnasium" else DictChain(length=4).reset(None)[0]
    action, _ = agent.act(one)
    assert np.shape(action) == () and 0 <= int(action) < agent.env.action_space.n
    batch = jax.tree.map(lambda x: np.stack([np.asarray(x)] * 3), one)
    assert np.shape(agent.act(batch)[0]) == (3,)
    path = agent.save(tmp_path / "nested")
    loaded = ascent.load(path, env=env)
    _leaves_equal(loaded.state.algo, agent.state.algo)
    assert loaded.act(one)[0] == action
    assert len(loaded.evaluate(episodes=2).returns) == 2
    loaded.learn(total_steps=48, progress=False)  # and trains on
    agent.close()
    loaded.close()


def test_a_discrete_observation_is_one_hot_on_the_gymnasium_door() -> None:
    agent = ascent.make("a2c", env="FrozenLake-v1", seed=0, total_steps=32, hidden=(8,),
                        n_envs=2, n_steps=8)  # fmt: skip
    agent.learn(progress=False)
    assert agent.act(5)[0] in range(4) and agent.act(np.array([0, 15]))[0].shape == (2,)
    agent.close()


def test_normalisation_keeps_statistics_of_box_leaves_only() -> None:
    agent = ascent.make("ppo", env=lambda: Reach(), seed=0, total_steps=32,
                        normalize_obs=True, **PPO)  # fmt: skip
    agent.learn(progress=False)
    stats = agent.state.norm.obs
    assert isinstance(stats["pos"], RunningMeanStd) and float(stats["pos"].count) > 32
    assert stats["goal"] is None and stats["extra"] == (None, None)
    assert np.all(np.asarray(stats["pos"].var) > 0.1)  # uniform on [-1, 1]: 1/3
    agent.close()


def test_sac_learns_from_a_replay_buffer_of_dict_observations() -> None:
    small = {"hidden": (8,), "buffer_size": 64, "learning_starts": 16, "minibatch_size": 8}
    agent = ascent.make("sac", env=lambda: Reach(continuous=True), seed=0, total_steps=48, **small)
    agent.learn(progress=False)
    stored = agent.state.buffer.data.obs
    assert stored["pos"].shape == (64, 2) and stored["goal"].dtype == jnp.int32
    assert int(agent.state.buffer.size) == 48
    assert np.asarray(stored["goal"][:48]).max() <= 2
    agent.close()


def test_an_observation_that_differs_from_its_space_is_named() -> None:
    agent = ascent.make("ppo", env=lambda: Reach(broken_at=3), seed=0, total_steps=32, **PPO)
    with pytest.raises(EnvError) as caught:
        agent.learn(progress=False)
    message = str(caught.value)
    assert "\n" not in message and "obs: no key 'goal'" in message and "step 3" in message
    agent.close()


class SequenceObs(Reach):
    observation_space = spaces.Dict(
        {"pos": spaces.Box(-1.0, 1.0, (2,)), "trail": spaces.Sequence(spaces.Discrete(3))}
    )


def test_a_space_ascent_cannot_take_is_one_line_before_any_step() -> None:
    with pytest.raises(EnvError, match=r"obs\['trail'\]: Sequence is not supported") as caught:
        ascent.make("ppo", env=lambda: SequenceObs(), **PPO)
    assert "\n" not in str(caught.value)
