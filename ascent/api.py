"""The Python front door: `ascent.make`, `ascent.load`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ascent.algos.registry import make_config
from ascent.train.agent import Agent


def make(algo: str, env: str, seed: int = 0, **overrides: Any) -> Agent:
    """An untrained agent for `algo` on environment id `env`.

    The tuned preset for (algo, env) applies when one exists; keyword arguments
    override its fields (`ascent.make("ppo", env="CartPole-v1", lr=1e-3)`). The
    config is validated before any environment is made.
    """
    config = make_config(algo, env, overrides)
    return Agent(algo, env, config, seed)


def load(path: str | Path) -> Agent:
    """An agent from `agent.save(path)`, a checkpoint folder or a run folder."""
    return Agent.load(path)
