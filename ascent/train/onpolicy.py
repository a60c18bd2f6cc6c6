"""The on-policy loop, collect → update, through either environment door.

Both doors share one state pytree (`LoopState`) and one jitted `learn` step (the
algorithm's update, normalisation, episode statistics and finiteness checks); they
differ only in how a rollout is collected:

- JAX door: `lax.scan` over T steps of a `vmap`-ed pure environment, and `lax.scan`
  over iterations, so a chunk of updates is one compiled program.
- Host door: N Gymnasium environments stepped from Python; the policy and the update
  are jitted, the rollout is written into preallocated numpy arrays.

The PRNG key in the state is split the same way in both doors, so a resumed run
repeats an uninterrupted one.

Memory policies (`policy` lstm, gru, transformer) carry a state per environment in
`LoopState.policy_state`, with `episode_starts` [N] marking environments whose next step
begins an episode (the step after `terminated | truncated`); the network resets the
state there. Each rollout stores the state before its first step, the per-step
`episode_starts`, and V(next_obs[t]) from the state after step t (the bootstrap value
of a truncated or last step, which needs the state of that moment), so the update can
rerun every environment's steps exactly as acting ran them.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ascent.algos.protocol import Algorithm
from ascent.buffers import Rollout, RolloutBuffer
from ascent.envs import HostVecEnv, JaxEnv, clip_action, is_discrete, is_jax_env
from ascent.runtime import CachedJit, CompiledChunks, FlatLearn
from ascent.train.acting import Policy, next_starts
from ascent.train.loop import (
    EnvCarry,
    LoopState,
    Normalizer,
    NormState,
    finiteness,
    init_loop_state,
    program_source,
    split_iteration_key,
    track_episodes,
)


class OnPolicyLoop:
    """Compiled pieces of the on-policy loop for one algorithm and one environment."""

    def __init__(self, algorithm: Algorithm, env: JaxEnv | HostVecEnv):
        config = algorithm.config
        self.algorithm = algorithm
        self.env = env
        self.n_envs, self.n_steps = config.n_envs, config.n_steps
        self.steps_per_iteration = self.n_envs * self.n_steps
        self.is_jax = is_jax_env(env)
        self.action_space = env.action_space
        self.normalizer = Normalizer(config)
        self.acting = Policy(algorithm, self.normalizer)
        self.memory = self.acting.memory
        # The host door keeps the state flat through a chunk (one array per dtype: a
        # compiled call costs per array it takes and returns); policies read it there.
        # Programs are kept on disk under words naming this loop, so that a warm start
        # finds them without tracing (program_source; runtime/program_cache.py).
        source = functools.partial(program_source, self)
        next_keys = functools.partial(split_iteration_key, n_steps=self.n_steps)
        self._learn = FlatLearn(self.learn, next_keys, source)
        words = self._learn.program_source
        self._policy_step = CachedJit(self._flat_policy_step, source=words)
        self._next_values = CachedJit(self._flat_next_values, source=words)
        self._chunks = CompiledChunks(self.iterate_jax, source)
        self._buffer: RolloutBuffer | None = None

    def init(self, seed: int | jax.Array) -> LoopState:
        state = init_loop_state(self.algorithm, self.env, self.n_envs, seed, self.is_jax)
        policy_state, starts = self.acting.initial(self.n_envs)
        return state._replace(policy_state=policy_state, episode_starts=starts)

    def policy(
        self,
        algo_state: Any,
        norm: NormState,
        obs: jax.Array,
        key: jax.Array,
        deterministic: bool = False,
    ) -> tuple[jax.Array, jax.Array]:
        """(action, log_prob) of a feed-forward policy for raw observations [N, ...]."""
        return self.acting.act(algo_state, norm, obs, key, deterministic)

    # the host door's policy, reading the state in its flat form (FlatLearn)

    def _flat_policy_step(
        self, flat: tuple[jax.Array, ...], policy_state: Any, starts: Any, obs: Any, key: Any
    ) -> tuple[jax.Array, jax.Array, Any]:
        state = self._learn.view(flat)
        return self.acting.step(state.algo, state.norm, policy_state, starts, obs, key)

    def _flat_next_values(
        self, flat: tuple[jax.Array, ...], policy_state: Any, next_obs: jax.Array
    ) -> jax.Array:
        state = self._learn.view(flat)
        return self.acting.next_values(state.algo, state.norm, policy_state, next_obs)

    # --- the step both doors share ------------------------------------------------

    def learn(
        self, state: LoopState, rollout: Rollout, learn_key: jax.Array
    ) -> tuple[LoopState, dict[str, jax.Array]]:
        """Normalise the rollout with the statistics the policy acted on, update, then
        move the statistics, counters and episode sums forward."""
        dones = rollout.terminated | rollout.truncated
        seen = rollout._replace(
            obs=self.normalizer.obs_for_policy(state.norm, rollout.obs),
            next_obs=self.normalizer.obs_for_policy(state.norm, rollout.next_obs),
        )
        norm, rewards = self.normalizer.update(state.norm, rollout.obs, rollout.rewards, dones)
        algo, metrics = self.algorithm.update(state.algo, seen._replace(rewards=rewards), learn_key)
        metrics = {k: jax.numpy.asarray(v, jax.numpy.float32) for k, v in metrics.items()}
        episodes, episode_stats = track_episodes(state.episodes, rollout.rewards, dones)
        checks = finiteness((rollout.obs, rollout.next_obs), rollout.rewards, metrics)
        state = state._replace(
            algo=algo,
            env_steps=state.env_steps.add(self.steps_per_iteration),
            iteration=state.iteration.add(1),
            episodes=episodes,
            norm=norm,
        )
        return state, {**metrics, **episode_stats, **checks}

    # --- the JAX door -------------------------------------------------------------

    def collect_jax(
        self, state: LoopState, act_keys: jax.Array, env_keys: jax.Array
    ) -> tuple[LoopState, Rollout]:
        """T steps of the vmapped environment under the current policy; returns the state
        with the environments (and a memory policy's state) moved on, and the rollout."""
        step_env = jax.vmap(self.env.step)

        def step(carry: tuple, keys: tuple) -> tuple[tuple, Rollout]:
            env, policy_state, starts = carry
            act_key, env_key = keys
            action, log_prob, policy_state = self.acting.step(
                state.algo, state.norm, policy_state, starts, env.obs, act_key
            )
            env_action = clip_action(action, self.action_space)
            obs, env_state, reward, terminated, truncated, next_obs = step_env(
                jax.random.split(env_key, self.n_envs), env.env_state, env_action
            )
            next_values = self.acting.next_values(state.algo, state.norm, policy_state, next_obs)
            transition = Rollout(
                env.obs,
                action,
                log_prob,
                reward,
                terminated,
                truncated,
                next_obs,
                episode_starts=starts,
                next_values=next_values,
            )
            starts = next_starts(starts, terminated | truncated)
            return (EnvCarry(env_state, obs), policy_state, starts), transition

        start = (state.env, state.policy_state, state.episode_starts)
        (env, policy_state, starts), rollout = jax.lax.scan(step, start, (act_keys, env_keys))
        rollout = rollout._replace(policy_state=state.policy_state)
        return state._replace(env=env, policy_state=policy_state, episode_starts=starts), rollout

    def iterate_jax(self, state: LoopState) -> tuple[LoopState, dict[str, jax.Array]]:
        key, act_keys, env_keys, learn_key = split_iteration_key(state.key, self.n_steps)
        state, rollout = self.collect_jax(state, act_keys, env_keys)
        return self.learn(state._replace(key=key), rollout, learn_key)

    def run_jax_chunk(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, np.ndarray]]:
        """`n` iterations in one compiled call; metrics stacked [n]."""
        return self._chunks(state, n)

    # --- the host door ------------------------------------------------------------

    def run_host_chunk(
        self, state: LoopState, n: int, obs: np.ndarray
    ) -> tuple[LoopState, dict[str, np.ndarray], np.ndarray]:
        """`n` iterations stepping Gymnasium environments from Python.

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
                memory=self.memory,
            )
        buffer = self._buffer
        rows = []
        keys = self._learn.split(state.key)  # later ones come with each update
        flat = self._learn.enter(state)
        policy_state, starts = state.policy_state, state.episode_starts
        for _ in range(n):
            key, act_keys, _, learn_key = keys
            act_keys = np.asarray(act_keys)
            first_policy_state = policy_state
            # the parameters stay fixed for the rollout: bound once, not at every step
            act = functools.partial(self._policy_step, flat)
            next_values_of = functools.partial(self._next_values, flat)
            for t in range(self.n_steps):
                action, log_prob, policy_state = act(policy_state, starts, obs, act_keys[t])
                action, log_prob = np.asarray(action), np.asarray(log_prob)
                obs_after, reward, terminated, truncated, next_obs = env.step(
                    clip_action(action, self.action_space)
                )
                buffer.add(t, obs, action, log_prob, reward, terminated, truncated, next_obs)
                if policy_state is not None:  # a memory policy's bootstrap, from this moment
                    next_values = next_values_of(policy_state, next_obs)
                    buffer.add_memory(t, np.asarray(starts), np.asarray(next_values))
                starts = next_starts(starts, terminated | truncated)
                obs = obs_after
            rollout = buffer.rollout(first_policy_state)
            replace: dict[str, Any] = {"key": key}
            if policy_state is not None:
                starts = jnp.asarray(starts)
                replace.update(policy_state=policy_state, episode_starts=starts)
            flat, metrics, keys = self._learn(flat, replace, rollout, learn_key)
            rows.append(metrics)
        state = self._learn.leave(flat)
        return state, self._learn.stack(rows), obs
