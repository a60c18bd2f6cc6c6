"""Algorithms: one file each, a config, `init`, `act` and a pure `update`."""

from ascent.algos.a2c import A2C, A2CConfig
from ascent.algos.actor_critic import ActorCritic, ActorCriticConfig
from ascent.algos.ppo import PPO, PPOConfig
from ascent.algos.registry import ALGORITHMS, algorithm_class, make_config, preset
from ascent.algos.reinforce import Reinforce, ReinforceConfig

__all__ = [
    "A2C",
    "ALGORITHMS",
    "PPO",
    "A2CConfig",
    "ActorCritic",
    "ActorCriticConfig",
    "PPOConfig",
    "Reinforce",
    "ReinforceConfig",
    "algorithm_class",
    "make_config",
    "preset",
]
