"""Training loops: the only place that steps environments during training."""

from __future__ import annotations

from ascent.algos.protocol import Algorithm
from ascent.envs import HostVecEnv, JaxEnv
from ascent.errors import ConfigError
from ascent.train.loop import Loop, LoopState
from ascent.train.offpolicy import OffPolicyLoop, TeamReplayLoop
from ascent.train.onpolicy import OnPolicyLoop
from ascent.train.workers import AsyncOnPolicyLoop

LOOPS: dict[str, type] = {
    "on-policy": OnPolicyLoop,
    "off-policy": OffPolicyLoop,
    "asynchronous": AsyncOnPolicyLoop,
}


def make_loop(algorithm: Algorithm, env: JaxEnv | HostVecEnv) -> Loop:
    """The loop an algorithm trains with, chosen by its `kind` (a team's off-policy
    algorithm collects as on-policy teams do: `TeamReplayLoop`)."""
    if algorithm.kind == "off-policy" and algorithm.multi_agent:
        return TeamReplayLoop(algorithm, env)
    if algorithm.kind not in LOOPS:
        raise ConfigError(f"{algorithm.name}: no training loop for kind {algorithm.kind!r}")
    return LOOPS[algorithm.kind](algorithm, env)


__all__ = [
    "LOOPS",
    "AsyncOnPolicyLoop",
    "Loop",
    "LoopState",
    "OffPolicyLoop",
    "OnPolicyLoop",
    "TeamReplayLoop",
    "make_loop",
]
