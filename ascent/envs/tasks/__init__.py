"""Ascent's own JAX tasks, behind the `JaxEnv` protocol (the matrix games and
`Signalling` behind `MultiAgentJaxEnv`)."""

from __future__ import annotations

from ascent.envs.tasks.chain import Chain, ChainState
from ascent.envs.tasks.dial_lock import DialLock, LockState, Switches, SwitchState
from ascent.envs.tasks.lure import Lure, LureState
from ascent.envs.tasks.matrix_games import MatrixGame, climbing_game, penalty_game
from ascent.envs.tasks.repeat import RepeatFirst, RepeatPrevious, RepeatState
from ascent.envs.tasks.signalling import Signalling, SignallingState
from ascent.envs.tasks.tmaze import TMaze, TMazeState
from ascent.envs.tasks.two_goals import TwoGoals, TwoGoalsState

__all__ = [
    "Chain",
    "ChainState",
    "DialLock",
    "LockState",
    "Lure",
    "LureState",
    "MatrixGame",
    "RepeatFirst",
    "RepeatPrevious",
    "RepeatState",
    "Signalling",
    "SignallingState",
    "SwitchState",
    "Switches",
    "TMaze",
    "TMazeState",
    "TwoGoals",
    "TwoGoalsState",
    "climbing_game",
    "penalty_game",
]
