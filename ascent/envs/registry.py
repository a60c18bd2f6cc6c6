"""`make(env)`: one id, environment or factory picks the door.

`gymnax/<name>` and `ascent/<name>` give a `JaxEnv` (the loop vmaps it over N copies);
`jaxmarl/<name>` a `MultiAgentJaxEnv` (JaxMARL); `mpe2/<name>` a `PettingZooVecEnv` of
`n_envs` PettingZoo environments; `atari/<Game>` a `HostVecEnv` of `n_envs` preprocessed
Atari games (`ascent.envs.atari`: ale-py, or EnvPool with `engine="envpool"`); any other
id is a Gymnasium id and gives a `HostVecEnv` of `n_envs` environments. An environment
object (a `gymnasium.Env`, a `pettingzoo.ParallelEnv`, a `JaxEnv` or a
`MultiAgentJaxEnv`), or a function returning one, takes the door of its kind.

Ids read from a file (a checkpoint's meta.json, a run's config.json) go through
`check_saved_id` first: loading never imports a module.
"""

from __future__ import annotations

import difflib
import importlib
import re
import sys
from collections.abc import Callable
from typing import Any, Literal

import gymnasium

from ascent.envs.atari import PREFIX as ATARI
from ascent.envs.atari import SHOWN, atari_games, make_atari
from ascent.envs.gymnax_env import GymnaxEnv, gymnax_ids
from ascent.envs.host import ActionMaskSource, HostVecEnv, object_label
from ascent.envs.jax_env import JaxEnv, check_jax_env
from ascent.envs.jaxmarl_env import JaxMarlEnv, jaxmarl_name
from ascent.envs.multiagent import MultiAgentJaxEnv, check_multiagent_env, is_multiagent
from ascent.envs.pettingzoo_env import MPE2_ENVS, PettingZooVecEnv, is_parallel_env
from ascent.envs.tasks import (
    Chain,
    DialLock,
    Lure,
    RepeatFirst,
    RepeatPrevious,
    Signalling,
    Switches,
    TMaze,
    TwoGoals,
    climbing_game,
    penalty_game,
)
from ascent.envs.watchdog import STEP_TIMEOUT
from ascent.errors import CheckpointError, EnvError

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
register_task("Climbing-v0", climbing_game)
register_task("Penalty-v0", penalty_game)
register_task("Signalling-v0", Signalling)
register_task("DialLock-v0", DialLock)
register_task("Switches-v0", Switches)
register_task("Lure-v0", Lure)
register_task("TwoGoals-v0", TwoGoals)

_CLASSIC_CONTROL = [
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
]


_MPE = [
    "simple_spread_v3",
    "simple_speaker_listener_v4",
    "simple_reference_v3",
    "simple_tag_v3",
]


def list_envs() -> dict[str, list[str]]:
    """A short curated list of ids for `ascent list`, by door."""
    return {
        "gymnasium": list(_CLASSIC_CONTROL),
        "gymnax": [f"gymnax/{name}" for name in _CLASSIC_CONTROL],
        "ascent": sorted(TASKS),
        "pettingzoo": [f"mpe2/{name}" for name in _MPE],
        "jaxmarl": [f"jaxmarl/{name}" for name in _MPE],
        "atari": [f"{ATARI}{game}" for game in SHOWN],
    }


