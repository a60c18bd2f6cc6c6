"""What every training loop shares: the state pytree, the PRNG-key schedule, episode
statistics, observation/reward normalisation and finiteness checks.

A loop (on-policy in `onpolicy.py`, others beside it) satisfies `Loop`: it builds the
initial `LoopState` for a seed, and runs a chunk of iterations through either door.
One iteration collects `steps_per_iteration` environment steps and learns from them.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from ascent.algos.protocol import Algorithm
from ascent.core.normalize import RunningMeanStd, normalize, scale_rewards, update_running_stats
from ascent.core.shapes import broadcast_flags
from ascent.envs import GymnaxEnv, HostVecEnv, JaxEnv, is_multiagent
from ascent.nn.encoders import Leaf, ObsSpec


class Count(NamedTuple):
    """A count of steps or iterations that goes past 2^31 with JAX's 32-bit integers
    (x64 off, JAX's default): high · 2^32 + low, two uint32 scalars. `int(count)` on
    the host gives the whole number."""

    high: jax.Array
    low: jax.Array

    @classmethod
    def of(cls, n: int) -> Count:
        """The count `n` (0 <= n < 2^64)."""
        high, low = divmod(int(n), 2**32)
        return cls(jnp.asarray(high, jnp.uint32), jnp.asarray(low, jnp.uint32))

    def add(self, n: int) -> Count:
        """The count plus a static `n` in [0, 2^32), carrying into `high`."""
        low = self.low + jnp.uint32(n)
        return Count(self.high + (low < self.low).astype(jnp.uint32), low)

    def less_than(self, n: int) -> jax.Array:
        """Whether the count is below a static `n` >= 0 (a bool scalar)."""
        high, low = divmod(int(n), 2**32)
        if high >= 2**32:
            return jnp.bool_(True)
        high, low = jnp.uint32(high), jnp.uint32(low)  # Python ints past 2^31 overflow int32
        return (self.high < high) | ((self.high == high) & (self.low < low))

    def as_float(self) -> jax.Array:
        """The count as a float32 (exact below 2^24): a schedule's clock."""
        return self.high.astype(jnp.float32) * 2.0**32 + self.low.astype(jnp.float32)

    def __int__(self) -> int:
        return (int(self.high) << 32) | int(self.low)


class Episodes(NamedTuple):
    """Running return and length of the episode in progress in each environment [N]
    (the return per agent, [N, A], for a team)."""

    ret: jax.Array
    length: jax.Array


class EnvCarry(NamedTuple):
    """What the JAX door carries between iterations: env states and the next obs [N, ...]."""

    env_state: Any
    obs: jax.Array


class NormState(NamedTuple):
    """Normalisation statistics; frozen during evaluation, saved with the state."""

    obs: Any  # of observations, per component: a RunningMeanStd at each Box leaf, else None
    ret: RunningMeanStd  # of the discounted return, for reward scaling
    discounted: jax.Array  # [N] the discounted return in progress in each environment


class LoopState(NamedTuple):
    """Everything that changes during training; save it and the run continues exactly."""

    algo: Any
    key: jax.Array
    env_steps: Count  # environment steps so far, summed over environments
    iteration: Count  # collect → learn iterations so far
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
    acting: Any  # train.acting.Policy: how the policy acts, with its state if it has one

    def init(self, seed: int) -> LoopState: ...

    def iterate_jax(self, state: LoopState) -> tuple[LoopState, dict[str, jax.Array]]: ...

    def run_jax_chunk(
        self, state: LoopState, n: int
    ) -> tuple[LoopState, dict[str, np.ndarray]]: ...

    def run_host_chunk(
        self, state: LoopState, n: int, obs: np.ndarray
    ) -> tuple[LoopState, dict[str, np.ndarray], np.ndarray]: ...


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
    obs_stats = obs_statistics(ObsSpec.of(env.observation_space))
    returns = (n_envs, len(env.agents)) if is_multiagent(env) else (n_envs,)
    return LoopState(
        algo=algorithm.init(init_key),
        key=key,
        env_steps=Count.of(0),
        iteration=Count.of(0),
        episodes=Episodes(jnp.zeros(returns, jnp.float32), jnp.zeros((n_envs,), jnp.int32)),
        norm=NormState(obs_stats, RunningMeanStd.zeros(), jnp.zeros((n_envs,))),
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
    episodes: Episodes,
    rewards: jax.Array,
    dones: jax.Array,
    agents: tuple[str, ...] | None = None,
) -> tuple[Episodes, dict[str, jax.Array]]:
    """Carry each environment's running return over [T, N] steps; return sums over the
    episodes that ended (`summarise` averages them by episode for logging).

    A team's rewards are [T, N, A] (`agents` names the A agents), its flags [T, N]; its
    `episode_return` is the return per agent (the mean over the agents), and it also
    sums the team's return (over the agents) and each agent's as
    `episode_team_return_sum` and `episode_return_sum/<agent>`."""

    def step(ep: Episodes, x: tuple) -> tuple[Episodes, tuple]:
        reward, done = x
        ret, length = ep.ret + reward, ep.length + 1
        ended = (ret * broadcast_flags(done, ret), length * done, done)
        return Episodes(ret * ~broadcast_flags(done, ret), length * ~done), ended

    episodes, (ret, length, ended) = jax.lax.scan(step, episodes, (rewards, dones))
    stats = {
        "episodes": ended.sum().astype(jnp.float32),
        "episode_return_sum": ret.sum() if agents is None else ret.mean(-1).sum(),
        "episode_length_sum": length.sum().astype(jnp.float32),
    }
    if agents is not None:  # ret [T, N, A]
        stats["episode_team_return_sum"] = ret.sum()
        for i, name in enumerate(agents):
            stats[f"episode_return_sum/{name}"] = ret[..., i].sum()
    return episodes, stats


def with_game_scores(
    metrics: dict[str, np.ndarray], games: list[dict[str, float]]
) -> dict[str, np.ndarray]:
    """A host chunk's metrics [n] with the episode sums its environment reported itself
    for each iteration (`games`: `GameScores.pop()`, raw scores of whole Atari games, as
    RL-Zoo's Monitor logs them) in place of the sums of the rewards the learner saw
    (clipped, and per life); unchanged when there are none."""
    if not games:
        return metrics
    return {**metrics, **{k: np.array([g[k] for g in games], np.float32) for k in games[0]}}


def obs_statistics(spec: ObsSpec) -> Any:
    """Zero running statistics for an observation: a `RunningMeanStd` of each Box leaf's
    shape, None at the other leaves (one-hots and bits are not normalised)."""
    return spec.map(lambda leaf: RunningMeanStd.zeros(leaf.shape) if leaf.kind == "box" else None)


class Normalizer:
    """Observation normalisation (of an observation's Box leaves) and reward scaling,
    switched on by the config fields `normalize_obs` / `normalize_reward` (static: off
    costs nothing)."""

    def __init__(self, config: Any, obs_spec: ObsSpec):
        self.obs = bool(getattr(config, "normalize_obs", False))
        self.reward = bool(getattr(config, "normalize_reward", False))
        # numbers, or a sweep's traced values (ascent.tuning.sweep): never float() here
        self.clip_obs = getattr(config, "clip_obs", 10.0)
        self.gamma = getattr(config, "gamma", 0.99)
        self.spec = obs_spec

    def obs_for_policy(self, norm: NormState, obs: Any) -> Any:
        if not self.obs:
            return obs

        def one(leaf: Leaf, stats: RunningMeanStd | None, x: jax.Array) -> jax.Array:
            return x if stats is None else normalize(stats, x, clip=self.clip_obs)

        return self.spec.map(one, norm.obs, obs)

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

            def one(leaf: Leaf, stats: RunningMeanStd | None, x: jax.Array) -> Any:
                return None if stats is None else update_running_stats(stats, x)

            norm = norm._replace(obs=self.spec.map(one, norm.obs, raw_obs))
        return norm, rewards


def all_finite(tree: Any) -> jax.Array:
    """True when every floating-point leaf of `tree` is finite: one check over the leaves
    laid end to end (half the time of a check per leaf, for an optimiser's state)."""
    arrays = [jnp.asarray(x) for x in jax.tree.leaves(tree)]
    floats = [
        x.ravel().astype(jnp.float32) for x in arrays if jnp.issubdtype(x.dtype, jnp.floating)
    ]
    return jnp.isfinite(jnp.concatenate(floats)).all() if floats else jnp.bool_(True)


def finiteness(obs: Any, rewards: jax.Array, metrics: dict) -> dict[str, jax.Array]:
    """The checks of each iteration the host reads after a chunk (1.0 = finite).

    The parameters are checked once a chunk instead (the runner calls `all_finite` on
    the state): reading every parameter and optimiser moment at every update is a
    visible part of an off-policy update (benchmarks/results/design_notes.md), and a
    non-finite parameter shows in the next update's loss anyway."""
    checks = {
        "finite_obs": all_finite(obs),
        "finite_reward": all_finite(rewards),
        "finite_loss": all_finite(metrics),
    }
    return {k: v.astype(jnp.float32) for k, v in checks.items()}


def _space_words(space: Any) -> str:
    low, high = getattr(space, "low", None), getattr(space, "high", None)
    if low is None or high is None:
        return repr(space)
    bounds = hashlib.sha256(np.asarray(low).tobytes() + np.asarray(high).tobytes()).hexdigest()
    return f"{type(space).__name__} {space.shape} {space.dtype} {bounds}"


def program_source(loop: Any) -> str | None:
    """Words naming everything a loop's compiled programs depend on besides their
    arguments and Ascent's own code (`CachedJit(source=...)`, runtime/program_cache.py): the
    loop's and algorithm's classes, the algorithm's config, the environment's id and
    spaces. None, so that programs are found by tracing, when the loop, algorithm or
    environment is defined outside Ascent (its code is not in Ascent's source digest),
    or the environment is one of Ascent's own tasks (whose options are not named here).
    """
    algorithm, env = loop.algorithm, loop.env
    if isinstance(env, GymnaxEnv):
        env_words = f"gymnax {env.name}"  # gymnax's version is in the key
    elif isinstance(env, HostVecEnv):
        env_words = "gymnasium"  # stepped outside the programs: only its spaces enter them
    else:
        return None
    classes = (type(loop), type(algorithm), type(env), type(algorithm.config))
    if not all(c.__module__.startswith("ascent.") for c in classes):
        return None
    return "\0".join(
        [
            *(f"{c.__module__}.{c.__qualname__}" for c in classes),
            repr(algorithm.config),
            env_words,
            _space_words(env.observation_space),
            _space_words(env.action_space),
        ]
    )
