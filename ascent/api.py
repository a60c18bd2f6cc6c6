"""The Python front door: `ascent.make`, `ascent.load`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium

from ascent.catalog import make_config
from ascent.envs.host import ActionMaskSource
from ascent.envs.registry import EnvLike, env_label
from ascent.envs.watchdog import STEP_TIMEOUT
from ascent.train.agent import Agent
from ascent.train.runs import load_agent


def make(
    algo: str,
    env: EnvLike,
    seed: int = 0,
    *,
    step_timeout: float | None = STEP_TIMEOUT,
    action_mask: ActionMaskSource = None,
    env_options: dict[str, Any] | None = None,
    **overrides: Any,
) -> Agent:
    """An untrained agent for `algo` on `env`: an environment id, a `gymnasium.Env` or
    `JaxEnv` object, or a function returning a new environment (called once per
    environment of `n_envs`).

    For an id, the tuned preset for (algo, env) applies when one exists; keyword
    arguments override its fields (`ascent.make("ppo", env="CartPole-v1", lr=1e-3)`).
    An environment object is one environment: `n_envs` is 1 unless given. The config is
    validated before any environment is made. `step_timeout`: seconds a Gymnasium
    environment's step() or reset() may take before training stops (None: no limit).
    `action_mask`: where a Gymnasium environment's allowed actions come from when its
    observations do not carry them (an `action_mask` key, used by itself): "info"
    (`info["action_mask"]`, as Taxi-v4 gives it) or a function of one observation.
    `env_options`: the options of an environment id, recorded with the run and used
    again by `ascent.load` (`env_options={"engine": "envpool"}` for `atari/<Game>`).
    """
    if isinstance(env, gymnasium.Env):
        overrides = {"n_envs": 1, **overrides}
    config = make_config(algo, env_label(env), overrides, use_preset=isinstance(env, str))
    return Agent(
        algo,
        env,
        config,
        seed,
        step_timeout=step_timeout,
        action_mask=action_mask,
        env_options=env_options,
    )


def load(
    path: str | Path, env: EnvLike | None = None, *, action_mask: ActionMaskSource = None
) -> Agent:
    """An agent from `agent.save(path)`, a checkpoint folder or a run folder (its final
    or newest checkpoint). `env` gives the environment again (needed when it was trained
    on an object or a function; a saved id is only used when it is registered, a file
    never makes Ascent import a module); `action_mask` the function its masks came from,
    if they came from one."""
    return load_agent(Path(path), env, action_mask)
