"""The on-policy loop of asynchronous workers (A3C): K workers, each with `n_envs`
environments of its own, share one set of parameters.

The run's `LoopState` holds all K · n_envs environments, worker k owning rows
[k·n_envs, (k+1)·n_envs) of every per-environment field; `split` cuts it into the
workers' states and `join` puts them back after a chunk, so checkpoints, evaluation and
the runner see a state like any other loop's. One iteration is one worker's rollout
and the gradient it applies (`steps_per_iteration = n_envs · n_steps`, as A2C's). The
loop knows no driver (`workers.driver_for` picks one): A3C's threads
(`threads.ThreadDriver`) each call `work`: collect with the parameters it read, and the
algorithm's gradient on that rollout (`OnPolicyLearner.grads`); `shared.SharedParams`
applies it. IMPALA's actors call `collect`, its learner `update`.

Worker 0 carries the run's PRNG key; worker k > 0 draws from `fold_in(key, k)` of the
key at the start of each chunk. With one worker and `lock=True` the run repeats the
synchronous A2C run of the same seed, up to the rounding of programs compiled apart.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from ascent.algos.protocol import Algorithm
from ascent.buffers import Rollout
from ascent.envs import HostVecEnv, JaxEnv, is_jax_env
from ascent.errors import ConfigError
from ascent.runtime import CachedJit, FlatTree, PackedMetrics
from ascent.train.loop import (
    EnvCarry,
    LoopState,
    all_finite,
    finiteness,
    init_loop_state,
    program_source,
    split_iteration_key,
    track_episodes,
)
from ascent.train.onpolicy import OnPolicyLoop


class AsyncOnPolicyLoop(OnPolicyLoop):
    """Compiled pieces of an asynchronous on-policy run for one algorithm and one env."""

    def __init__(self, algorithm: Algorithm, env: JaxEnv | HostVecEnv):
        if not is_jax_env(env):
            raise ConfigError(
                f"{algorithm.name}'s workers run on the JAX door for now: use a gymnax or "
                "ascent environment (for example gymnax/CartPole-v1)"
            )
        super().__init__(algorithm, env)
        self.workers = int(algorithm.config.workers)
        self.layout: FlatTree | None = None  # the parameters' flat layout (SharedParams)
        self._work = CachedJit(self._work_flat, source=self._work_source)
        words = functools.partial(program_source, self)
        self._collect = CachedJit(self._collect_part, source=words)
        self._update = CachedJit(self._update_algo, source=words)

    def init(self, seed: int | jax.Array) -> LoopState:
        return init_loop_state(
            self.algorithm, self.env, self.n_envs * self.workers, seed, self.is_jax
        )

    # --- the workers' states ------------------------------------------------------

    def split(self, state: LoopState) -> list[LoopState]:
        """The workers' states: their rows of every per-environment field, their keys,
        no parameters (they read those from the shared copy)."""
        parts = []
        for k in range(self.workers):
            rows = functools.partial(_rows, start=k * self.n_envs, stop=(k + 1) * self.n_envs)
            key = state.key if k == 0 else jax.random.fold_in(state.key, k)
            parts.append(
                state._replace(
                    algo=None,
                    key=key,
                    env=rows(state.env),
                    episodes=rows(state.episodes),
                    norm=state.norm._replace(discounted=rows(state.norm.discounted)),
                )
            )
        return parts

    def fresh_part(self, part: LoopState, key: jax.Array) -> LoopState:
        """A worker's state with new environments (a replaced worker's: the old ones
        were lost with it) and episodes begun afresh."""
        key, reset_key = jax.random.split(key)
        obs, env_state = jax.vmap(self.env.reset)(jax.random.split(reset_key, self.n_envs))  # type: ignore[union-attr]
        zeros = jax.tree.map(jnp.zeros_like, part.episodes)
        return part._replace(
            key=key,
            env=EnvCarry(env_state, obs),
            episodes=zeros,
            norm=part.norm._replace(discounted=jnp.zeros_like(part.norm.discounted)),
        )

    def join(self, state: LoopState, parts: list[LoopState], algo: Any, n: int) -> LoopState:
        """The run's state after `n` iterations made by the workers of `parts`."""

        def rows(trees: list[Any]) -> Any:
            return jax.tree.map(lambda *xs: jnp.concatenate(xs), *trees)

        return state._replace(
            algo=algo,
            key=parts[0].key,
            env=rows([p.env for p in parts]),
            episodes=rows([p.episodes for p in parts]),
            norm=state.norm._replace(discounted=rows([p.norm.discounted for p in parts])),
            env_steps=state.env_steps.add(n * self.steps_per_iteration),
            iteration=state.iteration.add(n),
        )

    # --- one worker iteration -----------------------------------------------------

    def work(
        self, flat: tuple[Any, ...], part: LoopState, layout: FlatTree
    ) -> tuple[LoopState, Any, PackedMetrics]:
        """One rollout of a worker with the parameters `flat` (laid out as `layout`) and
        the gradient on it: (worker state moved on, gradient, packed metrics)."""
        if self.layout is None:
            self.layout = layout
        elif layout != self.layout:
            raise ValueError("the parameters changed structure between chunks")
        return self._work(flat, part)

    def _work_source(self) -> str | None:
        words = program_source(self)
        if words is None or self.layout is None:
            return None
        return f"{words}\0worker\0{self.layout.treedef}\0{self.layout.specs}"

    def _work_flat(
        self, flat: tuple[jax.Array, ...], part: LoopState
    ) -> tuple[LoopState, Any, PackedMetrics]:
        assert self.layout is not None
        state = part._replace(algo=self.layout.unpack(flat))
        key, act_keys, env_keys, learn_key = split_iteration_key(state.key, self.n_steps)
        state, rollout = self.collector.collect(state, act_keys, env_keys)
        state, grads, metrics = self.learner.grads(state._replace(key=key), rollout, learn_key)
        names = tuple(sorted(metrics))
        packed = PackedMetrics(jnp.stack([metrics[k] for k in names]), names)
        return state._replace(algo=None), grads, packed

    # --- actors and a learner (IMPALA) ----------------------------------------------

    def collect(self, algo: Any, part: LoopState) -> tuple[LoopState, Rollout, dict, Any]:
        """An actor's rollout with parameters `algo`: (actor state moved on, rollout,
        its episode statistics, the key the learner updates with)."""
        return self._collect(algo, part)

    def _collect_part(self, algo: Any, part: LoopState) -> tuple:
        state = part._replace(algo=algo)
        key, act_keys, env_keys, learn_key = split_iteration_key(state.key, self.n_steps)
        state, rollout = self.collector.collect(state, act_keys, env_keys)
        dones = rollout.terminated | rollout.truncated
        episodes, stats = track_episodes(state.episodes, rollout.rewards, dones)
        checks = finiteness((rollout.obs, rollout.next_obs), rollout.rewards, {})
        stats = {
            **stats,
            "finite_obs": checks["finite_obs"],
            "finite_reward": checks["finite_reward"],
        }
        return state._replace(algo=None, key=key, episodes=episodes), rollout, stats, learn_key

    def update(self, algo: Any, rollout: Rollout, learn_key: Any) -> tuple[Any, dict]:
        """The learner's update on one actor's rollout: (algo state, metrics)."""
        return self._update(algo, rollout, learn_key)

    def _update_algo(self, algo: Any, rollout: Rollout, learn_key: Any) -> tuple[Any, dict]:
        algo, metrics = self.algorithm.update(algo, rollout, learn_key)
        metrics = {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}
        return algo, {**metrics, "finite_loss": all_finite(metrics).astype(jnp.float32)}


def _rows(tree: Any, start: int, stop: int) -> Any:
    return jax.tree.map(lambda x: x[start:stop], tree)
