"""Networks for continuous control: deterministic and squashed-Gaussian actors, twin
Q critics, and rescaling between the unit box and an action space's bounds.

Actors act in the unit box [−1, 1]^D (a tanh output), critics take unit-box actions;
`rescale_action` / `unit_action` convert to and from the environment's bounds, so
every network sees the same scale whatever the space's bounds are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ascent.core.squashed import SquashedGaussian
from ascent.nn.encoders import ObsSpec, encode
from ascent.nn.policies import QNet
from ascent.nn.torso import MLP, dense

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # Stable-Baselines3's and the SAC authors' clip


def rescale_action(unit: ArrayLike, low: ArrayLike, high: ArrayLike) -> jax.Array:
    """[−1, 1] -> [low, high]: low + (u + 1)(high − low)/2, per component."""
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    return low + (jnp.asarray(unit) + 1.0) * 0.5 * (high - low)


def unit_action(action: ArrayLike, low: ArrayLike, high: ArrayLike) -> jax.Array:
    """[low, high] -> [−1, 1]: the inverse of `rescale_action`."""
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    return 2.0 * (jnp.asarray(action, jnp.float32) - low) / (high - low) - 1.0


class DeterministicActor(nn.Module):
    """μ(s): obs [..., *obs_shape] -> unit-box action tanh(·) [..., action_dim]."""

    action_dim: int
    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        features = MLP(self.hidden, self.activation)(encode(self.obs_spec, obs))
        return jnp.tanh(dense(self.action_dim, scale=1.0)(features))


class SquashedGaussianActor(nn.Module):
    """π(·|s) = tanh(N(μ(s), σ(s)²)): obs -> `SquashedGaussian` over the unit box.

    The mean and the log standard deviation are two linear outputs of one torso;
    log σ is clipped to [−20, 2] (Haarnoja et al. 2018; Stable-Baselines3).
    """

    action_dim: int
    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> SquashedGaussian:
        features = MLP(self.hidden, self.activation)(encode(self.obs_spec, obs))
        mean = dense(self.action_dim, scale=1.0)(features)
        log_std = dense(self.action_dim, scale=1.0)(features)
        return SquashedGaussian(mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX))


class TwinQ(nn.Module):
    """`n_critics` independent Q(s, a) networks evaluated together: (obs [..., *obs_shape],
    action [..., action_dim]) -> [n_critics, ...].

    Two critics and the minimum of their targets is TD3's clipped double Q-learning
    (Fujimoto et al. 2018, eq. 10), also used by SAC; `n_critics=1` is DDPG's critic.
    The critics share no weights (`nn.vmap` over independently initialised copies).
    """

    n_critics: int = 2
    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        critics = nn.vmap(
            QNet,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.n_critics,
        )
        return critics(None, self.obs_spec, self.hidden, self.activation)(obs, action)


def apply_one_critic(
    twin: TwinQ, params: Any, obs: jax.Array, action: jax.Array, index: int = 0
) -> jax.Array:
    """Q_index(s, a) [...] alone, from the twin's parameters.

    TD3's actor maximises Q_1 only (Fujimoto et al. 2018, Algorithm 1); applying the
    twin would compute both critics, and differentiate both, since they run as one
    batched network: this applies critic `index`'s slice of the parameters as a plain
    `QNet`.
    """
    one = jax.tree.map(lambda x: x[index], params["params"]["VmapQNet_0"])
    net = QNet(None, twin.obs_spec, twin.hidden, twin.activation)
    return net.apply({"params": one}, obs, action)
