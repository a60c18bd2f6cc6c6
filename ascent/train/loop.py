"""What every training loop shares: the state pytree, the PRNG-key schedule, episode
statistics, observation/reward normalisation and finiteness checks.

A loop (on-policy in `onpolicy.py`, others beside it) satisfies `Loop`: it builds the
initial `LoopState` for a seed, and runs a chunk of iterations through either door.
One iteration collects `steps_per_iteration` environment steps and learns from them.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from ascent.algos.base import Algorithm
from ascent.core.normalize import RunningMeanStd, normalize, scale_rewards, update_running_stats
from ascent.envs import HostVecEnv, JaxEnv


class Episodes(NamedTuple):
    """Running return and length of the episode in progress in each environment [N]."""

    ret: jax.Array
    length: jax.Array


class EnvCarry(NamedTuple):
    """What the JAX door carries between iterations: env states and the next obs [N, ...]."""

    env_state: Any
    obs: jax.Array


class NormState(NamedTuple):
    """Normalisation statistics; frozen during evaluation, saved with the state."""

    obs: RunningMeanStd  # of observations, per component
    ret: RunningMeanStd  # of the discounted return, for reward scaling
    discounted: jax.Array  # [N] the discounted return in progress in each environment


class LoopState(NamedTuple):
    """Everything that changes during training; save it and the run continues exactly."""

    algo: Any
    key: jax.Array
    env_steps: jax.Array
    iteration: jax.Array
    episodes: Episodes
    norm: NormState
    env: EnvCarry | None  # None for the host door, whose environments live in Python
    buffer: Any = None  # off-policy loops: the replay buffer (ascent.buffers.ReplayBuffer)
    noise: Any = None  # off-policy loops: exploration-noise state per environment [N, ...]
    policy_state: Any = None  # memory policies: what the policy carries per environment [N, ...]
    episode_starts: Any = None  # memory policies: [N] bool, the next step starts an episode


class Loop(Protocol):
    algorithm: Algorithm
    env: JaxEnv | HostVecEnv
    is_jax: bool
    steps_per_iteration: int

    def init(self, seed: int) -> LoopState: ...

    def policy(
        self, algo_state: Any, norm: NormState, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> tuple[jax.Array, jax.Array]: ...

    def iterate_jax(self, state: LoopState) -> tuple[LoopState, dict[str, jax.Array]]: ...

    def run_jax_chunk(
        self, state: LoopState, n: int
    ) -> tuple[LoopState, dict[str, np.ndarray]]: ...

    def run_host_chunk(
        self, state: LoopState, n: int, obs: np.ndarray
    ) -> tuple[LoopState, dict[str, np.ndarray], np.ndarray]: ...


class MemoryLoop(Loop, Protocol):
    """A loop whose policy may carry a state between steps (`LoopState.policy_state` is
    not None): evaluation and `Agent.act` step it through these two methods."""

    def initial_policy_state(self, n: int) -> tuple[Any, jax.Array]:
        """(policy_state, episode_starts) of n environments before their first step."""
        ...

    def policy_step(
        self,
        algo_state: Any,
        norm: NormState,
        policy_state: Any,
        episode_starts: jax.Array,
        obs: jax.Array,
        key: jax.Array,
        deterministic: bool,
    ) -> tuple[jax.Array, jax.Array, Any]:
        """(action, log_prob, policy_state after the step) for raw observations [N, ...]."""
        ...


def init_loop_state(
    algorithm: Algorithm, env: JaxEnv | HostVecEnv, n_envs: int, seed: int | jax.Array, is_jax: bool
) -> LoopState:
    """Initial state: the algorithm's, a key, zero counters, fresh environments (JAX door)."""
    key = jax.random.PRNGKey(seed)
    key, init_key, reset_key = jax.random.split(key, 3)
    carry = None
    if is_jax:
        obs, env_state = jax.vmap(env.reset)(jax.random.split(reset_key, n_envs))
        carry = EnvCarry(env_state, obs)
    obs_shape = tuple(env.observation_space.shape)
    return LoopState(
        algo=algorithm.init(init_key),
        key=key,
        env_steps=jnp.zeros((), jnp.int32),
        iteration=jnp.zeros((), jnp.int32),
        episodes=Episodes(jnp.zeros((n_envs,), jnp.float32), jnp.zeros((n_envs,), jnp.int32)),
        norm=NormState(
            RunningMeanStd.zeros(obs_shape), RunningMeanStd.zeros(), jnp.zeros((n_envs,))
        ),
        env=carry,
    )


