"""Feature extractors ("torsos") shared by policies and critics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": nn.tanh,
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
}


def dense(features: int, scale: float = 2.0**0.5) -> nn.Dense:
    """A dense layer with orthogonal weights of the given gain and zero bias.

    Orthogonal initialisation with gain √2 for hidden layers, 0.01 for the policy
    output and 1 for the value output follows Andrychowicz et al. 2021 ("What matters
    in on-policy RL", §3.2) and Stable-Baselines3's defaults.
    """
    return nn.Dense(
        features, kernel_init=nn.initializers.orthogonal(scale), bias_init=nn.initializers.zeros
    )


class MLP(nn.Module):
    """Fully connected torso: obs [..., *obs_shape] -> features [..., hidden[-1]].

    Trailing observation dimensions beyond the batch are flattened by the caller
    (see `flatten_obs`); the MLP itself sees [..., D].
    """

    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(dense(width)(x))
        return x


def flatten_obs(obs: jax.Array, obs_ndim: int) -> jax.Array:
    """[..., *obs_shape] -> [..., prod(obs_shape)] as float32, obs_shape having obs_ndim dims."""
    obs = jnp.asarray(obs, jnp.float32)
    if obs_ndim == 1:
        return obs
    batch = obs.shape[: obs.ndim - obs_ndim]
    return obs.reshape(*batch, -1)
