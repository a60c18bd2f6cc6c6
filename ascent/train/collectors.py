"""Collectors: how experience is gathered on each door, under the current policy.

On-policy: `RolloutCollector` (JAX door, traced into the compiled iteration) and
`HostRolloutCollector` (Gymnasium door, stepped from Python) each give a `Rollout`
[T, N]; off-policy, `TransitionCollector` and `HostTransitionCollector` give
`Transitions` [T, N] under exploration.
A worker of an asynchronous driver owns one collector for its own environments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from ascent.buffers import Rollout, RolloutBuffer, Transitions, set_row
from ascent.core.noise import ou_reset
from ascent.envs import (
    HostVecEnv,
    JaxEnv,
    MultiAgentSpaces,
    env_action,
    is_multiagent,
)
from ascent.nn.encoders import ObsSpec
from ascent.nn.heads import ActionSpec
from ascent.train.acting import Policy, next_starts
from ascent.train.loop import EnvCarry, LoopState


class RolloutCollector:
    """On-policy collection on the JAX door: T steps of the vmapped environment under
    the current policy, traced into the compiled program."""

    def __init__(self, env: JaxEnv, acting: Policy, n_envs: int):
        self.env = env
        self.acting = acting
        self.n_envs = n_envs
        self.action_space = env.action_space

    def collect(
        self, state: LoopState, act_keys: jax.Array, env_keys: jax.Array
    ) -> tuple[LoopState, Rollout]:
        """T steps of the vmapped environment under the current policy; returns the state
        with the environments (and a memory policy's state) moved on, and the rollout."""
        step_env = jax.vmap(self.env.step)

        def step(carry: tuple, keys: tuple) -> tuple[tuple, Rollout]:
            env, policy_state, starts = carry
            act_key, env_key = keys
            action, log_prob, policy_state, value = self.acting.collect_step(
                state.algo, state.norm, policy_state, starts, env.obs, act_key
            )
            taken = env_action(action, self.action_space)
            obs, env_state, reward, terminated, truncated, next_obs = step_env(
                jax.random.split(env_key, self.n_envs), env.env_state, taken
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
                values=value,
            )
            starts = next_starts(starts, terminated | truncated)
            return (EnvCarry(env_state, obs), policy_state, starts), transition

        start = (state.env, state.policy_state, state.episode_starts)
        (env, policy_state, starts), rollout = jax.lax.scan(step, start, (act_keys, env_keys))
        rollout = rollout._replace(policy_state=state.policy_state)
        return state._replace(env=env, policy_state=policy_state, episode_starts=starts), rollout


class HostRolloutCollector:
    """On-policy collection on the Gymnasium door: T steps of environments stepped from
    Python, written into preallocated arrays (one set for every rollout)."""

    def __init__(self, env: HostVecEnv, n_steps: int, memory: bool, values: bool = False):
        self.env = env
        self.n_steps = n_steps
        self.action_space = space = env.action_space
        n = env.n_envs
        if is_multiagent(env):  # a team: agents after the environments
            spaces = MultiAgentSpaces.of(env)
            obs, samples, action_shape = spaces.zeros(n), (n, spaces.n_agents), (spaces.n_agents,)
        else:
            obs = ObsSpec.of(env.observation_space).zeros((n,))
            samples, action_shape = (n,), ActionSpec.of(space).stored_shape
        dtype = ActionSpec.of(space).dtype  # a team's actions: each agent's Discrete
        self.buffer = RolloutBuffer(
            n_steps, obs, action_shape, dtype, samples, memory=memory, values=values
        )

    def collect(
        self,
        act: Callable,
        next_values_of: Callable,
        obs: np.ndarray,
        policy_state: Any,
        starts: Any,
        act_keys: np.ndarray,
    ) -> tuple[Rollout, np.ndarray, Any, Any]:
        """(rollout, the next observation, policy state and episode starts after it);
        `act(policy_state, starts, obs, key)` (`Policy.collect_step`) and
        `next_values_of(policy_state, next_obs)` are the policy's compiled calls, bound
        to the parameters."""
        env, buffer = self.env, self.buffer
        first_policy_state = policy_state
        for t in range(self.n_steps):
            action, log_prob, policy_state, value = act(policy_state, starts, obs, act_keys[t])
            action, log_prob = np.asarray(action), np.asarray(log_prob)
            if value is not None:
                buffer.add_values(t, np.asarray(value))
            obs_after, reward, terminated, truncated, next_obs = env.step(
                env_action(action, self.action_space)
            )
            buffer.add(t, obs, action, log_prob, reward, terminated, truncated, next_obs)
            if policy_state is not None:  # a memory policy's bootstrap, from this moment
                next_values = next_values_of(policy_state, next_obs)
                buffer.add_memory(t, np.asarray(starts), np.asarray(next_values))
            starts = next_starts(starts, terminated | truncated)
            obs = obs_after
        return buffer.rollout(first_policy_state), obs, policy_state, starts


class TransitionCollector:
    """Off-policy collection on the JAX door: T steps of the vmapped environment with
    exploration (`explore(state, obs, key) -> (action, noise)`), traced into the
    compiled iteration."""

    def __init__(self, env: JaxEnv, explore: Callable, n_envs: int):
        self.env = env
        self.explore = explore
        self.n_envs = n_envs

    def collect(
        self, state: LoopState, act_keys: jax.Array, env_keys: jax.Array
    ) -> tuple[tuple[EnvCarry, jax.Array], Transitions]:
        """T steps of the vmapped environment; returns (env carry, noise) and [T, N]."""
        step_env = jax.vmap(self.env.step)

        def step(carry: tuple, keys: tuple) -> tuple[tuple, Transitions]:
            (env, noise), (act_key, env_key) = carry, keys
            action, noise = self.explore(state._replace(noise=noise), env.obs, act_key)
            obs, env_state, reward, terminated, truncated, next_obs = step_env(
                jax.random.split(env_key, self.n_envs), env.env_state, action
            )
            noise = ou_reset(noise, terminated | truncated)
            transition = Transitions(env.obs, action, reward, next_obs, terminated, truncated)
            return (EnvCarry(env_state, obs), noise), transition

        return jax.lax.scan(step, (state.env, state.noise), (act_keys, env_keys))


class HostTransitionCollector:
    """Off-policy collection on the Gymnasium door, stepped from Python with the
    compiled exploration (`explore`, a `LeanJit` bound to the state at each step)."""

    def __init__(self, env: HostVecEnv, n_steps: int, explore: Any, ou_noise: bool):
        self.env = env
        self.n_steps = n_steps
        self.explore = explore
        self.ou = ou_noise  # Ornstein–Uhlenbeck noise restarts where an episode ends
        self.reset_noise = jax.jit(ou_reset)
        action_shape = tuple(env.action_space.shape)
        t_n = (n_steps, env.n_envs)
        spec = ObsSpec.of(env.observation_space)
        # one set of arrays for every iteration: the loop writes them again only after the
        # update that read them has finished (the next iteration's keys come out of it)
        self.steps = Transitions(
            obs=spec.zeros(t_n),
            actions=np.zeros((*t_n, *action_shape), np.float32),
            rewards=np.zeros(t_n, np.float32),
            next_obs=spec.zeros(t_n),
            terminated=np.zeros(t_n, bool),
            truncated=np.zeros(t_n, bool),
        )

    def collect(
        self, state: LoopState, obs: np.ndarray, act_keys: np.ndarray
    ) -> tuple[LoopState, Transitions, np.ndarray]:
        """(state with the noise moved on, transitions [T, N], the next observation)."""
        env, steps = self.env, self.steps
        for t in range(self.n_steps):
            action, noise = self.explore.bind(state)(obs, act_keys[t])
            action = np.asarray(action)
            obs_after, reward, terminated, truncated, next_obs = env.step(action)
            for store, value in zip(
                steps, (obs, action, reward, next_obs, terminated, truncated), strict=True
            ):
                set_row(store, t, value)
            if self.ou and (terminated | truncated).any():
                noise = self.reset_noise(noise, terminated | truncated)
            state = state._replace(noise=noise)
            obs = obs_after
        return state, steps, obs
