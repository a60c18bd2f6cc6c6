"""DialLock and Switches: a Dict observation with a MultiDiscrete action, and a
MultiBinary action, each with a known optimum (issue 28's JAX-door tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError


class LockState(NamedTuple):
    code: jax.Array  # int32 [K], the combination of this episode
    time: jax.Array  # int32 scalar, steps taken in this episode


@dataclass(frozen=True)
class DialLock:
    """Set K dials to the code the observation shows.

    Observation: a Dict, `code` (MultiDiscrete(dials): the combination, drawn at each
    episode's start) and `clock` (Box [1]: the fraction of the episode gone). Action:
    MultiDiscrete(dials), one value per dial. Reward: the fraction of dials set right,
    each step; an episode is `max_episode_steps` steps, then truncated. The optimal
    return is `max_episode_steps` (8 by default); a uniform policy's, the sum over dials
    of 1/n_k, divided by K, times the steps (about 2.6 for dials (3, 3, 4)).
    """

    dials: tuple[int, ...] = (3, 3, 4)
    max_episode_steps: int = 8
    env_id: str = "ascent/DialLock-v0"

    def __post_init__(self) -> None:
        if not self.dials or min(self.dials) < 2 or self.max_episode_steps < 1:
            raise EnvError(
                f"DialLock needs dials of at least 2 values and max_episode_steps >= 1; got "
                f"dials={self.dials}, max_episode_steps={self.max_episode_steps}"
            )

    @cached_property
    def observation_space(self) -> spaces.Dict:
        return spaces.Dict(
            {
                "code": spaces.MultiDiscrete(list(self.dials)),
                "clock": spaces.Box(0.0, 1.0, (1,), np.float32),
            }
        )

    @cached_property
    def action_space(self) -> spaces.MultiDiscrete:
        return spaces.MultiDiscrete(list(self.dials))

    def _observe(self, state: LockState) -> dict[str, jax.Array]:
        clock = (state.time / self.max_episode_steps).astype(jnp.float32)[None]
        return {"code": state.code, "clock": clock}

    def _new_code(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, (len(self.dials),), 0, jnp.asarray(self.dials))

    def reset(self, key: jax.Array) -> tuple[dict[str, jax.Array], LockState]:
        state = LockState(self._new_code(key).astype(jnp.int32), jnp.zeros((), jnp.int32))
        return self._observe(state), state

    def step(
        self, key: jax.Array, env_state: LockState, action: jax.Array
    ) -> tuple[Any, LockState, jax.Array, jax.Array, jax.Array, Any]:
        right = jnp.mean((jnp.asarray(action) == env_state.code).astype(jnp.float32))
        time = env_state.time + 1
        moved = LockState(env_state.code, time)
        truncated = time >= self.max_episode_steps
        fresh = LockState(self._new_code(key).astype(jnp.int32), jnp.zeros((), jnp.int32))
        state = jax.tree.map(lambda a, b: jnp.where(truncated, a, b), fresh, moved)
        return (self._observe(state), state, right, jnp.bool_(False), truncated,
                self._observe(moved))  # fmt: skip


class SwitchState(NamedTuple):
    time: jax.Array  # int32 scalar


@dataclass(frozen=True)
class Switches:
    """Set `n` switches to a fixed pattern (on, off, on, off, ...) the agent must find.

    Observation: Box [1], the fraction of the episode gone. Action: MultiBinary(n).
    Reward: the fraction of switches set as the pattern wants, each step; episodes of
    `max_episode_steps` steps. Optimal return `max_episode_steps` (8); uniform: half.
    """

    n: int = 6
    max_episode_steps: int = 8
    env_id: str = "ascent/Switches-v0"

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_episode_steps < 1:
            raise EnvError(f"Switches needs n >= 1 and max_episode_steps >= 1; got {self}")

    @cached_property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (1,), np.float32)

    @cached_property
    def action_space(self) -> spaces.MultiBinary:
        return spaces.MultiBinary(self.n)

    @property
    def pattern(self) -> jax.Array:
        return (jnp.arange(self.n) % 2 == 0).astype(jnp.int32)

    def _observe(self, time: jax.Array) -> jax.Array:
        return (time / self.max_episode_steps).astype(jnp.float32)[None]

    def reset(self, key: jax.Array) -> tuple[jax.Array, SwitchState]:
        del key
        state = SwitchState(jnp.zeros((), jnp.int32))
        return self._observe(state.time), state

    def step(
        self, key: jax.Array, env_state: SwitchState, action: jax.Array
    ) -> tuple[jax.Array, SwitchState, jax.Array, jax.Array, jax.Array, jax.Array]:
        del key
        right = jnp.mean((jnp.asarray(action, jnp.int32) == self.pattern).astype(jnp.float32))
        time = env_state.time + 1
        truncated = time >= self.max_episode_steps
        state = SwitchState(jnp.where(truncated, 0, time).astype(jnp.int32))
        return (self._observe(state.time), state, right, jnp.bool_(False), truncated,
                self._observe(time))  # fmt: skip
