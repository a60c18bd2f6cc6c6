"""Algorithms: one file each, a config, `init`, `act` and a pure `update`. The registry
by name is `ascent.catalog` (a layer above: it also names the team algorithms of
`ascent.marl`, which build on these)."""

from ascent.algos.a2c import A2C, A2CConfig
from ascent.algos.actor_critic import ActorCritic, ActorCriticConfig
from ascent.algos.ddpg import DDPG, DDPGConfig
from ascent.algos.naf import NAF, NAFConfig
from ascent.algos.offpolicy import OffPolicyConfig
from ascent.algos.ppo import PPO, PPOConfig
from ascent.algos.reinforce import Reinforce, ReinforceConfig
from ascent.algos.sac import SAC, SACConfig
from ascent.algos.td3 import TD3, TD3Config
from ascent.algos.trpo import TRPO, TRPOConfig

__all__ = [
    "A2C",
    "DDPG",
    "NAF",
    "PPO",
    "SAC",
    "TD3",
    "TRPO",
    "A2CConfig",
    "ActorCritic",
    "ActorCriticConfig",
    "DDPGConfig",
    "NAFConfig",
    "OffPolicyConfig",
    "PPOConfig",
    "Reinforce",
    "ReinforceConfig",
    "SACConfig",
    "TD3Config",
    "TRPOConfig",
]
