"""`make(env_id)`: one string picks the door.

`gymnax/<name>` and `ascent/<name>` give a `JaxEnv` (the loop vmaps it over N copies);
any other id is a Gymnasium id and gives a `HostVecEnv` of `n_envs` environments.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Any, Literal

import gymnasium

from ascent.envs.gymnax_env import GymnaxEnv
from ascent.envs.host import HostVecEnv
from ascent.envs.jax_env import JaxEnv
from ascent.envs.tasks import Chain, RepeatFirst, RepeatPrevious, TMaze
from ascent.errors import EnvError

TASKS: dict[str, Callable[..., JaxEnv]] = {}
"""Ascent's own JAX tasks by full id (`ascent/...`), each a factory taking keyword options."""


def register_task(name: str, factory: Callable[..., JaxEnv]) -> None:
    """Register a JAX task under `name` (the `ascent/` prefix is added if missing)."""
    env_id = name if name.startswith("ascent/") else f"ascent/{name}"
    if env_id in TASKS:
        raise EnvError(f"task '{env_id}' is already registered")
    TASKS[env_id] = factory


register_task("Chain-v0", Chain)
register_task("TMaze-v0", TMaze)
register_task("RepeatFirst-v0", RepeatFirst)
register_task("RepeatPrevious-v0", RepeatPrevious)

_CLASSIC_CONTROL = [
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
]


def list_envs() -> dict[str, list[str]]:
    """A short curated list of ids for `ascent list`, by door."""
    return {
        "gymnasium": list(_CLASSIC_CONTROL),
        "gymnax": [f"gymnax/{name}" for name in _CLASSIC_CONTROL],
        "ascent": sorted(TASKS),
    }


def _unknown(env_id: str) -> EnvError:
    known = [*gymnasium.registry, *TASKS, *list_envs()["gymnax"]]
    close = difflib.get_close_matches(env_id, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return EnvError(
        f"unknown environment '{env_id}': not a Gymnasium id, nor gymnax/..., nor ascent/...; "
        f"run 'ascent list' to see some{hint}"
    )


def make(env_id: str, n_envs: int = 1, seed: int = 0, **make_kwargs: Any) -> HostVecEnv | JaxEnv:
    """Build the environment named `env_id`.

    `gymnax/<name>` → `GymnaxEnv(name)`; `ascent/<name>` → `TASKS[env_id](**make_kwargs)`
    (both single, unbatched `JaxEnv`s: `n_envs` and `seed` belong to the loop). Any other
    id must be a Gymnasium id (`module:Id` imports `module` first) and gives
    `HostVecEnv(env_id, n_envs, seed, **make_kwargs)`. Raises EnvError for an unknown id
    or a missing optional dependency, before creating anything.
    """
    if n_envs < 1:
        raise EnvError(f"n_envs must be at least 1, got {n_envs}")
    if env_id.startswith("gymnax/"):
        if make_kwargs:
            raise EnvError(f"{env_id} takes no options, got {sorted(make_kwargs)}")
        return GymnaxEnv(env_id.removeprefix("gymnax/"))
    if env_id.startswith("ascent/"):
        if env_id not in TASKS:
            raise EnvError(f"unknown Ascent task '{env_id}'; known: {', '.join(sorted(TASKS))}")
        return TASKS[env_id](**make_kwargs)
    if ":" in env_id:
        # Gymnasium's own convention: "package.module:EnvId" registers EnvId on import.
        module, env_id = env_id.split(":", 1)
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise EnvError(f"cannot import '{module}' to register '{env_id}': {e}") from None
    if env_id not in gymnasium.registry:
        raise _unknown(env_id)
    return HostVecEnv(env_id, n_envs, seed, **make_kwargs)


def is_jax_env(env: object) -> bool:
    """True for an environment of the JAX door."""
    return not isinstance(env, HostVecEnv) and isinstance(env, JaxEnv)


def door(env: object) -> Literal["jax", "host"]:
    """Which door `env` belongs to: "jax" (compiled loop) or "host" (Python loop)."""
    if isinstance(env, HostVecEnv):
        return "host"
    if isinstance(env, JaxEnv):
        return "jax"
    raise EnvError(f"{env!r} is neither a JaxEnv nor a HostVecEnv; build it with ascent.envs.make")
