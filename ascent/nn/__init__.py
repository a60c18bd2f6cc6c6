"""Flax networks: torsos, policy heads, critics."""

from ascent.nn.continuous import (
    DeterministicActor,
    SquashedGaussianActor,
    TwinQ,
    apply_one_critic,
    rescale_action,
    unit_action,
)
from ascent.nn.encoders import ENCODERS, ObsSpec, encode
from ascent.nn.heads import CategoricalHead, GaussianHead
from ascent.nn.multiagent import TeamActorCritic, masked_logits
from ascent.nn.policies import PolicyNet, QNet, ValueNet, action_head_size
from ascent.nn.torso import ACTIVATIONS, MLP, dense

__all__ = [
    "ACTIVATIONS",
    "ENCODERS",
    "MLP",
    "ObsSpec",
    "CategoricalHead",
    "DeterministicActor",
    "GaussianHead",
    "PolicyNet",
    "QNet",
    "SquashedGaussianActor",
    "TeamActorCritic",
    "TwinQ",
    "ValueNet",
    "action_head_size",
    "apply_one_critic",
    "dense",
    "encode",
    "masked_logits",
    "rescale_action",
    "unit_action",
]
