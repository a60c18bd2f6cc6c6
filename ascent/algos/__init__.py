"""Algorithms: one file each, a config, `init`, `act` and a pure `update`."""

from ascent.algos.a2c import A2C, A2CConfig
from ascent.algos.actor_critic import ActorCritic, ActorCriticConfig
from ascent.algos.ppo import PPO, PPOConfig
from ascent.algos.registry import ALGORITHMS, algorithm_class, make_config, preset
from ascent.algos.reinforce import Reinforce, ReinforceConfig
from ascent.algos.trpo import TRPO, TRPOConfig

__all__ = [
    "A2C",
    "ALGORITHMS",
    "PPO",
    "TRPO",
    "A2CConfig",
    "ActorCritic",
    "ActorCriticConfig",
    "PPOConfig",
    "Reinforce",
    "ReinforceConfig",
    "TRPOConfig",
    "algorithm_class",
    "make_config",
    "preset",
]
