"""Policy heads: features -> an action distribution from `ascent.core.distributions`."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ascent.core.distributions import Categorical, DiagGaussian
from ascent.nn.torso import dense


class CategoricalHead(nn.Module):
    """Logits over `n_actions` discrete actions (output gain 0.01: a near-uniform start)."""

    n_actions: int

    @nn.compact
    def __call__(self, features: jax.Array) -> Categorical:
        return Categorical(logits=dense(self.n_actions, scale=0.01)(features))


class GaussianHead(nn.Module):
    """Diagonal Gaussian over `action_dim` continuous actions.

    The log standard deviation is either a free parameter shared by all states
    (`state_dependent_std=False`, as in Schulman et al. 2017's continuous PPO) or a
    second linear output of the features.
    """

    action_dim: int
    state_dependent_std: bool = False
    log_std_init: float = 0.0

    @nn.compact
    def __call__(self, features: jax.Array) -> DiagGaussian:
        mean = dense(self.action_dim, scale=0.01)(features)
        if self.state_dependent_std:
            log_std = dense(self.action_dim, scale=0.01)(features) + self.log_std_init
        else:
            log_std = self.param(
                "log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,)
            )
            log_std = jnp.broadcast_to(log_std, mean.shape)
        return DiagGaussian(mean=mean, log_std=log_std)
