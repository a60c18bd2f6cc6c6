"""Environments through two doors: JAX-native (`JaxEnv`) and Gymnasium (`HostVecEnv`)."""

from __future__ import annotations

from ascent.envs.gymnax_env import GymnaxEnv
from ascent.envs.host import HostVecEnv
from ascent.envs.jax_env import EnvState, JaxEnv
from ascent.envs.registry import TASKS, door, is_jax_env, list_envs, make, register_task
from ascent.envs.spaces import action_dim, check_space, clip_action, is_discrete, obs_shape
from ascent.envs.tasks import Chain

__all__ = [
    "TASKS",
    "Chain",
    "EnvState",
    "GymnaxEnv",
    "HostVecEnv",
    "JaxEnv",
    "action_dim",
    "check_space",
    "clip_action",
    "door",
    "is_discrete",
    "is_jax_env",
    "list_envs",
    "make",
    "obs_shape",
    "register_task",
]
