"""Lure: a corridor with a small reward next to the start and a large one far away, the
smallest task with a deceptive optimum."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError

START = 1  # the cell every episode starts in, one step from the lure


class LureState(NamedTuple):
    position: jax.Array  # int32 scalar, 1 .. length-2 (the end cells terminate)
    time: jax.Array  # int32 scalar, steps taken in this episode


@dataclass(frozen=True)
class Lure:
    """A corridor of `length` cells; every episode starts in cell 1.

    Actions: Discrete(2), 0 = left, 1 = right. Stepping into cell 0 pays `lure` and
    terminates; stepping into the last cell pays 1 and terminates; every other step
    pays −`step_cost`; after `max_episode_steps` steps the episode is truncated.
    Observation: one-hot position, float32 `[length]`.

    The lure is one step away, the goal `length − 2`: the optimal return is
    1 − step_cost·(length − 3) (0.87 with the defaults) against the lure's `lure`
    (0.1). Deceptive: under the uniform random policy the lure's side is the better
    move in the first four cells (with γ = 0.99 and the defaults Q(1, left) = 0.100
    against Q(1, right) = −0.042; tests/envs/test_lure.py computes it exactly), so a
    policy gradient started from a uniform policy first pushes the start towards the
    lure, and a policy that has stopped exploring stays there. (A corridor with a
    small reward beside the start, after the chains of Strens 2000 and Osband et al.
    2016; benchmarks/claims_lab/entropy.py chose the length.)
    """

    length: int = 16
    lure: float = 0.1
    step_cost: float = 0.01
    max_episode_steps: int = 100
    env_id: str = "ascent/Lure-v0"

    def __post_init__(self) -> None:
        if self.length < 3 or self.max_episode_steps < 1 or not 0.0 <= self.lure < 1.0:
            raise EnvError(
                "Lure needs length >= 3, max_episode_steps >= 1 and lure in [0, 1); got "
                f"length={self.length}, max_episode_steps={self.max_episode_steps}, "
                f"lure={self.lure}"
            )

    @cached_property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.length,), np.float32)

    @cached_property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(2)

    @property
    def optimal_return(self) -> float:
        """The goal's return, walking right all the way."""
        return 1.0 - self.step_cost * (self.length - 3)

    def _observe(self, position: jax.Array) -> jax.Array:
        return jax.nn.one_hot(position, self.length, dtype=jnp.float32)

    def reset(self, key: jax.Array) -> tuple[jax.Array, LureState]:
        del key  # every episode starts in cell 1
        state = LureState(jnp.asarray(START, jnp.int32), jnp.zeros((), jnp.int32))
        return self._observe(state.position), state

    def step(
        self, key: jax.Array, env_state: LureState, action: jax.Array
    ) -> tuple[jax.Array, LureState, jax.Array, jax.Array, jax.Array, jax.Array]:
        del key  # deterministic
        move = jnp.where(jnp.asarray(action) == 1, 1, -1)
        position = (env_state.position + move).astype(jnp.int32)
        time = env_state.time + 1
        lured, goal = position == 0, position == self.length - 1
        terminated = lured | goal
        truncated = (time >= self.max_episode_steps) & ~terminated
        reward = jnp.where(goal, 1.0, jnp.where(lured, self.lure, -self.step_cost))
        next_obs = self._observe(position)
        done = terminated | truncated
        # the reset state is constant, so automatic reset is a select, not a second reset
        state = LureState(
            jnp.where(done, START, position).astype(jnp.int32),
            jnp.where(done, 0, time).astype(jnp.int32),
        )
        return (
            self._observe(state.position),
            state,
            reward.astype(jnp.float32),
            terminated,
            truncated,
            next_obs,
        )
