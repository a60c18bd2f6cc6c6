"""The algorithms by name, their presets, and building a validated config."""

from __future__ import annotations

import difflib
import tomllib
from importlib import resources
from typing import Any

from ascent.algos.a2c import A2C
from ascent.algos.a3c import A3C
from ascent.algos.actor_critic import ActorCritic
from ascent.algos.ddpg import DDPG
from ascent.algos.impala import Impala
from ascent.algos.naf import NAF
from ascent.algos.ppo import PPO
from ascent.algos.reinforce import Reinforce
from ascent.algos.sac import SAC
from ascent.algos.td3 import TD3
from ascent.algos.trpo import TRPO
from ascent.catalog.settings import build_config
from ascent.envs.multiagent import MultiAgentSpaces, is_multiagent
from ascent.errors import ConfigError, EnvError
from ascent.marl import COMA, IPPO, MADDPG, MAPPO, QMIX, VDN

ALGORITHMS: dict[str, type] = {
    "reinforce": Reinforce,
    "actor-critic": ActorCritic,
    "a2c": A2C,
    "a3c": A3C,
    "impala": Impala,
    "ppo": PPO,
    "trpo": TRPO,
    "ddpg": DDPG,
    "td3": TD3,
    "sac": SAC,
    "naf": NAF,
    "ippo": IPPO,
    "mappo": MAPPO,
    "coma": COMA,
    "vdn": VDN,
    "qmix": QMIX,
    "maddpg": MADDPG,
}


def algorithm_class(name: str) -> type:
    key = name.lower().replace("_", "-")
    if key not in ALGORITHMS:
        close = difflib.get_close_matches(key, ALGORITHMS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown algorithm '{name}'{hint} (known: {', '.join(ALGORITHMS)})")
    return ALGORITHMS[key]


DOOR_PREFIXES = ("gymnax/", "ascent/", "mpe2/", "jaxmarl/")


def preset_key(env_id: str) -> str:
    """The preset table name for an env id: the id without its door prefix (so
    `mpe2/simple_spread_v3` and `jaxmarl/simple_spread_v3` share one preset)."""
    return env_id.split("/", 1)[1] if env_id.startswith(DOOR_PREFIXES) else env_id


def preset(algo: str, env_id: str) -> dict[str, Any]:
    """The tuned settings for `algo` on `env_id` (its own table, else its family's, as
    `atari/*`), or {} when there is none."""
    name = algorithm_class(algo).name
    path = resources.files("ascent.catalog.presets").joinpath(f"{name}.toml")
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        tables = tomllib.load(f)
    found = tables.get(preset_key(env_id))
    if found is None and "/" in env_id:  # a family's table: `atari/*` for atari/Breakout
        found = tables.get(env_id.split("/", 1)[0] + "/*")
    return dict(found or {})


def presets() -> dict[str, list[str]]:
    """Algorithm name -> environments with a preset (for `ascent list`)."""
    out = {}
    for name in ALGORITHMS:
        path = resources.files("ascent.catalog.presets").joinpath(f"{name}.toml")
        if path.is_file():
            with path.open("rb") as f:
                out[name] = sorted(tomllib.load(f))
    return out


def make_config(
    algo: str, env_id: str, overrides: dict[str, Any] | None = None, *, use_preset: bool = True
) -> Any:
    """Defaults, then the preset for (algo, env) if any, then `overrides`; validated."""
    cls = algorithm_class(algo)
    values = preset(algo, env_id) if use_preset else {}
    values.update(overrides or {})
    return build_config(cls.Config, values, algo=cls.name)


def build_algorithm(cls: type, config: Any, env: Any) -> Any:
    """Algorithm `cls` with `config` for environment `env`: a team's algorithm (`cls.
    multi_agent`) from the team's spaces, any other from the observation and action
    spaces. EnvError when the environment has the other number of agents."""
    label = getattr(env, "env_id", type(env).__name__)
    if cls.multi_agent:
        if not is_multiagent(env):
            raise EnvError(
                f"{cls.name} trains a team of agents and {label} has one: use a multi-agent "
                "environment (mpe2/..., jaxmarl/..., ascent/Climbing-v0; see 'ascent list')"
            )
        return cls(config, MultiAgentSpaces.of(env))
    if is_multiagent(env):
        raise EnvError(
            f"{cls.name} trains one agent and {label} has {len(env.agents)} "
            f"({', '.join(env.agents)}): use ippo or mappo"
        )
    return cls(config, env.observation_space, env.action_space)


def spaces_table() -> list[dict[str, str]]:
    """What each algorithm takes, from its declared capabilities (`ascent list --spaces`,
    the README's table): observations, actions and action masks."""
    rows = []
    for name, cls in ALGORITHMS.items():
        maskable = {"Discrete", "MultiDiscrete"} & set(cls.action_spaces)
        if cls.multi_agent:
            obs, masks = "each agent's Box (padded to the largest)", "the team's action_mask"
        else:
            obs = "any: Box, Discrete, Multi*, nested in Dict and Tuple"
            masks = "observation key, info, function" if maskable else "-"
        rows.append({"algorithm": name, "observations": obs,
                     "actions": ", ".join(cls.action_spaces), "action masks": masks})  # fmt: skip
    return rows
