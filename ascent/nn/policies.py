"""Policies and critics for on-policy algorithms.

`PolicyNet` maps observations to an action distribution, `ValueNet` to V(s),
`QNet` to Q(s, ·) (Discrete) or Q(s, a) (Box), and `ActorCriticNet` puts a policy and a
V critic together with separate or shared trunks.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from ascent.core.distributions import Categorical, DiagGaussian
from ascent.nn.heads import CategoricalHead, GaussianHead
from ascent.nn.torso import MLP, dense, flatten_obs


def action_head_size(space: gym.Space) -> tuple[bool, int]:
    """(discrete, size): the number of actions of a Discrete space or the dimension of a Box."""
    if isinstance(space, gym.spaces.Discrete):
        return True, int(space.n)
    return False, int(np.prod(space.shape))


class PolicyNet(nn.Module):
    """obs [..., *obs_shape] -> Categorical or DiagGaussian over actions."""

    discrete: bool
    n_out: int
    obs_ndim: int = 1
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    state_dependent_std: bool = False
    log_std_init: float = 0.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> Categorical | DiagGaussian:
        features = MLP(self.hidden, self.activation)(flatten_obs(obs, self.obs_ndim))
        if self.discrete:
            return CategoricalHead(self.n_out)(features)
        return GaussianHead(self.n_out, self.state_dependent_std, self.log_std_init)(features)


class ValueNet(nn.Module):
    """obs [..., *obs_shape] -> V(s) [...]."""

    obs_ndim: int = 1
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        features = MLP(self.hidden, self.activation)(flatten_obs(obs, self.obs_ndim))
        return dense(1, scale=1.0)(features)[..., 0]


class QNet(nn.Module):
    """Action-value critic.

    Discrete (`n_actions` set): obs -> Q(s, ·) [..., n_actions], and with `action`
    given, Q(s, a) [...]. Box (`n_actions` None): Q(s, a) from the concatenation of
    the flattened observation and the action.
    """

    n_actions: int | None = None
    obs_ndim: int = 1
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array | None = None) -> jax.Array:
        x = flatten_obs(obs, self.obs_ndim)
        if self.n_actions is None:
            x = jnp.concatenate([x, jnp.asarray(action, jnp.float32)], axis=-1)
            return dense(1, scale=1.0)(MLP(self.hidden, self.activation)(x))[..., 0]
        q = dense(self.n_actions, scale=1.0)(MLP(self.hidden, self.activation)(x))
        if action is None:
            return q
        return jnp.take_along_axis(q, action[..., None].astype(jnp.int32), axis=-1)[..., 0]


class ActorCriticNet(nn.Module):
    """A policy and a V critic: `__call__(obs) -> (dist, value)`.

    With `shared_trunk=False` (the default, as in Stable-Baselines3's MlpPolicy) the
    parameters split into `actor` and `critic` subtrees, so each can get its own
    optimiser; with `shared_trunk=True` one MLP feeds both heads.
    """

    discrete: bool
    n_out: int
    obs_ndim: int = 1
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    shared_trunk: bool = False
    state_dependent_std: bool = False
    log_std_init: float = 0.0

    def setup(self) -> None:
        if self.shared_trunk:
            self.trunk = MLP(self.hidden, self.activation)
            if self.discrete:
                self.policy_head = CategoricalHead(self.n_out)
            else:
                self.policy_head = GaussianHead(
                    self.n_out, self.state_dependent_std, self.log_std_init
                )
            self.value_head = dense(1, scale=1.0)
        else:
            self.actor = PolicyNet(
                self.discrete,
                self.n_out,
                self.obs_ndim,
                self.hidden,
                self.activation,
                self.state_dependent_std,
                self.log_std_init,
            )
            self.critic = ValueNet(self.obs_ndim, self.hidden, self.activation)

    def __call__(self, obs: jax.Array) -> tuple[Categorical | DiagGaussian, jax.Array]:
        if self.shared_trunk:
            features = self.trunk(flatten_obs(obs, self.obs_ndim))
            return self.policy_head(features), self.value_head(features)[..., 0]
        return self.actor(obs), self.critic(obs)

    def dist(self, obs: jax.Array) -> Categorical | DiagGaussian:
        if self.shared_trunk:
            return self.policy_head(self.trunk(flatten_obs(obs, self.obs_ndim)))
        return self.actor(obs)

    def value(self, obs: jax.Array) -> jax.Array:
        if self.shared_trunk:
            return self.value_head(self.trunk(flatten_obs(obs, self.obs_ndim)))[..., 0]
        return self.critic(obs)
