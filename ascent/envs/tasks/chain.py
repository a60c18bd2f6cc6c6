"""Chain: a short corridor, the cheapest JAX task with a known optimal return."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError


class ChainState(NamedTuple):
    position: jax.Array  # int32 scalar, 0 .. length-1
    time: jax.Array  # int32 scalar, steps taken in this episode


@dataclass(frozen=True)
class Chain:
    """Walk right along a corridor of `length` cells from cell 0 to the last one.

    Observation: one-hot position, float32 `[length]`. Actions: Discrete(2), 0 = left
    (the wall stops you at cell 0), 1 = right; with probability `slip` the other move is
    made. Reward -0.01 per step, +1 on the step that reaches the last cell, which
    terminates; after `max_episode_steps` steps the episode is truncated. The optimal
    return is 1 - 0.01 * (length - 2) with `slip = 0` (0.94 for length 8).
    """

    length: int = 8
    max_episode_steps: int = 32
    slip: float = 0.0
    env_id: str = "ascent/Chain-v0"

    def __post_init__(self) -> None:
        if self.length < 2 or self.max_episode_steps < 1 or not 0.0 <= self.slip <= 1.0:
            raise EnvError(
                "Chain needs length >= 2, max_episode_steps >= 1 and slip in [0, 1]; "
                f"got length={self.length}, max_episode_steps={self.max_episode_steps}, "
                f"slip={self.slip}"
            )

    @cached_property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.length,), np.float32)

    @cached_property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(2)

    def _observe(self, position: jax.Array) -> jax.Array:
        return jax.nn.one_hot(position, self.length, dtype=jnp.float32)

    def reset(self, key: jax.Array) -> tuple[jax.Array, ChainState]:
        del key  # every episode starts at cell 0
        state = ChainState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
        return self._observe(state.position), state

    def step(
        self, key: jax.Array, env_state: ChainState, action: jax.Array
    ) -> tuple[jax.Array, ChainState, jax.Array, jax.Array, jax.Array, jax.Array]:
        slipped = jax.random.bernoulli(key, self.slip)
        right = jnp.logical_xor(jnp.asarray(action) == 1, slipped)
        position = jnp.clip(env_state.position + jnp.where(right, 1, -1), 0, self.length - 1)
        position = position.astype(jnp.int32)
        time = env_state.time + 1
        terminated = position == self.length - 1
        truncated = jnp.logical_and(time >= self.max_episode_steps, jnp.logical_not(terminated))
        reward = jnp.where(terminated, 1.0, -0.01).astype(jnp.float32)
        next_obs = self._observe(position)
        done = jnp.logical_or(terminated, truncated)
        # The reset state is constant, so automatic reset is a select, not a second reset.
        state = ChainState(
            jnp.where(done, 0, position).astype(jnp.int32),
            jnp.where(done, 0, time).astype(jnp.int32),
        )
        return self._observe(state.position), state, reward, terminated, truncated, next_obs
