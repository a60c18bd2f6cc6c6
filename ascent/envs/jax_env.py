"""The JAX door: one unbatched environment as pure functions, reset inside `step`.

Loops `jax.vmap` an environment over N copies and `lax.scan` over time, so an
implementation must be jittable: no Python branching on traced values, and the
environment object itself is a static constant (hashable, no traced attributes).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium
import jax
import jax.numpy as jnp

from ascent.errors import EnvError
from ascent.nn.encoders import ObsSpec

EnvState = Any
"""An environment's state: any pytree of arrays."""


@runtime_checkable
class JaxEnv(Protocol):
    """One environment with pure `reset`/`step` and automatic reset inside `step`.

    Observations are arrays, or a dict or tuple of them, as the observation space says
    (`nn.ObsSpec`); rewards a float32 scalar, flags bool scalars.
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


def check_jax_env(env: JaxEnv) -> None:
    """EnvError, in one line, unless `env`'s reset and step give what its spaces say:
    observations shaped like the observation space (`ObsSpec.mismatch`: its structure,
    each leaf's shape, numbers), scalar reward and flags. Checked on
    shapes only (`jax.eval_shape`: nothing is compiled or run)."""
    label = getattr(env, "env_id", type(env).__name__)
    try:
        spec = ObsSpec.of(env.observation_space)
    except EnvError as e:
        raise EnvError(f"{label}: {e}") from None
    action = jax.tree.map(jnp.asarray, env.action_space.sample())
    key = jax.random.PRNGKey(0)
    try:
        obs, state = jax.eval_shape(env.reset, key)
        out = jax.eval_shape(env.step, key, state, action)
    except Exception as e:  # noqa: BLE001 - the environment's own failure, in one line
        first = str(e).splitlines()[0] if str(e) else ""
        raise EnvError(f"{label}: reset or step fails on a sample action: "
                       f"{type(e).__name__}: {first}") from None  # fmt: skip
    if not isinstance(out, tuple) or len(out) != 6:
        raise EnvError(
            f"{label}: step must return (obs, env_state, reward, terminated, truncated, "
            f"next_obs), got {type(out).__name__} of {len(out) if isinstance(out, tuple) else 1}"
        )
    named = {"reset's observation": obs, "step's observation": out[0], "next_obs": out[5]}
    for name, value in named.items():
        problem = spec.mismatch(value)
        if problem:
            raise EnvError(f"{label}: {name} does not fit {env.observation_space}: {problem}")
    for name, value in zip(("reward", "terminated", "truncated"), out[2:5], strict=True):
        if tuple(value.shape) != ():
            raise EnvError(f"{label}: {name} has shape {tuple(value.shape)}, expected a scalar")
