"""A temporal convolution (TCN) memory core: causal dilated 1-D convolutions over time.

The course's CNN for sequences (Bai, Kolter & Koltun 2018, "An Empirical Evaluation of
Generic Convolutional and Recurrent Networks for Sequence Modeling"), with WaveNet's
doubling dilations (van den Oord et al. 2016). With h⁰_t = W_in x_t + b_in and, for
layers l = 1 .. L, dilation d_l = 2^(l-1) and kernel size 2,

    hˡ_t = hˡ⁻¹_t + ReLU(W_l [hˡ⁻¹_{t-d_l} ; hˡ⁻¹_t] + b_l),       y_t = hᴸ_t,

where hˡ⁻¹_s = 0 for a step s before the first step of t's episode (the TCN's causal
zero padding, at every layer, from each episode's start).

Receptive field, exactly: y_t depends on x_{t-j} for j = 0 .. 2^L − 1 and on nothing
else: R = 2^L steps of its own episode, itself included (fewer at an episode's start).
Every j in that range is reached, by the one path whose taps are j's binary digits.

Kernel size 2, not 3: with doubling dilations each offset j is reached by exactly one
path, so R = 2^L is a power of two with no overlap (k = 3 gives 2^(L+1) − 1 with many
paths per offset), at the fewest weights per layer (2E²); it is WaveNet's choice.
Residual connections as in the TCN paper (its §3.3), with the identity path kept clean
(the ReLU inside the branch, He et al. 2016, "Identity Mappings"): y_t keeps x_t
directly, and the gradient reaches the first layers. One convolution per residual
layer, where the TCN paper's block has two, and no weight norm or dropout: small RL
networks.

Parallel over time: a call over T steps computes each layer for all T steps at once
(one shifted copy and one dense layer per layer, no scan), O(T · L · E²). The state is
Fast WaveNet's cache (Paine et al. 2016): for layer l, its input at the last d_l steps
(2^L − 1 vectors of width E in all, zeros at an episode's start) and the number of steps
of the current episode so far, so acting one step costs O(L · E²) whatever R is, and one
call over T steps equals T calls of one step each, exactly.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


class ConvState(NamedTuple):
    """What the layers' taps still need from earlier calls.

    taps[l]: layer l+1's input hˡ at its last 2^l steps, oldest first [B, 2^l, E];
    zeros before the episode's start. age: steps of the current episode so far [B],
    int32, capped at the receptive field 2^L (older steps are never read).
    """

    taps: tuple[Array, ...]
    age: Array


class TemporalConv(nn.Module):
    """A TCN core of `num_layers` causal dilated convolutions of width `dim`.

    `__call__(state, x [B, T, F], resets [B, T]) -> (state, y [B, T, dim])`; y_t depends
    on the last `receptive_field` = 2^num_layers steps of its episode, itself included.
    """

    dim: int = 64
    num_layers: int = 4
    stateful: ClassVar[bool] = True

    @property
    def receptive_field(self) -> int:
        return 2**self.num_layers

    def initial_state(self, batch: int) -> ConvState:
        taps = tuple(
            jnp.zeros((batch, 2**l, self.dim), jnp.float32) for l in range(self.num_layers)
        )
        return ConvState(taps, jnp.zeros((batch,), jnp.int32))

    @nn.compact
    def __call__(self, state: ConvState, x: Array, resets: Array) -> tuple[ConvState, Array]:
        T = x.shape[1]
        t = jnp.arange(T)
        resets = jnp.asarray(resets, bool)
        last_start = jax.lax.cummax(jnp.where(resets, t, -1), axis=1)  # [B, T], -1: none
        # n[b, t]: steps of t's episode up to t, itself included; the step d back is of
        # the same episode iff d < n (a first call from the initial state has age 0).
        n = jnp.where(last_start >= 0, t - last_start, state.age[:, None] + t) + 1  # [B, T]
        h = nn.Dense(self.dim, name="embed")(x)  # [B, T, E]
        taps = []
        for l in range(self.num_layers):
            d = 2**l
            seq = jnp.concatenate([state.taps[l], h], axis=1)  # [B, d + T, E], steps -d .. T-1
            back = seq[:, :T] * (n > d)[..., None]  # hˡ at t - d, zero before the episode
            branch = nn.Dense(self.dim, name=f"conv_{l}")(jnp.concatenate([back, h], -1))
            # the last d steps, zeroed where they precede the last step's episode
            keep = (d - 1 - jnp.arange(d)) < n[:, -1:]  # [B, d]: d-1 .. 0 steps before it
            taps.append(seq[:, T:] * keep[..., None])
            h = h + nn.relu(branch)
        age = jnp.minimum(n[:, -1], self.receptive_field).astype(jnp.int32)
        return ConvState(tuple(taps), age), h
