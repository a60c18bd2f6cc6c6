"""How a loop's policy acts: the one step interface that collectors (both doors),
evaluation and `Agent.act` go through.

`step(algo_state, norm, policy_state, starts, obs, key) -> (action, log_prob,
policy_state)` for raw observations [N, ...], normalised as the config asks. A memory
policy (`policy` lstm, gru, transformer) carries `policy_state` per environment, reset
in the rows where `starts` [N] is True; a feed-forward policy's state is None, and
passes through as None, so callers step both kinds alike.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ascent.algos.protocol import Algorithm
from ascent.runtime import CachedJit
from ascent.train.loop import Normalizer, NormState


class Policy:
    """An algorithm's acting, with the loop's observation normalisation."""

    def __init__(self, algorithm: Algorithm, normalizer: Normalizer):
        self.algorithm = algorithm
        self.normalizer = normalizer
        initial = getattr(algorithm, "initial_policy_state", None)
        # a memory policy: the algorithm has a state for its policy (None: feed-forward)
        self.memory = initial is not None and initial(1) is not None
        # the update reads V(obs) from the rollout (`Rollout.values`): record it
        self.values = not self.memory and getattr(algorithm, "values_while_acting", False)
        self._compiled: dict[bool, CachedJit] = {}

    def initial(self, n: int) -> tuple[Any, jax.Array | None]:
        """(policy_state, episode_starts) of n environments before their first step;
        (None, None) for a feed-forward policy."""
        if not self.memory:
            return None, None
        return self.algorithm.initial_policy_state(n), jnp.ones((n,), bool)  # type: ignore[attr-defined]

    def carried(self, state: Any, episode_start: Any, n: int) -> tuple[Any, Any]:
        """(policy_state, starts) to act on n rows from a caller's `state` (None: the
        initial state) and `episode_start` (a bool or one per row; True resets the row),
        as `Agent.act` takes them; (None, None) for a feed-forward policy."""
        if not self.memory:
            return None, None
        if state is None:
            return self.initial(n)
        flags = False if episode_start is None else episode_start
        return state, np.broadcast_to(np.asarray(flags, bool), (n,))

    def step(
        self,
        algo_state: Any,
        norm: NormState,
        policy_state: Any,
        starts: jax.Array | None,
        obs: jax.Array,
        key: jax.Array,
        deterministic: bool = False,
    ) -> tuple[jax.Array, jax.Array, Any]:
        """(action, log_prob, policy_state after the step)."""
        obs = self.normalizer.obs_for_policy(norm, obs)
        if policy_state is None:  # feed-forward: nothing to carry
            action, log_prob = self.algorithm.act(algo_state, obs, key, deterministic)
            return action, log_prob, None
        return self.algorithm.act_step(  # type: ignore[attr-defined]
            algo_state, policy_state, obs, starts, key, deterministic
        )

    def collect_step(
        self,
        algo_state: Any,
        norm: NormState,
        policy_state: Any,
        starts: jax.Array | None,
        obs: jax.Array,
        key: jax.Array,
    ) -> tuple[jax.Array, jax.Array, Any, jax.Array | None]:
        """`step` as collectors take it: (action, log_prob, policy_state, V(obs) or None),
        the value from the same network call where the update reads it (`values`)."""
        if not self.values:
            return *self.step(algo_state, norm, policy_state, starts, obs, key), None
        obs = self.normalizer.obs_for_policy(norm, obs)
        action, log_prob, value = self.algorithm.act_value(algo_state, obs, key)  # type: ignore[attr-defined]
        return action, log_prob, None, value

    def act(
        self,
        algo_state: Any,
        norm: NormState,
        obs: jax.Array,
        key: jax.Array,
        deterministic: bool = False,
    ) -> tuple[jax.Array, jax.Array]:
        """(action, log_prob) of a feed-forward policy (the step with no state)."""
        action, log_prob, _ = self.step(algo_state, norm, None, None, obs, key, deterministic)
        return action, log_prob

    def next_values(
        self, algo_state: Any, norm: NormState, policy_state: Any, next_obs: jax.Array
    ) -> jax.Array | None:
        """V(next_obs) [N] from a memory policy's state after the step that led there
        (its bootstrap value, which needs the state of that moment); None without one."""
        if policy_state is None:
            return None
        next_obs = self.normalizer.obs_for_policy(norm, next_obs)
        return self.algorithm.next_values(algo_state, policy_state, next_obs)  # type: ignore[attr-defined]

    def compiled(self, deterministic: bool) -> CachedJit:
        """`step` as one compiled call (evaluation on Gymnasium environments, `Agent.act`)."""
        if deterministic not in self._compiled:
            step = functools.partial(self.step, deterministic=deterministic)
            self._compiled[deterministic] = CachedJit(step)
        return self._compiled[deterministic]


def next_starts(starts: Any, ended: Any) -> Any:
    """Which environments start an episode at their next step: those whose episode
    `ended` (terminated | truncated) at this one; a feed-forward policy's None stays None."""
    return None if starts is None else ended
