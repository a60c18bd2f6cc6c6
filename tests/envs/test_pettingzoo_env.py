"""The PettingZoo door (`envs/pettingzoo_env.py`): padding, masks, the team's flags,
same-step autoreset, agents that leave early, step-output checks, and the registry."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pettingzoo")
pytest.importorskip("mpe2")

from gymnasium import spaces  # noqa: E402
from mpe2 import simple_spread_v3  # noqa: E402
from pettingzoo import ParallelEnv  # noqa: E402

from ascent.envs import HostVecEnv, PettingZooVecEnv, door, is_multiagent, list_envs, make  # noqa: E402
from ascent.envs.registry import check_saved_id, registered  # noqa: E402
from ascent.errors import CheckpointError, EnvError, StepTimeout  # noqa: E402


class Toy(ParallelEnv):
    """Two agents, "a" (obs 2, actions 3) and "b" (obs 1, actions 2). Each episode: "b"
    terminates at step `b_leaves`, "a" at step `a_leaves`. Observations count steps.
    `fault` breaks one thing: "obs" (a wrong shape at step 1), "reward" (a string),
    "raises" (step() raises), "sleeps" (step() hangs). `masked`: "a" observes
    {"observation", "action_mask"} forbidding action 1; "b"'s info forbids action 0."""

    metadata = {"name": "toy"}

    def __init__(self, b_leaves: int = 2, a_leaves: int = 4, fault: str = "", masked: bool = False):
        self.possible_agents = ["a", "b"]
        self.b_leaves, self.a_leaves, self.fault, self.masked = b_leaves, a_leaves, fault, masked
        self.t = 0
        self.received: list[dict[str, int]] = []

    def observation_space(self, agent: str) -> spaces.Space:
        box = spaces.Box(-10, 10, (2,) if agent == "a" else (1,), np.float32)
        if self.masked and agent == "a":
            return spaces.Dict({"observation": box, "action_mask": spaces.MultiBinary(3)})
        return box

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(3 if agent == "a" else 2)

    def _observe(self, agent: str) -> Any:
        o = np.full(2 if agent == "a" else 1, self.t + 1, np.float32)
        if self.masked and agent == "a":
            return {"observation": o, "action_mask": np.array([1, 0, 1], np.int8)}
        return o

    def _infos(self) -> dict[str, dict]:
        if self.masked:
            return {a: {"action_mask": np.array([0, 1])} if a == "b" else {} for a in self.agents}
        return {a: {} for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple:
        self.t, self.agents = 0, list(self.possible_agents)
        return {a: self._observe(a) for a in self.agents}, self._infos()

    def step(self, actions: dict[str, int]) -> tuple:
        self.received.append(dict(actions))
        assert set(actions) == set(self.agents), "actions for agents not in the episode"
        if self.fault == "raises":
            raise RuntimeError("the engine broke\nsecond line")
        if self.fault == "sleeps":
            time.sleep(3600)
        self.t += 1
        acted = list(self.agents)
        obs = {a: self._observe(a) for a in acted}
        if self.fault == "obs":
            obs["b"] = np.zeros(3, np.float32)
        rewards = {a: 1.0 for a in acted}
        if self.fault == "reward":
            rewards["a"] = "one"
        leaves = {"a": self.a_leaves, "b": self.b_leaves}
        terminated = {a: self.t >= leaves[a] for a in acted}
        truncated = {a: False for a in acted}
        infos = self._infos()
        self.agents = [a for a in acted if not terminated[a]]
        return obs, rewards, terminated, truncated, infos


def test_speaker_listener_is_padded() -> None:
    with PettingZooVecEnv("mpe2/simple_speaker_listener_v4", n_envs=2, seed=0) as env:
        assert env.agents == ("speaker_0", "listener_0") and is_multiagent(env)
        assert env.observation_space == spaces.Box(-np.inf, np.inf, (11,), np.float32)
        assert env.action_space == spaces.Discrete(5) and env.max_episode_steps == 25
        assert env.state_space.shape == (14,)  # mpe2's own state: 3 + 11, unpadded
        first = env.reset()
        assert first.obs.shape == (2, 2, 11) and first.obs.dtype == np.float32
        assert first.global_state.shape == (2, 14) and first.global_state.dtype == np.float32
        assert first.action_mask.shape == (2, 2, 5) and first.action_mask.dtype == np.bool_
        assert first.active.shape == (2, 2) and first.active.all()
        assert (first.obs[:, 0, 3:] == 0).all() and (first.obs[:, 0, :3] != 0).any()
        np.testing.assert_array_equal(first.action_mask[:, 0], [[1, 1, 1, 0, 0]] * 2)
        assert first.action_mask[:, 1].all()
        obs, rewards, terminated, truncated, _ = env.step(np.array([[2, 4], [0, 1]]))
        assert rewards.shape == (2, 2) and rewards.dtype == np.float32
        assert terminated.shape == truncated.shape == (2,)
        for name, array in zip(obs._fields, obs, strict=True):
            assert array.shape == getattr(first, name).shape, name


def test_spread_state_is_mpe2s_state() -> None:
    raw = simple_spread_v3.parallel_env(continuous_actions=False)
    with PettingZooVecEnv(raw, seed=4) as env:
        assert env.state_space.shape == (54,) and env.observation_space.shape == (18,)
        first = env.reset()
        np.testing.assert_array_equal(first.global_state[0], raw.state())
        obs, *_ = env.step(np.array([[1, 2, 3]]))
        np.testing.assert_array_equal(obs.global_state[0], raw.state())
        np.testing.assert_array_equal(obs.global_state[0], obs.obs[0].reshape(-1))


def test_truncation_and_same_step_autoreset() -> None:
    with PettingZooVecEnv("mpe2/simple_spread_v3", n_envs=2, seed=0) as env:
        env.reset()
        actions = np.ones((2, 3), np.int64)
        for _ in range(3):
            env.step(actions)
        restarted = env.reset_one(1)  # environment 1's episode now ends three steps later
        assert restarted.obs.shape == (3, 18) and restarted.active.all()
        for t in range(4, 26):
            obs, rewards, terminated, truncated, next_obs = env.step(actions)
            assert not terminated.any()
            if t < 25:
                assert not truncated.any() and next_obs is obs
        np.testing.assert_array_equal(truncated, [True, False])
        ended = (next_obs.obs != obs.obs).any(axis=(1, 2))
        np.testing.assert_array_equal(ended, truncated)  # differs exactly where it ended
        assert next_obs.active.all() and obs.active.all()
        # the final observation is the step's, the fresh one starts a new episode
        np.testing.assert_array_equal(next_obs.global_state[0], next_obs.obs[0].reshape(-1))
        assert (obs.obs[0, :, :2] == 0).all()  # a new episode starts at rest
        for _ in range(3):
            _, _, _, truncated, _ = env.step(actions)
        assert truncated[1]


def test_seeds() -> None:
    with PettingZooVecEnv("mpe2/simple_spread_v3", n_envs=2, seed=7) as two:
        with PettingZooVecEnv("mpe2/simple_spread_v3", n_envs=1, seed=8) as one:
            np.testing.assert_array_equal(two.reset().obs[1], one.reset().obs[0])
        with two.spawn(3, seed=7) as spawned:
            assert isinstance(spawned, PettingZooVecEnv) and spawned.n_envs == 3
            np.testing.assert_array_equal(spawned.reset().obs[:2], two.reset(seed=7).obs)


def test_forbidden_action_is_refused_in_one_line() -> None:
    with PettingZooVecEnv("mpe2/simple_speaker_listener_v4", n_envs=2) as env:
        env.reset()
        for bad, words in ((3, "forbidden by its action mask (padding"), (-1, "outside")):
            with pytest.raises(EnvError) as info:
                env.step(np.array([[0, 0], [bad, 0]]))
            message = str(info.value)
            assert "\n" not in message and words in message
            assert message.startswith("environment 1 of mpe2/simple_speaker_listener_v4")
            assert f"action {bad} of agent 'speaker_0'" in message
        with pytest.raises(EnvError, match="shape \\(2, 2\\)"):
            env.step(np.zeros(2, np.int64))


def test_continuous_actions_are_refused() -> None:
    with pytest.raises(EnvError) as info:
        PettingZooVecEnv("mpe2/simple_spread_v3", continuous_actions=True)
    assert "\n" not in str(info.value) and "continuous actions" in str(info.value)


def test_an_agent_leaving_early_becomes_inactive() -> None:
    toy = Toy(b_leaves=2, a_leaves=4)
    with PettingZooVecEnv(toy) as env:
        assert env.env_id == "<toy>" and env.observation_space.shape == (2,)
        assert env.state_space.shape == (4,)  # no state(): the padded observations joined
        first = env.reset()
        np.testing.assert_array_equal(first.obs[0], [[1, 1], [1, 0]])
        np.testing.assert_array_equal(first.action_mask[0], [[1, 1, 1], [1, 1, 0]])
        obs, rewards, terminated, truncated, _ = env.step(np.array([[0, 1]]))
        assert obs.active[0].all() and not (terminated | truncated).any()
        obs, rewards, terminated, truncated, _ = env.step(np.array([[0, 1]]))
        np.testing.assert_array_equal(rewards[0], [1, 1])  # "b" acted, then left
        np.testing.assert_array_equal(obs.active[0], [True, False])
        np.testing.assert_array_equal(obs.obs[0, 1], [0, 0])
        np.testing.assert_array_equal(obs.global_state[0], [3, 3, 0, 0])
        obs, rewards, terminated, truncated, _ = env.step(np.array([[2, 7]]))  # 7: ignored
        assert toy.received[-1] == {"a": 2}
        np.testing.assert_array_equal(rewards[0], [1, 0])
        obs, rewards, terminated, truncated, next_obs = env.step(np.array([[0, 0]]))
        assert terminated[0] and not truncated[0]
        np.testing.assert_array_equal(next_obs.active[0], [True, False])  # "a"'s final step
        np.testing.assert_array_equal(next_obs.obs[0], [[5, 5], [0, 0]])
        np.testing.assert_array_equal(obs.obs[0], [[1, 1], [1, 0]])  # a new episode
        assert obs.active[0].all()


class ToyWithState(Toy):
    state_space = spaces.Box(0, 100, (3,), np.float32)

    def state(self) -> np.ndarray:
        return np.array([self.t, len(self.agents), 7], np.float32)


def test_an_environments_own_state() -> None:
    with PettingZooVecEnv(ToyWithState) as env:
        assert env.state_space == spaces.Box(0, 100, (3,), np.float32)
        np.testing.assert_array_equal(env.reset().global_state, [[0, 2, 7]])
        obs, *_ = env.step(np.array([[0, 0]]))
        np.testing.assert_array_equal(obs.global_state, [[1, 2, 7]])


def test_action_masks_are_honoured() -> None:
    with PettingZooVecEnv(lambda: Toy(masked=True), n_envs=2) as env:
        first = env.reset()
        # "a": its observation's mask; "b": its info's mask; both padded to 3
        np.testing.assert_array_equal(first.action_mask[1], [[1, 0, 1], [0, 1, 0]])
        assert first.obs.shape == (2, 2, 2)
        env.step(np.array([[2, 1], [0, 1]]))
        with pytest.raises(EnvError, match="agent 'a' is forbidden by its action mask$"):
            env.step(np.array([[0, 1], [1, 1]]))
        with pytest.raises(EnvError, match="action 0 of agent 'b'"):
            env.step(np.array([[0, 0], [0, 1]]))


@pytest.mark.parametrize(
    "fault, words",
    [
        ("obs", "step(): agent 'b': observation has shape (3,), expected (1,)"),
        ("reward", "agent 'a': reward 'one' (str) is not a number"),
        ("raises", "step() raised RuntimeError: the engine broke"),
    ],
)
def test_bad_step_output_is_one_line(fault: str, words: str) -> None:
    with PettingZooVecEnv(lambda: Toy(fault=fault), n_envs=2) as env:
        env.reset()
        with pytest.raises(EnvError) as info:
            env.step(np.zeros((2, 2), np.int64))
    message = str(info.value)
    assert "\n" not in message and words in message
    assert message.startswith("environment 0 of <toy> at its step 1")


def test_a_hanging_step_is_interrupted() -> None:
    with PettingZooVecEnv(lambda: Toy(fault="sleeps"), step_timeout=0.3) as env:
        env.reset()
        started = time.monotonic()
        with pytest.raises(StepTimeout, match="environment 0 of <toy> at its step 1"):
            env.step(np.zeros((1, 2), np.int64))
        assert time.monotonic() - started < 10


def test_registry_round_trips() -> None:
    with make("mpe2/simple_tag_v3", n_envs=2, seed=3) as env:
        assert isinstance(env, PettingZooVecEnv) and isinstance(env, HostVecEnv)
        assert door(env) == "host" and env.n_envs == 2 and env.seed == 3
        assert env.agents[-1] == "agent_0" and env.observation_space.shape == (16,)
    assert check_saved_id("mpe2/simple_spread_v3", "meta.json") == "mpe2/simple_spread_v3"
    assert registered("mpe2/simple_world_comm_v3") and not registered("mpe2/simple_nothing_v1")
    with pytest.raises(CheckpointError, match="not registered"):
        check_saved_id("mpe2/simple_nothing_v1", "meta.json")
    with pytest.raises(EnvError, match="did you mean 'mpe2/simple_spread_v3'"):
        make("mpe2/simple_sprad_v3")
    assert all(registered(i) for i in list_envs()["pettingzoo"])
    with make(Toy(), seed=1) as from_object, make(Toy, n_envs=3) as from_factory:
        assert isinstance(from_object, PettingZooVecEnv) and from_factory.n_envs == 3
        assert from_factory.reset().obs.shape == (3, 2, 2)
    with pytest.raises(EnvError, match="not n_envs=2"):
        make(Toy(), n_envs=2)


def test_optional_packages_are_imported_lazily() -> None:
    """The adapters' modules import PettingZoo, mpe2 and JaxMARL only inside functions."""
    folder = Path(__file__).resolve().parents[2] / "ascent" / "envs"
    for module in ("pettingzoo_env.py", "jaxmarl_env.py", "registry.py", "__init__.py"):
        tree = ast.parse((folder / module).read_text())
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.split(".")[0] in ("pettingzoo", "mpe2", "jaxmarl")]


