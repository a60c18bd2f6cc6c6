"""The networks an on-policy config describes, and the small pieces acting uses."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import jax

from ascent.algos.config import OnPolicyConfig
from ascent.envs.spaces import check_space
from ascent.errors import EnvError
from ascent.nn import ActionSpec, ObsSpec, PolicyNet
from ascent.nn.heads import ACTION_KINDS, mask_size
from ascent.nn.sequence import (
    SequenceActorCriticNet,
    SequencePolicyNet,
    SequenceValueNet,
)


def check_on_policy_spaces(
    name: str, observation_space: gym.Space, action_space: gym.Space
) -> None:
    """EnvError in one line for spaces an on-policy algorithm cannot take: observations of
    any space `nn.ObsSpec` takes; Discrete, Box, MultiDiscrete or MultiBinary actions."""
    check_observation_space(name, observation_space)
    check_space(action_space, allowed=tuple(t.__name__ for t in ACTION_KINDS), who=name)
    got = ObsSpec.of(observation_space).mask_shape
    if got is not None:  # a mask of one bit per action (a MultiDiscrete's: per value)
        size = mask_size(ActionSpec.of(action_space))
        if size is None or got != (size,):
            raise EnvError(
                f"{name}: the observation's action_mask {got} does not fit {action_space}; "
                "a Discrete(n) takes a mask of n, a MultiDiscrete(nvec) one of sum(nvec)"
            )


def check_observation_space(name: str, observation_space: gym.Space) -> None:
    """EnvError naming the algorithm and the path inside the space of what it cannot
    take (`ppo: obs['sensors'][1]: Sequence is not supported; ...`)."""
    try:
        ObsSpec.of(observation_space)
    except EnvError as e:
        raise EnvError(f"{name}: {e}") from None


def sample_action(dist: Any, key: jax.Array, deterministic: bool) -> tuple[jax.Array, jax.Array]:
    """(action, log π(action)): the mode when deterministic, else a sample."""
    action = dist.mode() if deterministic else dist.sample(key)
    return action, dist.log_prob(action)


def _policy_fields(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> dict[str, Any]:
    """The fields every policy network takes from a config and the spaces."""
    return {
        "action": ActionSpec.of(action_space),
        "obs_spec": ObsSpec.of(observation_space, config.torso),
        "hidden": config.hidden,
        "activation": config.activation,
        "state_dependent_std": config.state_dependent_std,
        "log_std_init": config.log_std_init,
        "hidden_gain": config.hidden_gain,
    }


def actor_critic_net(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> SequenceActorCriticNet:
    """The policy + V network of a config's network fields (shared trunk if it asks);
    with `core.kind=mlp` its parameters are those of the feed-forward net before cores."""
    return SequenceActorCriticNet(
        **_policy_fields(config, observation_space, action_space),
        shared_trunk=getattr(config, "shared_trunk", False),
        core=config.core,
    )


def sequence_policy_net(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> SequencePolicyNet:
    """The policy network alone, with the config's core (`policy`)."""
    return SequencePolicyNet(
        **_policy_fields(config, observation_space, action_space), core=config.core
    )


def sequence_value_net(config: OnPolicyConfig, observation_space: gym.Space) -> SequenceValueNet:
    """A V network with the config's core (`policy`)."""
    return SequenceValueNet(
        ObsSpec.of(observation_space, config.torso),
        config.hidden,
        config.activation,
        config.core,
        config.hidden_gain,
    )


def policy_net(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> PolicyNet:
    """The feed-forward policy network alone, for algorithms whose critic is separate."""
    return PolicyNet(**_policy_fields(config, observation_space, action_space))