def _unknown(env_id: str) -> EnvError:
    listed = list_envs()
    known = [*gymnasium.registry, *TASKS, *listed["gymnax"], *listed["jaxmarl"]]
    known += [f"mpe2/{name}" for name in MPE2_ENVS]
    close = difflib.get_close_matches(env_id, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    # ale-py's own ids (ALE/Pong-v5, PongNoFrameskip-v4) are registered only once ale_py
    # is imported: point at the family that brings the standard preprocessing with it
    game = re.fullmatch(r"(?:ALE/)?([A-Z]\w*?)(?:NoFrameskip)?-v\d+", env_id)
    if game and (env_id.startswith("ALE/") or "NoFrameskip" in env_id):
        hint = f"; for an Atari game with the standard preprocessing use 'atari/{game[1]}'"
    return EnvError(
        f"unknown environment '{env_id}': not a Gymnasium id, nor gymnax/..., ascent/..., "
        f"mpe2/... (PettingZoo) or jaxmarl/...; run 'ascent list' to see some{hint}"
    )


EnvLike = str | gymnasium.Env | JaxEnv | MultiAgentJaxEnv | Callable[[], Any]
"""What `make` takes: an id, an environment object, or a function returning a new one."""


def env_label(env: Any) -> str:
    """The name a run records its environment under: the id it was made from, or
    `<name>` for an object or function (given again to `ascent.load`, never re-made
    from a file)."""
    if isinstance(env, str):
        return env
    if isinstance(env, HostVecEnv):
        return env.env_id
    return object_label(env)


def make(
    env: EnvLike,
    n_envs: int = 1,
    seed: int = 0,
    *,
    step_timeout: float | None = STEP_TIMEOUT,
    action_mask: ActionMaskSource = None,
    **make_kwargs: Any,
) -> HostVecEnv | JaxEnv | MultiAgentJaxEnv:
    """Build the environment `env`: an id, an environment object or a factory.

    `gymnax/<name>` → `GymnaxEnv(name)`; `ascent/<name>` → `TASKS[env_id](**make_kwargs)`
    (both single, unbatched `JaxEnv`s: `n_envs` and `seed` belong to the loop);
    `jaxmarl/<name>` → `JaxMarlEnv(name, **make_kwargs)` (a `MultiAgentJaxEnv`; the short
    MPE name or JaxMARL's own, `jaxmarl/MPE_simple_spread_v3`); `mpe2/<name>` →
    `PettingZooVecEnv(env_id, n_envs, seed, **make_kwargs)`; `atari/<Game>` →
    `make_atari(env_id, n_envs, seed, **make_kwargs)` (its options: `AtariOptions`, e.g.
    `engine="envpool"`). Any other
    id must be a Gymnasium id (`module:Id` imports `module` first: pass such ids only from
    code or a command line, never from a file) and gives
    `HostVecEnv(env_id, n_envs, seed, **make_kwargs)`. A `JaxEnv` or `MultiAgentJaxEnv`
    object is returned as it is; a `gymnasium.Env` or `pettingzoo.ParallelEnv` object is
    one environment (`n_envs` must be 1); a function (a class, a lambda) is called for
    each environment. Raises EnvError for an unknown id
    or a missing optional dependency, before creating anything. `step_timeout`: seconds a
    Gymnasium environment's step() or reset() may take (`ascent.envs.watchdog`).
    `action_mask`: "info" or a function of an observation, for a Gymnasium environment
    whose allowed actions are not in its observations (`HostVecEnv`).
    """
    if n_envs < 1:
        raise EnvError(f"n_envs must be at least 1, got {n_envs}")
    made = _make(env, n_envs, seed, step_timeout, action_mask, make_kwargs)
    if action_mask is not None and not (
        isinstance(made, HostVecEnv) and not isinstance(made, PettingZooVecEnv)
    ):
        if isinstance(made, HostVecEnv):
            made.close()
        raise EnvError(
            f"action_mask={action_mask!r} is for Gymnasium environments; {env_label(env)} "
            "gives its allowed actions in its observations (an 'action_mask' key)"
        )
    return made


def _make(
    env: EnvLike,
    n_envs: int,
    seed: int,
    step_timeout: float | None,
    action_mask: ActionMaskSource,
    make_kwargs: dict[str, Any],
) -> HostVecEnv | JaxEnv | MultiAgentJaxEnv:
    host = {"step_timeout": step_timeout}
    if action_mask is not None:
        host["action_mask"] = action_mask  # type: ignore[assignment]
    if not isinstance(env, str):
        return _make_from_object(env, n_envs, seed, host, make_kwargs)
    env_id = env
    if env_id.startswith("gymnax/"):
        if make_kwargs:
            raise EnvError(f"{env_id} takes no options, got {sorted(make_kwargs)}")
        return GymnaxEnv(env_id.removeprefix("gymnax/"))
    if env_id.startswith("ascent/"):
        if env_id not in TASKS:
            raise EnvError(f"unknown Ascent task '{env_id}'; known: {', '.join(sorted(TASKS))}")
        return TASKS[env_id](**make_kwargs)
    if env_id.startswith("jaxmarl/"):
        return JaxMarlEnv(env_id, **make_kwargs)
    if env_id.startswith("mpe2/"):
        return PettingZooVecEnv(env_id, n_envs, seed, step_timeout=step_timeout, **make_kwargs)
    if env_id.startswith(ATARI):
        if action_mask is not None:
            raise EnvError(f"{env_id} has no action masks: every action of its set is allowed")
        return make_atari(env_id, n_envs, seed, step_timeout=step_timeout, **make_kwargs)
    if ":" in env_id:
        # Gymnasium's own convention: "package.module:EnvId" registers EnvId on import.
        module, env_id = env_id.split(":", 1)
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise EnvError(f"cannot import '{module}' to register '{env_id}': {e}") from None
    if env_id not in gymnasium.registry:
        raise _unknown(env_id)
    return HostVecEnv(env_id, n_envs, seed, **host, **make_kwargs)


def _is_multiagent_jax(env: object) -> bool:
    # checked before JaxEnv: a MultiAgentJaxEnv has every attribute the JaxEnv protocol asks
    return is_multiagent(env) and isinstance(env, MultiAgentJaxEnv)


def _make_from_object(
    env: Any, n_envs: int, seed: int, host: dict[str, Any], make_kwargs: dict[str, Any]
) -> HostVecEnv | JaxEnv | MultiAgentJaxEnv:
    if make_kwargs:
        raise EnvError(
            f"options {sorted(make_kwargs)} apply to ids only; {env_label(env)} is an object"
        )
    if isinstance(env, JaxEnv | gymnasium.Env) or _is_multiagent_jax(env) or is_parallel_env(env):
        first = env
    elif callable(env):
        first = env()
    else:
        raise EnvError(
            f"env must be an id, a gymnasium.Env, a pettingzoo.ParallelEnv, a JaxEnv, a "
            f"MultiAgentJaxEnv or a function returning one; got {type(env).__name__}"
        )
    factory = None if first is env else env
    if isinstance(first, gymnasium.Env):
        return HostVecEnv(factory or first, n_envs, seed, first=first, **host)
    if is_parallel_env(first):
        timeout = host["step_timeout"]
        return PettingZooVecEnv(factory or first, n_envs, seed, first=first, step_timeout=timeout)
    if _is_multiagent_jax(first):
        check_multiagent_env(first)
        return first
    if isinstance(first, JaxEnv):
        check_jax_env(first)  # Ascent's own tasks and gymnax are known to be right
        return first
    raise EnvError(
        f"{env_label(env)} returned a {type(first).__name__}, which is neither a "
        "gymnasium.Env, a pettingzoo.ParallelEnv, a JaxEnv nor a MultiAgentJaxEnv"
    )


def registered(env_id: str) -> bool:
    """Whether `env_id` names an environment without importing any code of the user's:
    a Gymnasium id already in its registry, an Ascent task, an mpe2 environment (from
    a fixed list), or a gymnax, JaxMARL or Atari environment (their registries; an Atari
    id counts as registered without ale-py, whose absence making it then names)."""
    if env_id.startswith(ATARI):
        try:
            return env_id.removeprefix(ATARI) in atari_games()
        except EnvError:  # no ale-py: making it says what to install
            return True
    if env_id.startswith("ascent/"):
        return env_id in TASKS
    if env_id.startswith("mpe2/"):
        return env_id.removeprefix("mpe2/") in MPE2_ENVS
    if env_id.startswith("jaxmarl/"):
        try:
            jaxmarl_name(env_id)
        except EnvError:
            return False
        return True
    if env_id.startswith("gymnax/"):
        try:
            return env_id.removeprefix("gymnax/") in gymnax_ids()
        except EnvError:
            return False
    return env_id in gymnasium.registry


def check_saved_id(env_id: Any, where: str) -> str:
    """`env_id` read from file `where`, if it names a registered environment; else
    CheckpointError. A `module:Id` id passes only when `module` is already imported (so
    nothing runs) and registered `Id`: loading a file never imports code."""
    if not isinstance(env_id, str) or not env_id:
        raise CheckpointError(f"{where}: env_id must be an environment id, got {env_id!r}")
    if env_id.startswith("<"):
        raise CheckpointError(
            f"{where} was trained on the environment object {env_id}, which a file cannot "
            "name; pass it again: ascent.load(path, env=...) or --env"
        )
    module, _, name = env_id.rpartition(":")
    if module and module not in sys.modules:
        raise CheckpointError(
            f"{where} names environment '{env_id}', which would import module '{module}'; "
            f"loading never imports code: import {module} first, or pass --env / env=..."
        )
    if not registered(name):
        raise CheckpointError(
            f"{where} names environment '{env_id}', which is not registered here "
            "(run 'ascent list'); pass the environment with --env / env=..."
        )
    return env_id


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
