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
from ascent.nn.heads import (
    HEADS,
    ActionSpec,
    CategoricalHead,
    GaussianHead,
    allowed_actions,
    masked,
    masked_logits,
)
from ascent.nn.multiagent import TeamActorCritic
from ascent.nn.policies import PolicyNet, QNet, ValueNet
from ascent.nn.torso import ACTIVATIONS, MLP, dense

__all__ = [
    "ACTIVATIONS",
    "HEADS",
    "ActionSpec",
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
    "apply_one_critic",
    "dense",
    "encode",
    "allowed_actions",
    "masked",
    "masked_logits",
    "rescale_action",
    "unit_action",
]
