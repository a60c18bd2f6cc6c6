"""The on-policy loop, collect → update, through either environment door.

Both doors share one state pytree (`LoopState`) and one jitted `learn` step (the
algorithm's update, episode statistics and finiteness checks); they differ only in
how a rollout is collected:

- JAX door: `lax.scan` over T steps of a `vmap`-ed pure environment, and `lax.scan`
  over iterations, so a chunk of updates is one compiled program.
- Host door: N Gymnasium environments stepped from Python; the policy (`act`) and
  the update are jitted, the rollout is written into preallocated numpy arrays.

The PRNG key in the state is split the same way in both doors, so a resumed run
repeats an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ascent.algos.base import Algorithm
from ascent.buffers import Rollout, RolloutBuffer
from ascent.envs import HostVecEnv, JaxEnv, clip_action, is_discrete, is_jax_env


class Episodes(NamedTuple):
    """Running return and length of the episode in progress in each environment [N]."""

    ret: jax.Array
    length: jax.Array


class EnvCarry(NamedTuple):
    """What the JAX door carries between rollouts: env states and the next obs [N, ...]."""

    env_state: Any
    obs: jax.Array


class LoopState(NamedTuple):
    """Everything that changes during training; save it and the run continues exactly."""

    algo: Any
    key: jax.Array
    env_steps: jax.Array
    episodes: Episodes
    env: EnvCarry | None  # None for the host door, whose environments live in Python


def split_iteration_key(
    key: jax.Array, n_steps: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """(next key, act keys [T], env keys [T], update key) for one collect → update."""
    key, roll, update = jax.random.split(key, 3)
    step_keys = jax.random.split(roll, (n_steps, 2))
    return key, step_keys[:, 0], step_keys[:, 1], update


def track_episodes(episodes: Episodes, rollout: Rollout) -> tuple[Episodes, dict[str, jax.Array]]:
    """Carry each environment's running return across the rollout; return sums over
    the episodes that ended in it (the loop averages them for logging)."""

    def step(ep: Episodes, x: tuple) -> tuple[Episodes, tuple]:
        reward, done = x
        ret, length = ep.ret + reward, ep.length + 1
        ended = (ret * done, length * done, done)
        return Episodes(ret * ~done, length * ~done), ended

    done = rollout.terminated | rollout.truncated
    episodes, (ret, length, ended) = jax.lax.scan(step, episodes, (rollout.rewards, done))
    stats = {
        "episodes": ended.sum().astype(jnp.float32),
        "episode_return_sum": ret.sum(),
        "episode_length_sum": length.sum().astype(jnp.float32),
    }
    return episodes, stats


def _all_finite(tree: Any) -> jax.Array:
    arrays = [jnp.asarray(x) for x in jax.tree.leaves(tree)]
    leaves = [jnp.isfinite(x).all() for x in arrays if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.stack(leaves).all() if leaves else jnp.bool_(True)


class OnPolicyLoop:
    """Compiled pieces of the on-policy loop for one algorithm and one environment."""

    def __init__(self, algorithm: Algorithm, env: JaxEnv | HostVecEnv, n_envs: int, n_steps: int):
        self.algorithm = algorithm
        self.env = env
        self.n_envs, self.n_steps = n_envs, n_steps
        self.is_jax = is_jax_env(env)
        self.action_space = env.action_space
        self._learn = jax.jit(self.learn)
        self._act = jax.jit(algorithm.act, static_argnames="deterministic")
        self._split = jax.jit(split_iteration_key, static_argnums=1)
        self._chunks: dict[int, Callable] = {}
        self._buffer: RolloutBuffer | None = None

    # --- state ------------------------------------------------------------------

    def init(self, seed: int) -> LoopState:
        key = jax.random.PRNGKey(seed)
        key, init_key, reset_key = jax.random.split(key, 3)
        carry = None
        if self.is_jax:
            obs, env_state = jax.vmap(self.env.reset)(jax.random.split(reset_key, self.n_envs))
            carry = EnvCarry(env_state, obs)
        zeros = jnp.zeros((self.n_envs,), jnp.float32)
        return LoopState(
            algo=self.algorithm.init(init_key),
            key=key,
            env_steps=jnp.zeros((), jnp.int32),
            episodes=Episodes(zeros, jnp.zeros((self.n_envs,), jnp.int32)),
            env=carry,
        )

    # --- the step both doors share ------------------------------------------------

    def learn(
        self, state: LoopState, rollout: Rollout, update_key: jax.Array
    ) -> tuple[LoopState, dict[str, jax.Array]]:
        """The algorithm's update plus bookkeeping: counters, episodes, finiteness."""
        algo, metrics = self.algorithm.update(state.algo, rollout, update_key)
        metrics = {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}
        episodes, episode_stats = track_episodes(state.episodes, rollout)
        checks = {
            "finite_obs": _all_finite((rollout.obs, rollout.next_obs)),
            "finite_reward": _all_finite(rollout.rewards),
            "finite_loss": _all_finite(metrics),
            "finite_params": _all_finite(algo),
        }
        env_steps = state.env_steps + self.n_steps * self.n_envs
        state = state._replace(algo=algo, env_steps=env_steps, episodes=episodes)
        metrics = {
            **metrics,
            **episode_stats,
            **{k: v.astype(jnp.float32) for k, v in checks.items()},
        }
        return state, metrics

    # --- the JAX door -------------------------------------------------------------

    def collect_jax(
        self, algo_state: Any, carry: EnvCarry, act_keys: jax.Array, env_keys: jax.Array
    ) -> tuple[EnvCarry, Rollout]:
        """T steps of the vmapped environment under the current policy."""
        step_env = jax.vmap(self.env.step)

        def step(carry: EnvCarry, keys: tuple) -> tuple[EnvCarry, Rollout]:
            act_key, env_key = keys
            action, log_prob = self.algorithm.act(algo_state, carry.obs, act_key)
            env_action = clip_action(action, self.action_space)
            obs, env_state, reward, terminated, truncated, next_obs = step_env(
                jax.random.split(env_key, self.n_envs), carry.env_state, env_action
            )
            transition = Rollout(
                carry.obs, action, log_prob, reward, terminated, truncated, next_obs
            )
            return EnvCarry(env_state, obs), transition

        return jax.lax.scan(step, carry, (act_keys, env_keys))

    def iterate_jax(self, state: LoopState) -> tuple[LoopState, dict[str, jax.Array]]:
        key, act_keys, env_keys, update_key = split_iteration_key(state.key, self.n_steps)
        carry, rollout = self.collect_jax(state.algo, state.env, act_keys, env_keys)
        return self.learn(state._replace(key=key, env=carry), rollout, update_key)

    def run_jax_chunk(
        self, state: LoopState, n_updates: int
    ) -> tuple[LoopState, dict[str, np.ndarray]]:
        """`n_updates` iterations in one compiled call; metrics stacked [n_updates]."""
        if n_updates not in self._chunks:

            def chunk(state: LoopState) -> tuple[LoopState, dict]:
                return jax.lax.scan(lambda s, _: self.iterate_jax(s), state, None, length=n_updates)

            self._chunks[n_updates] = jax.jit(chunk)
        state, metrics = self._chunks[n_updates](state)
        return state, jax.device_get(metrics)

    # --- the host door ------------------------------------------------------------

    def run_host_chunk(
        self, state: LoopState, n_updates: int, obs: np.ndarray
    ) -> tuple[LoopState, dict[str, np.ndarray], np.ndarray]:
        """`n_updates` iterations stepping Gymnasium environments from Python.

        `obs` is the observation to act on next; it is returned updated, since the
        host door's environment state lives outside the pytree.
        """
        env: HostVecEnv = self.env  # type: ignore[assignment]
        if self._buffer is None:
            space = self.action_space
            self._buffer = RolloutBuffer(
                self.n_steps,
                self.n_envs,
                tuple(env.observation_space.shape),
                tuple(space.shape) if not is_discrete(space) else (),
                np.int32 if is_discrete(space) else np.float32,
            )
        buffer = self._buffer
        rows = []
        for _ in range(n_updates):
            key, act_keys, _, update_key = self._split(state.key, self.n_steps)
            act_keys = np.asarray(act_keys)
            for t in range(self.n_steps):
                action, log_prob = self._act(state.algo, obs, act_keys[t])
                action, log_prob = np.asarray(action), np.asarray(log_prob)
                next_obs_after_reset, reward, terminated, truncated, next_obs = env.step(
                    clip_action(action, self.action_space)
                )
                buffer.add(t, obs, action, log_prob, reward, terminated, truncated, next_obs)
                obs = next_obs_after_reset
            state, metrics = self._learn(state._replace(key=key), buffer.rollout(), update_key)
            rows.append(metrics)
        metrics = jax.device_get(rows)
        stacked = {k: np.stack([row[k] for row in metrics]) for k in metrics[0]}
        return state, stacked, obs
