"""Two goals: a small reward a step from the start, twice as much far away — a deceptive
local optimum for continuous actions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError


class TwoGoalsState(NamedTuple):
    position: jax.Array  # float32 scalar, in [left, right]
    time: jax.Array  # int32 scalar, steps taken in this episode


@dataclass(frozen=True)
class TwoGoals:
    """Walk a 1-D corridor [left, right] from 0; each step moves by `speed` · a, a in [−1, 1].

    Observation: the position, float32 [1]. Action: Box(−1, 1, (1,)). Walls stop the
    walker (the position is clipped). Each step pays for where it ends: `near_reward` at
    or left of `near` (a step or two from the start), `far_reward` at or right of `far`
    (many steps away), 0 between. Episodes are truncated after `max_episode_steps` steps;
    nothing terminates.

    With the defaults, staying near earns at most 4.9 (every step but the first), the
    most any policy earns without reaching the far goal; the optimum walks right for 8
    steps and stays: 43 steps paid 0.2, return 8.6. A walker of uniformly random actions
    (steps of standard deviation 0.058) drifts about 0.41 in an episode: it finds the
    near goal in two episodes of three and the far one (1.8 of those drifts away) in
    about one of eighteen. Rewards of 0.1 a step put SAC's usual temperatures (0.01 to
    1) within the range where they matter.
    """

    left: float = -0.3
    right: float = 1.0
    near: float = -0.15
    far: float = 0.75
    near_reward: float = 0.1
    far_reward: float = 0.2
    speed: float = 0.1
    max_episode_steps: int = 50
    env_id: str = "ascent/TwoGoals-v0"

    def __post_init__(self) -> None:
        if not (self.left <= self.near < 0.0 < self.far <= self.right and self.speed > 0):
            raise EnvError(
                "TwoGoals needs left <= near < 0 < far <= right and speed > 0; got "
                f"left={self.left}, near={self.near}, far={self.far}, right={self.right}, "
                f"speed={self.speed}"
            )
        if self.max_episode_steps < 1:
            raise EnvError(f"TwoGoals needs max_episode_steps >= 1; got {self.max_episode_steps}")

    @cached_property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(self.left, self.right, (1,), np.float32)

    @cached_property
    def action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reward(self, position: jax.Array) -> jax.Array:
        """What a step ending at `position` pays."""
        near = jnp.where(position <= self.near, self.near_reward, 0.0)
        return jnp.where(position >= self.far, self.far_reward, near).astype(jnp.float32)

    def reset(self, key: jax.Array) -> tuple[jax.Array, TwoGoalsState]:
        del key  # every episode starts at 0
        state = TwoGoalsState(jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
        return state.position[None], state

    def step(
        self, key: jax.Array, env_state: TwoGoalsState, action: jax.Array
    ) -> tuple[jax.Array, TwoGoalsState, jax.Array, jax.Array, jax.Array, jax.Array]:
        del key
        move = self.speed * jnp.clip(jnp.asarray(action, jnp.float32).reshape(()), -1.0, 1.0)
        position = jnp.clip(env_state.position + move, self.left, self.right)
        time = env_state.time + 1
        truncated = time >= self.max_episode_steps
        # the start is fixed, so the automatic reset is a select
        state = TwoGoalsState(
            jnp.where(truncated, 0.0, position).astype(jnp.float32),
            jnp.where(truncated, 0, time).astype(jnp.int32),
        )
        return (state.position[None], state, self.reward(position), jnp.bool_(False), truncated,
                position[None])  # fmt: skip
