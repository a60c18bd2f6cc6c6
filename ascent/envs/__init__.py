"""Environments through two doors: JAX-native (`JaxEnv`; `MultiAgentJaxEnv` for several
agents, `JaxMarlEnv` over JaxMARL) and Python (`HostVecEnv` over Gymnasium;
`PettingZooVecEnv` over PettingZoo for several agents); and the other way round, a JAX
task as a `gymnasium.Env` (`GymnasiumTask`) or a team task as a PettingZoo `ParallelEnv`
(`as_pettingzoo.PettingZooTeam`)."""

from __future__ import annotations

from ascent.envs.as_gymnasium import GymnasiumTask
from ascent.envs.gymnax_env import GymnaxEnv
from ascent.envs.host import HostVecEnv
from ascent.envs.jax_env import EnvState, JaxEnv
from ascent.envs.jaxmarl_env import JaxMarlEnv
from ascent.envs.multiagent import (
    AgentObs,
    MultiAgentJaxEnv,
    MultiAgentSpaces,
    check_multiagent_env,
    is_multiagent,
)
from ascent.envs.pettingzoo_env import PettingZooVecEnv
from ascent.envs.registry import TASKS, door, is_jax_env, list_envs, make, register_task
from ascent.envs.spaces import action_dim, check_space, env_action, is_discrete, obs_shape
from ascent.envs.tasks import Chain, DialLock, Switches

__all__ = [
    "Switches",
    "TASKS",
    "AgentObs",
    "Chain",
    "DialLock",
    "EnvState",
    "GymnasiumTask",
    "GymnaxEnv",
    "HostVecEnv",
    "JaxEnv",
    "JaxMarlEnv",
    "MultiAgentJaxEnv",
    "MultiAgentSpaces",
    "PettingZooVecEnv",
    "action_dim",
    "check_multiagent_env",
    "check_space",
    "env_action",
    "door",
    "is_discrete",
    "is_jax_env",
    "is_multiagent",
    "list_envs",
    "make",
    "obs_shape",
    "register_task",
]
