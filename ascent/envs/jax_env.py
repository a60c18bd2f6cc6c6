"""The JAX door: one unbatched environment as pure functions, reset inside `step`.

Loops `jax.vmap` an environment over N copies and `lax.scan` over time, so an
implementation must be jittable: no Python branching on traced values, and the
environment object itself is a static constant (hashable, no traced attributes).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium
import jax

EnvState = Any
"""An environment's state: any pytree of arrays."""


@runtime_checkable
class JaxEnv(Protocol):
    """One environment with pure `reset`/`step` and automatic reset inside `step`.

    Observations are float32, rewards a float32 scalar, flags bool scalars.
    """

    observation_space: gymnasium.spaces.Space
    action_space: gymnasium.spaces.Space
    env_id: str
    max_episode_steps: int | None

    def reset(self, key: jax.Array) -> tuple[jax.Array, EnvState]:
        """Start an episode: returns `(obs, env_state)`."""
        ...

    def step(
        self, key: jax.Array, env_state: EnvState, action: jax.Array
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, jax.Array]:
        """Advance one step: returns `(obs, env_state, reward, terminated, truncated, next_obs)`.

        `next_obs` is the observation the step truly led to. `obs` is the one to act
        on next: equal to `next_obs`, except when the step ended the episode
        (`terminated | truncated`), where it is a fresh episode's first observation and
        `env_state` is that episode's state. A truncated step bootstraps from
        `V(next_obs)`.
        """
        ...
