"""Data storage: on-policy rollouts and the off-policy replay buffer."""

from ascent.buffers.replay import (
    ReplayBuffer,
    Transitions,
    flatten_steps,
    replay_add,
    replay_init,
    replay_like,
    replay_sample,
)
from ascent.buffers.rollout import Rollout, RolloutBuffer, set_row

__all__ = [
    "ReplayBuffer",
    "Rollout",
    "RolloutBuffer",
    "Transitions",
    "flatten_steps",
    "replay_add",
    "replay_init",
    "replay_like",
    "replay_sample",
    "set_row",
]
