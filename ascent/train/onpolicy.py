"""The on-policy loop, collect → learn, through either environment door.

Both doors share one state pytree (`LoopState`), one way of acting (`acting.Policy`)
and one learner (`learners.OnPolicyLearner`: the algorithm's update, normalisation,
episode statistics and finiteness checks); they differ only in their collector
(`collectors.py`) and in how iterations are run:

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
from ascent.envs import HostVecEnv, JaxEnv, is_jax_env, is_multiagent
from ascent.nn.encoders import ObsSpec
from ascent.runtime import CachedJit, CompiledChunks, FlatLearn
from ascent.train.acting import Policy
from ascent.train.collectors import HostRolloutCollector, RolloutCollector
from ascent.train.learners import OnPolicyLearner
from ascent.train.loop import (
    LoopState,
    Normalizer,
    init_loop_state,
    program_source,
    split_iteration_key,
    with_game_scores,
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
        self.obs_spec = ObsSpec.of(env.observation_space)
        self.normalizer = Normalizer(config, self.obs_spec)
        self.acting = Policy(algorithm, self.normalizer)
        agents = tuple(env.agents) if is_multiagent(env) else None
        self.learner = self.make_learner(agents)
        self.learn = self.learner.learn
        if self.is_jax:
            self.collector = RolloutCollector(env, self.acting, self.n_envs)  # type: ignore[arg-type]
            self.collect_jax = self.collector.collect
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
        self._host: HostRolloutCollector | None = None  # made at the first host chunk

    def make_learner(self, agents: tuple[str, ...] | None) -> Any:
        """What is done with each rollout: the algorithm's update on it."""
        return OnPolicyLearner(self.algorithm, self.normalizer, self.steps_per_iteration, agents)

    def init(self, seed: int | jax.Array) -> LoopState:
        state = init_loop_state(self.algorithm, self.env, self.n_envs, seed, self.is_jax)
        policy_state, starts = self.acting.initial(self.n_envs)
        return state._replace(policy_state=policy_state, episode_starts=starts)

    # the host door's policy, reading the state in its flat form (FlatLearn)

    def _flat_policy_step(
        self, flat: tuple[jax.Array, ...], policy_state: Any, starts: Any, obs: Any, key: Any
    ) -> tuple[jax.Array, jax.Array, Any, jax.Array | None]:
        state = self._learn.view(flat)
        return self.acting.collect_step(state.algo, state.norm, policy_state, starts, obs, key)

    def _flat_next_values(
        self, flat: tuple[jax.Array, ...], policy_state: Any, next_obs: jax.Array
    ) -> jax.Array:
        state = self._learn.view(flat)
        return self.acting.next_values(state.algo, state.norm, policy_state, next_obs)

    # --- the JAX door -------------------------------------------------------------

    def iterate_jax(self, state: LoopState) -> tuple[LoopState, dict[str, jax.Array]]:
        key, act_keys, env_keys, learn_key = split_iteration_key(state.key, self.n_steps)
        state, rollout = self.collector.collect(state, act_keys, env_keys)
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
        if self._host is None:
            self._host = HostRolloutCollector(
                self.env,  # type: ignore[arg-type]
                self.n_steps,
                self.acting.memory,
                self.acting.values,
            )
        rows, games = [], []
        scores = getattr(self.env, "game_scores", None)  # an Atari game's raw scores
        keys = self._learn.split(state.key)  # later ones come with each update
        flat = self._learn.enter(state)
        policy_state, starts = state.policy_state, state.episode_starts
        for _ in range(n):
            key, act_keys, _, learn_key = keys
            act_keys = np.asarray(act_keys)
            # the parameters stay fixed for the rollout: bound once, not at every step
            act = functools.partial(self._policy_step, flat)
            next_values_of = functools.partial(self._next_values, flat)
            rollout, obs, policy_state, starts = self._host.collect(
                act, next_values_of, obs, policy_state, starts, act_keys
            )
            if scores is not None:
                games.append(scores.pop())
            replace: dict[str, Any] = {"key": key}
            if policy_state is not None:
                starts = jnp.asarray(starts)
                replace.update(policy_state=policy_state, episode_starts=starts)
            flat, metrics, keys = self._learn(flat, replace, rollout, learn_key)
            rows.append(metrics)
        state = self._learn.leave(flat)
        return state, with_game_scores(self._learn.stack(rows), games), obs
