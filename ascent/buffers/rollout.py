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


class RolloutBuffer:
    """Preallocated numpy arrays that a host loop fills one step at a time.

    `add(t, ...)` writes row t in place, no per-step allocation; `rollout()` hands
    the filled arrays over as a `Rollout` (the arrays are reused by the next rollout,
    so the consumer must copy them to the device first, which `jax.device_put` does).
    With `memory=True` it also holds a memory policy's `episode_starts` and
    `next_values`, written by `add_memory`.
    """

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        action_dtype: np.dtype,
        memory: bool = False,
    ) -> None:
        t, n = n_steps, n_envs
        self.obs = np.zeros((t, n, *obs_shape), np.float32)
        self.actions = np.zeros((t, n, *action_shape), action_dtype)
        self.log_probs = np.zeros((t, n), np.float32)
        self.rewards = np.zeros((t, n), np.float32)
        self.terminated = np.zeros((t, n), bool)
        self.truncated = np.zeros((t, n), bool)
        self.next_obs = np.zeros((t, n, *obs_shape), np.float32)
        self.episode_starts = np.zeros((t, n), bool) if memory else None
        self.next_values = np.zeros((t, n), np.float32) if memory else None

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
        self.obs[t] = obs
        self.actions[t] = actions
        self.log_probs[t] = log_probs
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.truncated[t] = truncated
        self.next_obs[t] = next_obs

    def add_memory(self, t: int, episode_starts: np.ndarray, next_values: np.ndarray) -> None:
        """Row t of a memory policy's episode starts and bootstrap values."""
        assert self.episode_starts is not None and self.next_values is not None
        self.episode_starts[t] = episode_starts
        self.next_values[t] = next_values

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
        )
