"""Training loops: the only place that steps environments during training."""

from __future__ import annotations

from ascent.algos.protocol import Algorithm
from ascent.envs import HostVecEnv, JaxEnv
from ascent.errors import ConfigError
from ascent.train.asynchronous import AsyncOnPolicyLoop
from ascent.train.loop import Loop, LoopState
from ascent.train.offpolicy import OffPolicyLoop
from ascent.train.onpolicy import OnPolicyLoop

LOOPS: dict[str, type] = {
    "on-policy": OnPolicyLoop,
    "off-policy": OffPolicyLoop,
    "asynchronous": AsyncOnPolicyLoop,
}


def make_loop(algorithm: Algorithm, env: JaxEnv | HostVecEnv) -> Loop:
    """The loop an algorithm trains with, chosen by its `kind` ("on-policy" by default)."""
    kind = getattr(algorithm, "kind", "on-policy")
    if kind not in LOOPS:
        raise ConfigError(f"{algorithm.name}: no training loop for kind {kind!r}")
    return LOOPS[kind](algorithm, env)


__all__ = [
    "LOOPS",
    "AsyncOnPolicyLoop",
    "Loop",
    "LoopState",
    "OffPolicyLoop",
    "OnPolicyLoop",
    "make_loop",
]
