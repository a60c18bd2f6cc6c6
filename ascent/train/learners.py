"""Learners: what is done with collected experience, the same on both doors.

`OnPolicyLearner.learn(state, rollout, key) -> (state, metrics)`: normalisation, the
algorithm's update, statistics and counters. `OffPolicyLearner.learn(state,
transitions, key)`: into the replay buffer, then updates on minibatches from it.
Drivers call a learner after a collector; an asynchronous driver's workers call the
algorithm's `grads` and a shared `apply` instead of `update`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ascent.algos.protocol import Algorithm
from ascent.buffers import Rollout, Transitions, flatten_steps, replay_add, replay_sample
from ascent.train.loop import LoopState, Normalizer, NormState, finiteness, track_episodes


class OnPolicyLearner:
    """What both doors do with a rollout: normalise it with the statistics the policy
    acted on, update the algorithm, then move the statistics, counters and episode sums
    forward. Pure and door-agnostic."""

    def __init__(
        self,
        algorithm: Algorithm,
        normalizer: Normalizer,
        steps_per_iteration: int,
        agents: tuple[str, ...] | None = None,
    ):
        """`agents`: a team's agents, whose returns are logged each (None: one agent)."""
        self.algorithm = algorithm
        self.normalizer = normalizer
        self.steps_per_iteration = steps_per_iteration
        self.agents = agents

    def learn(
        self, state: LoopState, rollout: Rollout, learn_key: jax.Array
    ) -> tuple[LoopState, dict[str, jax.Array]]:
        """(state after the update, metrics with episode sums and finiteness checks)."""
        seen, norm = self._seen(state, rollout)
        algo, metrics = self.algorithm.update(state.algo, seen, learn_key)
        return self._advance(state, rollout, algo, norm, metrics)

    def grads(
        self, state: LoopState, rollout: Rollout, learn_key: jax.Array
    ) -> tuple[LoopState, Any, dict[str, jax.Array]]:
        """`learn` for an asynchronous worker: the algorithm's gradient on the rollout
        instead of its update (`GradientAlgorithm.grads`), applied elsewhere; returns
        (state with statistics and counters moved on but the parameters unchanged,
        gradient, metrics)."""
        seen, norm = self._seen(state, rollout)
        grads, metrics = self.algorithm.grads(state.algo, seen, learn_key)  # type: ignore[attr-defined]
        state, metrics = self._advance(state, rollout, state.algo, norm, metrics)
        return state, grads, metrics

    def _seen(self, state: LoopState, rollout: Rollout) -> tuple[Rollout, NormState]:
        """The rollout as the update sees it (normalised with the statistics the policy
        acted on, rewards scaled) and the statistics moved on."""
        dones = rollout.terminated | rollout.truncated
        seen = rollout._replace(
            obs=self.normalizer.obs_for_policy(state.norm, rollout.obs),
            next_obs=self.normalizer.obs_for_policy(state.norm, rollout.next_obs),
        )
        norm, rewards = self.normalizer.update(state.norm, rollout.obs, rollout.rewards, dones)
        return seen._replace(rewards=rewards), norm

    def _advance(
        self, state: LoopState, rollout: Rollout, algo: Any, norm: NormState, metrics: dict
    ) -> tuple[LoopState, dict[str, jax.Array]]:
        dones = rollout.terminated | rollout.truncated
        metrics = {k: jax.numpy.asarray(v, jax.numpy.float32) for k, v in metrics.items()}
        episodes, episode_stats = track_episodes(
            state.episodes, rollout.rewards, dones, self.agents
        )
        checks = finiteness((rollout.obs, rollout.next_obs), rollout.rewards, metrics)
        state = state._replace(
            algo=algo,
            env_steps=state.env_steps.add(self.steps_per_iteration),
            iteration=state.iteration.add(1),
            episodes=episodes,
            norm=norm,
        )
        return state, {**metrics, **episode_stats, **checks}


class OffPolicyLearner:
    """What both doors do with [T, N] transitions: store them in the replay buffer and,
    once the warm-up is over, take `gradient_steps` updates on uniform minibatches."""

    def __init__(
        self,
        algorithm: Algorithm,
        normalizer: Normalizer,
        steps_per_iteration: int,
        agents: tuple[str, ...] | None = None,
    ):
        """`agents`: a team's agents, whose returns are logged each (None: one agent)."""
        self.algorithm = algorithm
        self.config = algorithm.config
        self.normalizer = normalizer
        self.steps_per_iteration = steps_per_iteration
        self.agents = agents

    def train(
        self, algo: Any, buffer: Any, norm: NormState, key: jax.Array
    ) -> tuple[Any, dict[str, jax.Array]]:
        """`gradient_steps` updates, each on a fresh uniform minibatch; mean metrics."""

        def one(algo: Any, key: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
            k_sample, k_update = jax.random.split(key)
            batch = replay_sample(buffer, k_sample, self.config.minibatch_size)
            batch = batch._replace(
                obs=self.normalizer.obs_for_policy(norm, batch.obs),
                next_obs=self.normalizer.obs_for_policy(norm, batch.next_obs),
            )
            return self.algorithm.update(algo, batch, k_update)

        keys = jax.random.split(key, self.config.gradient_steps)
        algo, metrics = jax.lax.scan(one, algo, keys)
        metrics = {k: jnp.mean(v).astype(jnp.float32) for k, v in metrics.items()}
        return algo, {**metrics, "gradient_steps": jnp.float32(self.config.gradient_steps)}

    def learn(
        self, state: LoopState, steps: Transitions | Rollout, learn_key: jax.Array
    ) -> tuple[LoopState, dict[str, jax.Array]]:
        """Store [T, N] transitions (or a rollout's: a team's joint steps), learn from the
        buffer once the warm-up is over, and move statistics, counters and episode sums
        forward."""
        steps = Transitions(*(getattr(steps, name) for name in Transitions._fields))
        dones = steps.terminated | steps.truncated
        norm, _ = self.normalizer.update(state.norm, steps.obs, steps.rewards, dones)
        buffer = replay_add(state.buffer, flatten_steps(steps))
        env_steps = state.env_steps.add(self.steps_per_iteration)
        shapes = jax.eval_shape(self.train, state.algo, buffer, norm, learn_key)[1]

        def wait(algo: Any, *_: Any) -> tuple[Any, dict[str, jax.Array]]:
            return algo, {k: jnp.zeros(v.shape, v.dtype) for k, v in shapes.items()}

        algo, metrics = jax.lax.cond(
            ~env_steps.less_than(self.config.learning_starts),
            self.train,
            wait,
            state.algo,
            buffer,
            norm,
            learn_key,
        )
        episodes, episode_stats = track_episodes(
            state.episodes, steps.rewards, dones, self.agents
        )
        checks = finiteness((steps.obs, steps.next_obs), steps.rewards, metrics)
        state = state._replace(
            algo=algo,
            env_steps=env_steps,
            iteration=state.iteration.add(1),
            episodes=episodes,
            norm=norm,
            buffer=buffer,
        )
        return state, {**metrics, **episode_stats, **checks}
