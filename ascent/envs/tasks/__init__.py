"""Ascent's own JAX tasks, each behind the `JaxEnv` protocol."""

from __future__ import annotations

from ascent.envs.tasks.chain import Chain, ChainState
from ascent.envs.tasks.repeat import RepeatFirst, RepeatPrevious, RepeatState
from ascent.envs.tasks.tmaze import TMaze, TMazeState

__all__ = [
    "Chain",
    "ChainState",
    "RepeatFirst",
    "RepeatPrevious",
    "RepeatState",
    "TMaze",
    "TMazeState",
]
