"""JAX door over gymnax (https://github.com/RobertTLange/gymnax), default parameters."""

from __future__ import annotations

import difflib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.envs.jax_env import EnvState
from ascent.errors import EnvError

_INSTALL = "pip install 'ascent-rl[gymnax]'"


def _import_gymnax() -> Any:
    try:
        import gymnax
    except ImportError as e:
        # gymnax 1.0.1 imports `six` without declaring it; the extra installs both.
        if e.name in (None, "gymnax"):
            raise EnvError(f"gymnax is not installed: {_INSTALL}") from None
        raise EnvError(
            f"gymnax could not be imported (missing module '{e.name}'): {_INSTALL}"
        ) from None
    return gymnax


def gymnax_ids() -> list[str]:
    """Every environment name gymnax registers (without the `gymnax/` prefix)."""
    return list(_import_gymnax().registered_envs)


def _to_gymnasium(space: Any, name: str) -> spaces.Space:
    kind = type(space).__name__
    if kind == "Discrete":
        return spaces.Discrete(int(space.n))
    if kind == "Box":
        shape = tuple(int(d) for d in space.shape)
        low = np.broadcast_to(np.asarray(space.low, np.float32), shape)
        high = np.broadcast_to(np.asarray(space.high, np.float32), shape)
        return spaces.Box(low, high, shape, np.float32)
    raise EnvError(f"gymnax/{name} has a {kind} space; Ascent supports Discrete and Box")


class GymnaxEnv:
    """A gymnax environment behind the `JaxEnv` protocol.

    gymnax's own `step` already resets inside and reports the pre-reset observation
    as `info["final_observation"]`; this adapter returns it as `next_obs`, casts to
    float32/bool, and hides the params. Two adapters of the same name compare equal,
    so the adapter can be a static argument of `jax.jit`.
    """

    def __init__(self, name: str) -> None:
        gymnax = _import_gymnax()
        if name not in gymnax.registered_envs:
            close = difflib.get_close_matches(name, gymnax.registered_envs, n=1)
            hint = f"did you mean 'gymnax/{close[0]}'? " if close else ""
            some = ", ".join(f"gymnax/{n}" for n in gymnax.registered_envs[:5])
            raise EnvError(f"unknown gymnax environment '{name}'; {hint}valid ones include {some}")
        self._env, self._params = gymnax.make(name)
        self.name = name
        self.env_id = f"gymnax/{name}"
        self.observation_space = _to_gymnasium(self._env.observation_space(self._params), name)
        self.action_space = _to_gymnasium(self._env.action_space(self._params), name)
        steps = getattr(self._params, "max_steps_in_episode", None)
        self.max_episode_steps: int | None = None if steps is None else int(steps)

    def reset(self, key: jax.Array) -> tuple[jax.Array, EnvState]:
        obs, state = self._env.reset(key, self._params)
        # some gymnax states start weakly typed (Pendulum's last_u) and leave `step`
        # strongly typed: fix the types here, or a loop compiles its first chunk twice
        state = jax.tree.map(lambda x: jnp.asarray(x, jnp.result_type(x)), state)
        return jnp.asarray(obs, jnp.float32), state

    def step(
        self, key: jax.Array, env_state: EnvState, action: jax.Array
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, jax.Array]:
        obs, state, reward, terminated, truncated, info = self._env.step(
            key, env_state, action, self._params
        )
        return (
            jnp.asarray(obs, jnp.float32),
            state,
            jnp.asarray(reward, jnp.float32),
            jnp.asarray(terminated, jnp.bool_),
            jnp.asarray(truncated, jnp.bool_),
            jnp.asarray(info["final_observation"], jnp.float32),
        )

    def __eq__(self, other: object) -> bool:
        return type(other) is GymnaxEnv and other.name == self.name

    def __hash__(self) -> int:
        return hash((GymnaxEnv, self.name))

    def __repr__(self) -> str:
        return f"GymnaxEnv({self.name!r})"