class Ghost(Toy):
    """Agent "b" leaves at step 2 (terminated, gone from `agents`) but its observation
    keeps coming, as PettingZoo allows (extra keys in the observations' dict)."""

    def step(self, actions: dict[str, int]) -> tuple:
        obs, rewards, terminated, truncated, infos = super().step(actions)
        return {"b": self._observe("b"), **obs}, rewards, terminated, truncated, infos


def test_an_agent_that_has_left_stays_inactive_whatever_it_observes() -> None:
    """Issue 30, item 3: the observation of an agent that has left is ignored, also in
    the episode's final observation (from which a truncated team bootstraps)."""
    with PettingZooVecEnv(Ghost(b_leaves=2, a_leaves=4)) as env:
        env.reset()
        for _ in range(3):
            obs, *_ = env.step(np.array([[0, 0]]))
        np.testing.assert_array_equal(obs.active[0], [True, False])
        np.testing.assert_array_equal(obs.obs[0, 1], [0, 0])
        obs, _, terminated, _, next_obs = env.step(np.array([[0, 0]]))
        assert terminated[0] and obs.active[0].all()  # a new episode
        np.testing.assert_array_equal(next_obs.active[0], [True, False])  # "a"'s final step
        np.testing.assert_array_equal(next_obs.obs[0], [[5, 5], [0, 0]])


class Lingering(Toy):
    """Agent "b" terminates at step 2 but stays in `agents`, acting on."""

    def step(self, actions: dict[str, int]) -> tuple:
        out = super().step(actions)
        self.agents = [a for a in self.possible_agents if a in actions]
        return out


def test_an_agent_that_terminated_but_stays_is_refused_in_one_line() -> None:
    with PettingZooVecEnv(Lingering(b_leaves=2, a_leaves=4)) as env:
        env.reset()
        env.step(np.array([[0, 0]]))
        with pytest.raises(EnvError) as info:
            env.step(np.array([[0, 0]]))
    message = str(info.value)
    assert "\n" not in message and message.startswith("environment 0 of <toy> at its step 2: ")
    assert "agent 'b' terminated but is still in env.agents" in message


class ObsOnly(Toy):
    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple:
        return super().reset(seed, options)[0]


def test_a_reset_that_returns_only_the_observations_is_named() -> None:
    with PettingZooVecEnv(ObsOnly()) as env, pytest.raises(EnvError) as info:
        env.reset()
    message = str(info.value)
    assert "\n" not in message and message.startswith("environment 0 of <toy>")
    assert "reset must return (obs, info), got dict" in message
