"""Signalling: each agent knows one private value and must name its neighbour's, so
the team scores above chance only by sending its values through its actions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.envs.multiagent import AgentObs
from ascent.errors import EnvError

TALK, ACT = 0, 1


class SignallingState(NamedTuple):
    values: jax.Array  # [A] int32, each agent's private value, 0 .. n_values - 1
    messages: jax.Array  # [A] int32, the actions taken at the talk step (0 before it)
    time: jax.Array  # int32 scalar, TALK or ACT (2 only in the terminal observation)


@dataclass(frozen=True)
class Signalling:
    """A referential game for `n_agents` agents in a ring: talk once, then name a
    neighbour's private value.

    Lewis's signalling game (Lewis 1969, "Convention") as the referential game of
    Foerster et al. 2016 ("Learning to communicate with deep multi-agent reinforcement
    learning"), with no channel apart from the actions. It tests partial observability
    and learned communication: what an agent must name is seen only by its neighbour.

    An episode is 2 steps. At reset each agent i draws a private value x_i uniformly in
    [0, n_values). Step 0 (talk): every action in [0, n_values) is a message, and pays 0.
    Step 1 (act): agent i names x_{(i+1) mod A}; every agent is paid the fraction of the
    team that named right, and the episode terminates (a true end), then resets with
    fresh values drawn from the step's key.

    Observation of agent i, float32 [n_agents * n_values + 2]: one-hot x_i [n_values],
    one-hot phase [2] (talk, act; zeros in the terminal observation), then the messages
    of agents i+1, i+2, ... (mod A) one-hot [(n_agents - 1) * n_values], zeros at the
    talk step. The messages come relative to the seat, so one shared network plays any
    seat. Global state, float32 [2 * n_agents * n_values + 2]: all values one-hot in
    agent order, all messages one-hot in agent order (zeros at the talk step), the phase.
    Every action is allowed and every agent is active.

    An episode's return per agent is in [0, 1]. A team that ignores the messages names
    right with probability 1/n_values, so it earns 1/n_values in expectation; the
    protocol "say your value, name what your neighbour said" (or any one-to-one code
    both sides agree on) earns 1 in every episode.
    """

    n_agents: int = 2
    n_values: int = 4
    env_id: str = "ascent/Signalling-v0"

    def __post_init__(self) -> None:
        if self.n_agents < 2:
            raise EnvError(f"{self.env_id}: n_agents must be >= 2, got {self.n_agents}")
        if self.n_values < 2:
            raise EnvError(f"{self.env_id}: n_values must be >= 2, got {self.n_values}")

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(f"agent_{i}" for i in range(self.n_agents))

    @property
    def max_episode_steps(self) -> int:
        return 2  # talk, act

    @cached_property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.n_agents * self.n_values + 2,), np.float32)

    @cached_property
    def state_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (2 * self.n_agents * self.n_values + 2,), np.float32)

    @cached_property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.n_values)

    def _observe(self, state: SignallingState) -> AgentObs:
        a, v = self.n_agents, self.n_values
        values = jax.nn.one_hot(state.values, v)  # [A, V]
        phase = jax.nn.one_hot(state.time, 2)  # [2], zeros at time 2
        heard = jax.nn.one_hot(state.messages, v) * (state.time > TALK)  # [A, V]
        # others[i] = (i+1, ..., i+A-1) mod A: each agent's neighbours, nearest first
        others = (np.arange(a)[:, None] + np.arange(1, a)[None, :]) % a  # [A, A-1]
        obs = jnp.concatenate(
            [values, jnp.broadcast_to(phase, (a, 2)), heard[others].reshape(a, (a - 1) * v)],
            axis=1,
        )  # [A, A*V + 2]
        global_state = jnp.concatenate([values.ravel(), heard.ravel(), phase])
        return AgentObs(obs.astype(jnp.float32), global_state.astype(jnp.float32),
                        jnp.ones((a, v), bool), jnp.ones(a, bool))  # fmt: skip

    def reset(self, key: jax.Array) -> tuple[AgentObs, SignallingState]:
        values = jax.random.randint(key, (self.n_agents,), 0, self.n_values, jnp.int32)
        state = SignallingState(
            values, jnp.zeros(self.n_agents, jnp.int32), jnp.asarray(TALK, jnp.int32)
        )
        return self._observe(state), state

    def step(
        self, key: jax.Array, env_state: SignallingState, actions: jax.Array
    ) -> tuple[AgentObs, SignallingState, jax.Array, jax.Array, jax.Array, AgentObs]:
        actions = jnp.asarray(actions, jnp.int32)
        talking = env_state.time == TALK
        messages = jnp.where(talking, actions, env_state.messages)
        state = SignallingState(env_state.values, messages, env_state.time + 1)
        target = jnp.roll(env_state.values, -1)  # target[i] = x_{(i+1) mod A}
        score = jnp.mean(actions == target)  # the fraction of the team that named right
        reward = jnp.where(talking, 0.0, score)
        rewards = jnp.full(self.n_agents, reward, jnp.float32)  # one team, one payoff
        terminated = env_state.time == ACT
        next_agent_obs = self._observe(state)
        # A new episode draws new values from the step's key: reset, then select.
        fresh_obs, fresh_state = self.reset(key)
        state = jax.tree.map(lambda f, s: jnp.where(terminated, f, s), fresh_state, state)
        agent_obs = jax.tree.map(
            lambda f, s: jnp.where(terminated, f, s), fresh_obs, next_agent_obs
        )
        return agent_obs, state, rewards, terminated, jnp.zeros((), bool), next_agent_obs
