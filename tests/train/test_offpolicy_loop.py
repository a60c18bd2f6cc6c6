"""The off-policy loop through both doors: what the replay buffer stores at episode
ends, warm-up and exploration within the bounds, the update-to-data ratio, saving
with and without the buffer, multi-seed training, and a smoke run of every algorithm
on Pendulum through each door."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

import ascent
from ascent.algos import DDPG, DDPGConfig
from ascent.envs import HostVecEnv
from ascent.io import load_checkpoint
from ascent.train import OffPolicyLoop
from ascent.train.seeds import train_seeds

EPISODE = 3  # every episode of the toy task lasts 3 steps
LOW, HIGH = np.array([-2.0, 0.0], np.float32), np.array([1.0, 5.0], np.float32)
OBS_SPACE = spaces.Box(-np.inf, np.inf, (2,), np.float32)
ACTION_SPACE = spaces.Box(LOW, HIGH)


class EndsState(NamedTuple):
    t: jax.Array
    episode: jax.Array


class Ends:
    """JAX door toy task: obs = [t, episode]; after 3 steps an odd episode terminates
    and an even one is truncated. Reward t. Actions (asymmetric bounds) are ignored."""

    observation_space = OBS_SPACE
    action_space = ACTION_SPACE
    env_id = "test/Ends"
    max_episode_steps = None

    def reset(self, key: jax.Array) -> tuple[jax.Array, EndsState]:
        return jnp.zeros(2), EndsState(jnp.int32(0), jnp.int32(0))

    def step(self, key: jax.Array, state: EndsState, action: jax.Array) -> tuple:
        t = state.t + 1
        ended = t >= EPISODE
        terminated = ended & (state.episode % 2 == 1)
        truncated = ended & ~terminated
        next_obs = jnp.stack([t, state.episode]).astype(jnp.float32)
        state = EndsState(jnp.where(ended, 0, t), state.episode + ended)
        obs = jnp.stack([state.t, state.episode]).astype(jnp.float32)
        return obs, state, t.astype(jnp.float32), terminated, truncated, next_obs


class EndsGym(gymnasium.Env):
    """The same task for the host door."""

    observation_space = OBS_SPACE
    action_space = ACTION_SPACE

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple:
        super().reset(seed=seed)
        self.t, self.episode = 0, getattr(self, "episode", -1) + 1
        return np.array([0, self.episode], np.float32), {}

    def step(self, action: np.ndarray) -> tuple:
        self.t += 1
        ended = self.t >= EPISODE
        terminated = ended and self.episode % 2 == 1
        obs = np.array([self.t, self.episode], np.float32)
        return obs, float(self.t), terminated, ended and not terminated, {}


gymnasium.register("AscentTestEnds-v0", entry_point=EndsGym)


def ends_loop(door: str, **fields: Any) -> OffPolicyLoop:
    env = Ends() if door == "jax" else HostVecEnv("AscentTestEnds-v0", n_envs=2, seed=0)
    fields = {"hidden": (8,), "n_envs": 2, "buffer_size": 64, "minibatch_size": 8, **fields}
    config = DDPGConfig(**fields)
    return OffPolicyLoop(DDPG(config, env.observation_space, env.action_space), env)


def run(loop: OffPolicyLoop, n: int) -> tuple[Any, dict[str, np.ndarray]]:
    state = loop.init(0)
    if loop.is_jax:
        return loop.run_jax_chunk(state, n)
    state, metrics, _ = loop.run_host_chunk(state, n, loop.env.reset(seed=0))
    return state, metrics


@pytest.mark.parametrize("door", ["jax", "host"])
def test_episode_ends_store_the_true_final_observation_and_both_flags(door: str) -> None:
    loop = ends_loop(door, learning_starts=0, train_freq=2)
    state, metrics = run(loop, 6)  # 12 steps of 2 environments: 4 episodes each
    data, size = state.buffer.data, int(state.buffer.size)
    assert size == 24 and int(state.env_steps) == 24
    obs, next_obs = np.asarray(data.obs[:size]), np.asarray(data.next_obs[:size])
    terminated, truncated = np.asarray(data.terminated[:size]), np.asarray(data.truncated[:size])
    # every transition's next_obs is the step the environment really took, t + 1, never
    # the reset observation [0, episode + 1] that the doors hand back at an episode end
    np.testing.assert_array_equal(next_obs[:, 0], obs[:, 0] + 1)
    np.testing.assert_array_equal(next_obs[:, 1], obs[:, 1])
    ended = next_obs[:, 0] == EPISODE
    odd = next_obs[:, 1] % 2 == 1
    np.testing.assert_array_equal(terminated, ended & odd)
    np.testing.assert_array_equal(truncated, ended & ~odd)
    assert terminated.sum() == 4 and truncated.sum() == 4
    # and the step after an end starts the next episode (rows are time-major, N = 2)
    after_end = np.flatnonzero(ended[:-2]) + 2
    np.testing.assert_array_equal(
        obs[after_end], np.c_[np.zeros(len(after_end)), obs[after_end - 2, 1] + 1]
    )
    assert metrics["episodes"].sum() == 8
    np.testing.assert_allclose(metrics["episode_return_sum"].sum(), 8 * (1 + 2 + 3))


@pytest.mark.parametrize("door", ["jax", "host"])
def test_warm_up_is_uniform_over_the_box_then_noisy_policy_within_bounds(door: str) -> None:
    loop = ends_loop(door, learning_starts=200, action_noise="normal", noise_std=5.0,
                     buffer_size=400)  # fmt: skip
    state, metrics = run(loop, 200)  # 100 random steps per environment, then 100 noisy
    actions = np.asarray(state.buffer.data.actions)
    warm, noisy = actions[:200], actions[200:]
    for part in (warm, noisy):
        assert (part >= LOW).all() and (part <= HIGH).all()
    # uniform over [low, high]: both ends reached, mean in the middle
    assert np.allclose(warm.min(0), LOW, atol=0.1) and np.allclose(warm.max(0), HIGH, atol=0.1)
    np.testing.assert_allclose(warm.mean(0), (LOW + HIGH) / 2, atol=0.3)
    # no learning during the warm-up, then one gradient step per iteration
    np.testing.assert_array_equal(metrics["gradient_steps"][:99], 0)
    np.testing.assert_array_equal(metrics["gradient_steps"][99:], 1)
    assert int(state.algo.updates) == 101


def test_ornstein_uhlenbeck_noise_is_carried_and_reset_at_episode_ends() -> None:
    loop = ends_loop("jax", learning_starts=0, action_noise="ou", noise_std=0.5)
    state = loop.init(0)
    noises = []
    for _ in range(EPISODE):  # one step per chunk: the episodes end at the third
        state, _ = loop.run_jax_chunk(state, 1)
        noises.append(np.asarray(state.noise))
    assert (noises[0] != 0).all() and (noises[1] != noises[0]).all()
    np.testing.assert_array_equal(noises[2], 0)


def test_gradient_steps_per_iteration_set_the_update_to_data_ratio() -> None:
    loop = ends_loop("jax", learning_starts=0, train_freq=3, gradient_steps=5)
    state, metrics = run(loop, 4)
    assert int(state.env_steps) == 4 * 3 * 2
    assert int(state.algo.updates) == 4 * 5
    assert loop.steps_per_iteration == 6


def test_saving_drops_the_buffer_unless_asked_and_loading_restores_an_empty_one(
    tmp_path: Path,
) -> None:
    fields = dict(hidden=(8,), buffer_size=500, learning_starts=50, minibatch_size=16,
                  total_steps=100)  # fmt: skip
    agent = ascent.make("sac", env="gymnax/Pendulum-v1", **fields)
    agent.learn(progress=False)
    agent.save(tmp_path / "light")
    tree, _ = load_checkpoint(tmp_path / "light")
    assert not any("buffer" in key for key in tree)
    light = ascent.load(tmp_path / "light")
    assert int(light.state.buffer.size) == 0 and light.state.buffer.capacity == 500
    for a, b in zip(jax.tree.leaves(agent.state.algo), jax.tree.leaves(light.state.algo),
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)

    agent.config = dataclasses.replace(agent.config, save_buffer=True)
    agent.save(tmp_path / "heavy")
    heavy = ascent.load(tmp_path / "heavy")
    assert int(heavy.state.buffer.size) == 100
    np.testing.assert_array_equal(heavy.state.buffer.data.obs, agent.state.buffer.data.obs)
    heavy.learn(total_steps=120, progress=False)  # and it trains on
    assert heavy.env_steps == 120 and int(heavy.state.buffer.size) == 120


def test_a_run_saved_with_its_buffer_resumes_bit_for_bit(tmp_path: Path) -> None:
    fields = dict(hidden=(8,), buffer_size=300, learning_starts=40, minibatch_size=16,
                  total_steps=160, save_buffer=True, action_noise="ou")  # fmt: skip
    whole = ascent.make("td3", env="gymnax/Pendulum-v1", seed=2, **fields)
    whole.learn(progress=False, log_every=40)
    half = ascent.make("td3", env="gymnax/Pendulum-v1", seed=2, **fields)
    half.learn(total_steps=80, progress=False, log_every=40)
    half.save(tmp_path / "half")
    resumed = ascent.load(tmp_path / "half")
    resumed.learn(progress=False)
    assert resumed.env_steps == whole.env_steps == 160
    for a, b in zip(jax.tree.leaves(whole.state), jax.tree.leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)


def test_several_seeds_train_in_one_compiled_program() -> None:
    fields = {"hidden": (8,), "buffer_size": 200, "learning_starts": 50, "minibatch_size": 16,
              "total_steps": 100}  # fmt: skip
    result = train_seeds("td3", "gymnax/Pendulum-v1", [0, 1], fields, eval_episodes=2,
                         use_preset=False)  # fmt: skip
    assert result.eval_returns.shape == (2, 2) and np.isfinite(result.eval_returns).all()
    assert result.states.buffer.size.tolist() == [100, 100]
    assert not np.array_equal(*np.asarray(result.states.buffer.data.obs[:, :100]))


SMOKE = {"hidden": (16,), "buffer_size": 1000, "learning_starts": 100, "minibatch_size": 32,
         "total_steps": 200}  # fmt: skip


@pytest.mark.parametrize("env_id", ["gymnax/Pendulum-v1", "Pendulum-v1"])
@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac", "naf"])
def test_smoke_through_both_doors(algo: str, env_id: str) -> None:
    agent = ascent.make(algo, env=env_id, seed=1, **SMOKE)
    assert agent.is_jax_door == env_id.startswith("gymnax/")
    before = agent.state.algo
    agent.learn(progress=False, log_every=100)
    assert agent.env_steps == 200 and int(agent.state.algo.updates) == 101
    after = jax.tree.leaves(agent.state.algo)
    moved = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before), after, strict=True)]
    assert all(moved)
    result = agent.evaluate(1)
    assert len(result.returns) == 1 and np.isfinite(result.returns).all()
    action, _ = agent.act(np.zeros(3, np.float32))
    assert action.shape == (1,) and -2 <= action[0] <= 2
    agent.close()
