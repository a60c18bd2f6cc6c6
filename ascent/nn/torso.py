"""Feature extractors ("torsos") shared by policies and critics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax

from ascent.nn.products import dense_dot_general

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": nn.tanh,
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
}


HIDDEN_GAIN = 2.0**0.5
"""The hidden layers' default orthogonal gain (`dense`; the config's `hidden_gain`)."""


def dense(features: int, scale: float = HIDDEN_GAIN, name: str | None = None) -> nn.Dense:
    """A dense layer with orthogonal weights of the given gain and zero bias.

    Orthogonal initialisation with gain √2 for hidden layers, 0.01 for the policy
    output and 1 for the value output follows Andrychowicz et al. 2021 ("What matters
    in on-policy RL", §3.2) and Stable-Baselines3's defaults.
    """
    return nn.Dense(
        features,
        kernel_init=nn.initializers.orthogonal(scale),
        bias_init=nn.initializers.zeros,
        name=name,
        dot_general=dense_dot_general,
    )


class MLP(nn.Module):
    """Fully connected torso: features [..., D] -> features [..., hidden[-1]].

    Observations reach it through their encoder (`ascent.nn.encoders.encode`).
    """

    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    gain: float = HIDDEN_GAIN
    """The orthogonal initialisation's gain of every layer (`dense`)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(dense(width, self.gain)(x))
        return x
