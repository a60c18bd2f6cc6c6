"""Repeated cooperative matrix games: two agents, one shared payoff (Claus & Boutilier
1998). Independent learners are drawn to the safe joint actions, not to the optimum."""

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

CLIMBING = ((11.0, -30.0, 0.0), (-30.0, 7.0, 0.0), (0.0, 6.0, 5.0))
"""Claus & Boutilier's climbing game: optimum 11 at (0, 0), traps 7 and 5."""


def penalty_payoff(k: float) -> tuple[tuple[float, ...], ...]:
    """Claus & Boutilier's penalty game: 10 at (0, 0) and (2, 2), k <= 0 where the two
    optima are mixed, 2 at the safe (1, 1)."""
    return ((10.0, 0.0, k), (0.0, 2.0, 0.0), (k, 0.0, 10.0))


class MatrixState(NamedTuple):
    time: jax.Array  # int32 scalar, rounds played in this episode


@dataclass(frozen=True)
class MatrixGame:
    """`payoff[a0][a1]` paid to both agents each round, `max_episode_steps` rounds an
    episode (a time limit: truncated, as MPE's 25 steps). The game has no state, so
    each agent observes a constant [1.0] and the global state is the same; every
    action is allowed."""

    payoff: tuple[tuple[float, ...], ...] = CLIMBING
    max_episode_steps: int = 25
    env_id: str = "ascent/Climbing-v0"
    agents: tuple[str, ...] = ("agent_0", "agent_1")

    def __post_init__(self) -> None:
        table = np.asarray(self.payoff, np.float32)
        if table.ndim != 2 or 0 in table.shape or not np.isfinite(table).all():
            raise EnvError(f"{self.env_id}: payoff must be a finite 2-D table, got {self.payoff}")
        if table.shape[0] != table.shape[1] or len(self.agents) != 2:
            raise EnvError(f"{self.env_id}: two agents with the same actions (a square payoff)")
        if self.max_episode_steps < 1:
            raise EnvError(f"{self.env_id}: max_episode_steps must be >= 1")

    @cached_property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(1.0, 1.0, (1,), np.float32)

    @cached_property
    def state_space(self) -> spaces.Box:
        return spaces.Box(1.0, 1.0, (1,), np.float32)

    @cached_property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(len(self.payoff))

    def _observe(self) -> AgentObs:
        n = len(self.payoff)
        return AgentObs(jnp.ones((2, 1), jnp.float32), jnp.ones(1, jnp.float32),
                        jnp.ones((2, n), bool), jnp.ones(2, bool))  # fmt: skip

    def reset(self, key: jax.Array) -> tuple[AgentObs, MatrixState]:
        del key  # nothing is random
        return self._observe(), MatrixState(jnp.zeros((), jnp.int32))

    def step(
        self, key: jax.Array, env_state: MatrixState, actions: jax.Array
    ) -> tuple[AgentObs, MatrixState, jax.Array, jax.Array, jax.Array, AgentObs]:
        del key
        reward = jnp.asarray(self.payoff, jnp.float32)[actions[0], actions[1]]
        time = env_state.time + 1
        truncated = time >= self.max_episode_steps
        state = MatrixState(jnp.where(truncated, 0, time).astype(jnp.int32))
        rewards = jnp.full(2, reward, jnp.float32)  # one team, one payoff
        return self._observe(), state, rewards, jnp.zeros((), bool), truncated, self._observe()


def climbing_game(max_episode_steps: int = 25) -> MatrixGame:
    return MatrixGame(CLIMBING, max_episode_steps, "ascent/Climbing-v0")


def penalty_game(k: float = -100.0, max_episode_steps: int = 25) -> MatrixGame:
    return MatrixGame(penalty_payoff(k), max_episode_steps, "ascent/Penalty-v0")
