"""Policies and critics for on-policy algorithms.

`PolicyNet` maps observations to an action distribution, `ValueNet` to V(s) and
`QNet` to Q(s, ·) (Discrete) or Q(s, a) (Box). On-policy algorithms put a policy and a V
critic together over a core (`nn.sequence.SequenceActorCriticNet`).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ascent.core.distributions import Categorical, DiagGaussian
from ascent.nn.encoders import ObsSpec, encode
from ascent.nn.heads import ActionSpec, with_mask
from ascent.nn.torso import HIDDEN_GAIN, MLP, dense


class PolicyNet(nn.Module):
    """obs [..., *obs_shape] -> the action distribution of `action`'s kind (`heads.py`)."""

    action: ActionSpec
    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    state_dependent_std: bool = False
    log_std_init: float = 0.0
    hidden_gain: float = HIDDEN_GAIN

    @nn.compact
    def __call__(self, obs: jax.Array) -> Categorical | DiagGaussian:
        features = MLP(self.hidden, self.activation, self.hidden_gain)(encode(self.obs_spec, obs))
        dist = self.action.head(self.state_dependent_std, self.log_std_init)(features)
        return with_mask(dist, self.obs_spec, obs, self.action)


class ValueNet(nn.Module):
    """obs [..., *obs_shape] -> V(s) [...]."""

    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    hidden_gain: float = HIDDEN_GAIN

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        features = MLP(self.hidden, self.activation, self.hidden_gain)(encode(self.obs_spec, obs))
        return dense(1, scale=1.0)(features)[..., 0]


class QNet(nn.Module):
    """Action-value critic.

    Discrete (`n_actions` set): obs -> Q(s, ·) [..., n_actions], and with `action`
    given, Q(s, a) [...]. Box (`n_actions` None): Q(s, a) from the concatenation of
    the flattened observation and the action.
    """

    n_actions: int | None = None
    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    hidden_gain: float = HIDDEN_GAIN

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array | None = None) -> jax.Array:
        x = encode(self.obs_spec, obs)
        mlp = MLP(self.hidden, self.activation, self.hidden_gain)
        if self.n_actions is None:
            x = jnp.concatenate([x, jnp.asarray(action, jnp.float32)], axis=-1)
            return dense(1, scale=1.0)(mlp(x))[..., 0]
        q = dense(self.n_actions, scale=1.0)(mlp(x))
        if action is None:
            return q
        return jnp.take_along_axis(q, action[..., None].astype(jnp.int32), axis=-1)[..., 0]
