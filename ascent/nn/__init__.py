"""Flax networks: torsos, policy heads, critics."""

from ascent.nn.heads import CategoricalHead, GaussianHead
from ascent.nn.policies import ActorCriticNet, PolicyNet, QNet, ValueNet, action_head_size
from ascent.nn.torso import ACTIVATIONS, MLP, dense, flatten_obs

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "ActorCriticNet",
    "CategoricalHead",
    "GaussianHead",
    "PolicyNet",
    "QNet",
    "ValueNet",
    "action_head_size",
    "dense",
    "flatten_obs",
]
