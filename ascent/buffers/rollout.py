"""On-policy rollout storage, time-major [T, N, ...]."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np


class Rollout(NamedTuple):
    """T steps of N environments.

    obs [T, N, *obs_shape]: what the policy saw. actions [T, N] or [T, N, act_dim]:
    the raw sampled actions. log_probs, rewards [T, N]. terminated, truncated [T, N]
    (bool). next_obs [T, N, *obs_shape]: the true observation each step led to,
    before any automatic reset, so V(next_obs) bootstraps truncated episodes and the
    rollout's last step alike.

    Memory policies (None for feed-forward ones) also store what the update needs to rerun
    the network exactly as acting ran it: episode_starts [T, N] (bool, step t is the first
    of an episode, where the policy state was reset), policy_state (the state of each
    environment [N, ...] before step 0) and next_values [T, N] (V(next_obs[t]) from the
    state after step t, computed while acting).

    values [T, *samples] (None unless the algorithm asks for them,
    `values_while_acting`): V(obs[t]) from the network call that chose the action, with
    the parameters and observation statistics the update starts from, so the update
    need not run the network over the rollout again to get them.
    """

    obs: jax.Array
    actions: jax.Array
    log_probs: jax.Array
    rewards: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: jax.Array
    episode_starts: jax.Array | None = None
    policy_state: Any = None
    next_values: jax.Array | None = None
    values: jax.Array | None = None


def set_row(store: Any, t: int, value: Any) -> None:
    """`store[t] = value` for an array, or at every leaf of a pytree of arrays (a Dict
    observation, a team's `AgentObs`)."""
    if isinstance(store, np.ndarray):
        store[t] = value
    else:
        jax.tree.map(lambda leaf, x: leaf.__setitem__(t, x), store, value)


class RolloutBuffer:
    """Preallocated numpy arrays that a host loop fills one step at a time.

    `add(t, ...)` writes row t in place, no per-step allocation; `rollout()` hands
    the filled arrays over as a `Rollout` (the arrays are reused by the next rollout,
    so the consumer must copy them to the device first, which `jax.device_put` does).
    With `memory=True` it also holds a memory policy's `episode_starts` and
    `next_values`, written by `add_memory`; with `values=True` the values of the
    observations acted on, written by `add_values`.

    `obs` is one step's observations of the N environments, for their shapes and
    dtypes: an array [N, ...], or a pytree of them (a team's `AgentObs`). Rewards and
    log-probabilities are [T, *samples]: `samples` is (N,), or (N, A) for a team.
    """

    def __init__(
        self,
        n_steps: int,
        obs: Any,
        action_shape: tuple[int, ...],
        action_dtype: np.dtype,
        samples: tuple[int, ...],
        memory: bool = False,
        values: bool = False,
    ) -> None:
        t, n = n_steps, samples[0]

        def steps_of(x: Any) -> np.ndarray:
            return np.zeros((t, *np.shape(x)), np.asarray(x).dtype)

        self.obs = jax.tree.map(steps_of, obs)
        self.actions = np.zeros((t, n, *action_shape), action_dtype)
        self.log_probs = np.zeros((t, *samples), np.float32)
        self.rewards = np.zeros((t, *samples), np.float32)
        self.terminated = np.zeros((t, n), bool)
        self.truncated = np.zeros((t, n), bool)
        self.next_obs = jax.tree.map(steps_of, obs)
        self.episode_starts = np.zeros((t, n), bool) if memory else None
        self.next_values = np.zeros((t, n), np.float32) if memory else None
        self.values = np.zeros((t, *samples), np.float32) if values else None

    def add(
        self,
        t: int,
        obs: np.ndarray,
        actions: np.ndarray,
        log_probs: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        next_obs: np.ndarray,
    ) -> None:
        set_row(self.obs, t, obs)
        set_row(self.next_obs, t, next_obs)
        self.actions[t] = actions
        self.log_probs[t] = log_probs
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.truncated[t] = truncated

    def add_memory(self, t: int, episode_starts: np.ndarray, next_values: np.ndarray) -> None:
        """Row t of a memory policy's episode starts and bootstrap values."""
        assert self.episode_starts is not None and self.next_values is not None
        self.episode_starts[t] = episode_starts
        self.next_values[t] = next_values

    def add_values(self, t: int, values: np.ndarray) -> None:
        """Row t of V(obs), from the call that chose the actions."""
        assert self.values is not None
        self.values[t] = values

    def rollout(self, policy_state: Any = None) -> Rollout:
        """The filled arrays; `policy_state` is a memory policy's state before row 0."""
        return Rollout(
            self.obs,
            self.actions,
            self.log_probs,
            self.rewards,
            self.terminated,
            self.truncated,
            self.next_obs,
            self.episode_starts,
            policy_state,
            self.next_values,
            self.values,
        )