def split_iteration_key(
    key: jax.Array, n_steps: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """(next key, act keys [T], env keys [T], learn key) for one iteration; both doors
    split the same way, so they draw the same actions from the same observations."""
    key, roll, learn = jax.random.split(key, 3)
    step_keys = jax.random.split(roll, (n_steps, 2))
    return key, step_keys[:, 0], step_keys[:, 1], learn


def track_episodes(
    episodes: Episodes, rewards: jax.Array, dones: jax.Array
) -> tuple[Episodes, dict[str, jax.Array]]:
    """Carry each environment's running return over [T, N] steps; return sums over the
    episodes that ended (the host averages them for logging)."""

    def step(ep: Episodes, x: tuple) -> tuple[Episodes, tuple]:
        reward, done = x
        ret, length = ep.ret + reward, ep.length + 1
        ended = (ret * done, length * done, done)
        return Episodes(ret * ~done, length * ~done), ended

    episodes, (ret, length, ended) = jax.lax.scan(step, episodes, (rewards, dones))
    stats = {
        "episodes": ended.sum().astype(jnp.float32),
        "episode_return_sum": ret.sum(),
        "episode_length_sum": length.sum().astype(jnp.float32),
    }
    return episodes, stats


class Normalizer:
    """Observation normalisation and reward scaling, switched on by the config fields
    `normalize_obs` / `normalize_reward` (static: off costs nothing)."""

    def __init__(self, config: Any):
        self.obs = bool(getattr(config, "normalize_obs", False))
        self.reward = bool(getattr(config, "normalize_reward", False))
        self.clip_obs = float(getattr(config, "clip_obs", 10.0))
        self.gamma = float(getattr(config, "gamma", 0.99))

    def obs_for_policy(self, norm: NormState, obs: jax.Array) -> jax.Array:
        return normalize(norm.obs, obs, clip=self.clip_obs) if self.obs else obs

    def update(
        self, norm: NormState, raw_obs: jax.Array, rewards: jax.Array, dones: jax.Array
    ) -> tuple[NormState, jax.Array]:
        """Statistics after taking in [T, N] raw observations and rewards; returns them and
        the rewards to learn from (scaled, or as they were)."""
        if self.reward:
            discounted, ret, rewards = scale_rewards(
                norm.discounted, norm.ret, rewards, dones, gamma=self.gamma
            )
            norm = norm._replace(ret=ret, discounted=discounted)
        if self.obs:
            norm = norm._replace(obs=update_running_stats(norm.obs, raw_obs))
        return norm, rewards


def all_finite(tree: Any) -> jax.Array:
    """True when every floating-point leaf of `tree` is finite."""
    arrays = [jnp.asarray(x) for x in jax.tree.leaves(tree)]
    leaves = [jnp.isfinite(x).all() for x in arrays if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.stack(leaves).all() if leaves else jnp.bool_(True)


def finiteness(
    obs: Any, rewards: jax.Array, metrics: dict, algo_state: Any
) -> dict[str, jax.Array]:
    """The four checks the host reads after each chunk (1.0 = finite)."""
    checks = {
        "finite_obs": all_finite(obs),
        "finite_reward": all_finite(rewards),
        "finite_loss": all_finite(metrics),
        "finite_params": all_finite(algo_state),
    }
    return {k: v.astype(jnp.float32) for k, v in checks.items()}


def stack_rows(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per-iteration metric dicts (device arrays) -> {name: [n]} numpy arrays."""
    rows = jax.device_get(rows)
    return {k: np.stack([np.asarray(row[k]) for row in rows]) for k in rows[0]}
