"""Repeat First and Repeat Previous: recall a symbol seen earlier (POPGym's card tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError


class RepeatState(NamedTuple):
    symbols: jax.Array  # int32 [length + 1], the whole episode's symbols, drawn at reset
    time: jax.Array  # int32 scalar, steps taken in this episode


@dataclass(frozen=True)
class _Recall:
    """Shared dynamics: show symbol t at step t; the answer to step t is a past symbol.

    Observation, float32 [num_symbols]: the current symbol, one-hot. Actions:
    Discrete(num_symbols), the answer. Reward 1 / (number of answerable steps) for a
    correct answer, 0 otherwise, so the best return is 1. Every episode lasts `length`
    steps and then terminates (the task's time is part of its state, so this is a true end).
    All symbols are drawn uniformly at reset from its key; `length + 1` are drawn so the
    step that ends an episode still has a true next observation.
    """

    num_symbols: int = 4
    length: int = 16

    def _target_index(self, time: jax.Array) -> jax.Array:
        raise NotImplementedError

    @property
    def answers(self) -> int:
        """How many steps of an episode have a correct answer."""
        raise NotImplementedError

    @property
    def max_episode_steps(self) -> int:
        return self.length

    @cached_property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.num_symbols,), np.float32)

    @cached_property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.num_symbols)

    def _observe(self, state: RepeatState) -> jax.Array:
        return jax.nn.one_hot(state.symbols[state.time], self.num_symbols, dtype=jnp.float32)

    def reset(self, key: jax.Array) -> tuple[jax.Array, RepeatState]:
        symbols = jax.random.randint(key, (self.length + 1,), 0, self.num_symbols, jnp.int32)
        state = RepeatState(symbols, jnp.zeros((), jnp.int32))
        return self._observe(state), state

    def step(
        self, key: jax.Array, env_state: RepeatState, action: jax.Array
    ) -> tuple[jax.Array, RepeatState, jax.Array, jax.Array, jax.Array, jax.Array]:
        t = env_state.time
        index = self._target_index(t)
        correct = jnp.logical_and(index >= 0, action == env_state.symbols[jnp.maximum(index, 0)])
        reward = jnp.where(correct, 1.0 / self.answers, 0.0).astype(jnp.float32)
        state = RepeatState(env_state.symbols, t + 1)
        terminated = state.time >= self.length
        truncated = jnp.zeros((), bool)
        next_obs = self._observe(state)
        fresh_obs, fresh_state = self.reset(key)
        state = jax.tree.map(lambda f, s: jnp.where(terminated, f, s), fresh_state, state)
        obs = jnp.where(terminated, fresh_obs, next_obs)
        return obs, state, reward, terminated, truncated, next_obs


@dataclass(frozen=True)
class RepeatFirst(_Recall):
    """Answer, at every step, the first symbol of the episode (Morad et al. 2023, POPGym
    "Repeat First"). See `_Recall` for observations, actions and rewards; every step is
    answerable, the first one from the current observation.
    """

    env_id: str = "ascent/RepeatFirst-v0"

    def __post_init__(self) -> None:
        if self.num_symbols < 2 or self.length < 1:
            raise EnvError(
                "RepeatFirst needs num_symbols >= 2 and length >= 1; "
                f"got num_symbols={self.num_symbols}, length={self.length}"
            )

    def _target_index(self, time: jax.Array) -> jax.Array:
        return jnp.zeros_like(time)

    @property
    def answers(self) -> int:
        return self.length


@dataclass(frozen=True)
class RepeatPrevious(_Recall):
    """Answer, at step t, the symbol shown k steps earlier (Morad et al. 2023, POPGym
    "Repeat Previous"). The first k steps have no answer and pay 0; see `_Recall`.
    """

    k: int = 4
    env_id: str = "ascent/RepeatPrevious-v0"

    def __post_init__(self) -> None:
        if self.num_symbols < 2 or self.k < 1 or self.length <= self.k:
            raise EnvError(
                "RepeatPrevious needs num_symbols >= 2, k >= 1 and length > k; got "
                f"num_symbols={self.num_symbols}, k={self.k}, length={self.length}"
            )

    def _target_index(self, time: jax.Array) -> jax.Array:
        return time - self.k

    @property
    def answers(self) -> int:
        return self.length - self.k
