"""Multi-agent algorithms: learners for a team whose agents are an axis of every array
(`[T, N, A, ...]`), built on the single-agent maths of `ascent.core` and the loops of
`ascent.train`."""

from ascent.marl.mappo import IPPO, MAPPO, IPPOConfig, MAPPOConfig

__all__ = ["IPPO", "MAPPO", "IPPOConfig", "MAPPOConfig"]
