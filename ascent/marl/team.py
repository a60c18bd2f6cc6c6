"""What every team algorithm shares: how its networks are shared between agents, the
checks of its spaces and settings, and an observation to initialise its networks."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from ascent.algos.networks import check_on_policy_spaces
from ascent.envs.multiagent import AgentObs, MultiAgentSpaces
from ascent.envs.spaces import check_space
from ascent.errors import ConfigError


@dataclass(frozen=True)
class TeamFields:
    """The settings of a team's networks, beside an algorithm's own."""

    share_parameters: bool = True
    """One network (per role: actor, critic) for all agents instead of one per agent."""
    agent_ids: bool = True
    """With shared parameters, append each agent's one-hot id to its inputs."""

    def check_team(self) -> None:
        """ConfigError for a setting that only a single agent supports."""
        if getattr(self, "normalize_obs", False) or getattr(self, "normalize_reward", False):
            raise ConfigError(
                "normalize_obs and normalize_reward are single-agent for now; set both false "
                "for a team's algorithm"
            )


def check_team_spaces(name: str, spaces: MultiAgentSpaces) -> None:
    """EnvError unless the agents observe a Box and choose among Discrete actions."""
    check_on_policy_spaces(name, spaces.observation_space, spaces.action_space)
    check_space(spaces.action_space, allowed=("Discrete",), who=name)


def example_obs(spaces: MultiAgentSpaces) -> AgentObs:
    """An all-zero team observation [1, 1, A, ...] (one step of one environment) to
    initialise networks with."""
    return jax.tree.map(lambda x: np.asarray(x)[None], spaces.zeros(1))
