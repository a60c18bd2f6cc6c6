"""Multi-agent algorithms: learners for a team whose agents are an axis of every array
(`[T, N, A, ...]`), built on the single-agent maths of `ascent.core` and the loops of
`ascent.train`."""

from ascent.marl.coma import COMA, COMAConfig
from ascent.marl.maddpg import MADDPG, MADDPGConfig
from ascent.marl.mappo import IPPO, MAPPO, IPPOConfig, MAPPOConfig
from ascent.marl.value_decomposition import QMIX, VDN, QMIXConfig, VDNConfig

__all__ = [
    "COMA",
    "IPPO",
    "MADDPG",
    "MAPPO",
    "QMIX",
    "VDN",
    "COMAConfig",
    "IPPOConfig",
    "MADDPGConfig",
    "MAPPOConfig",
    "QMIXConfig",
    "VDNConfig",
]
