"""Attention score functions, one signature: `(q, k) -> scores`.

q [B, H, Tq, D], k [B, H, Tk, D] -> scores [B, H, Tq, Tk] (logits before the mask and
the softmax). Parameter-free scores are plain functions; scores with parameters are small
flax modules whose per-head parameters take their shapes from q and k. `SCORES` maps a
name to a constructor taking keyword options, called once when a layer is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
ScoreFn = Callable[[Array, Array], Array]


def dot(q: Array, k: Array) -> Array:
    """qᵀk (Luong et al. 2015, "dot")."""
    return jnp.einsum("bhqd,bhkd->bhqk", q, k)


def scaled_dot(q: Array, k: Array) -> Array:
    """qᵀk / √D (Vaswani et al. 2017, eq. 1)."""
    return dot(q, k) / math.sqrt(q.shape[-1])


def euclidean(q: Array, k: Array) -> Array:
    """-‖q - k‖² / √D: nearer keys score higher (an RBF kernel's log in the softmax).

    Expanded as 2qᵀk - ‖q‖² - ‖k‖², so no [B, H, Tq, Tk, D] difference tensor is built.
    """
    q2 = jnp.sum(q * q, axis=-1)[..., :, None]  # [B, H, Tq, 1]
    k2 = jnp.sum(k * k, axis=-1)[..., None, :]  # [B, H, 1, Tk]
    return (2.0 * dot(q, k) - q2 - k2) / math.sqrt(q.shape[-1])


def _unit(x: Array, eps: float = 1e-6) -> Array:
    return x * jax.lax.rsqrt(jnp.sum(x * x, axis=-1, keepdims=True) + eps)


class Cosine(nn.Module):
    """cos(q, k) / τ, with τ per head learned (log-parametrised) or fixed.

    Cosine similarity lies in [-1, 1], so the temperature sets how peaked the softmax can
    get (scaled cosine attention, Liu et al. 2022, Swin v2 §3.2; Henry et al. 2020).
    """

    temperature: float = 0.1
    learnable: bool = True

    @nn.compact
    def __call__(self, q: Array, k: Array) -> Array:
        cos = dot(_unit(q), _unit(k))  # [B, H, Tq, Tk]
        if not self.learnable:
            return cos / self.temperature
        init = nn.initializers.constant(-math.log(self.temperature))
        log_inv_tau = self.param("log_inv_temperature", init, (q.shape[1],))  # [H]
        return cos * jnp.exp(log_inv_tau)[None, :, None, None]


class Additive(nn.Module):
    """vᵀ tanh(W_q q + W_k k) per head (Bahdanau et al. 2015, eq. in §A.1.2).

    `features` is the hidden size A (default D). Builds a [B, H, Tq, Tk, A] tensor: the
    price of a non-bilinear score.
    """

    features: int | None = None

    @nn.compact
    def __call__(self, q: Array, k: Array) -> Array:
        heads, d = q.shape[1], q.shape[-1]
        a = self.features or d
        init = nn.initializers.lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(0,))
        w_q = self.param("w_q", init, (heads, d, a))
        w_k = self.param("w_k", init, (heads, d, a))
        v = self.param("v", nn.initializers.lecun_normal(batch_axis=(0,)), (heads, a, 1))
        qa = jnp.einsum("bhqd,hda->bhqa", q, w_q)
        ka = jnp.einsum("bhkd,hda->bhka", k, w_k)
        hidden = jnp.tanh(qa[:, :, :, None, :] + ka[:, :, None, :, :])  # [B, H, Tq, Tk, A]
        return jnp.einsum("bhqka,ha->bhqk", hidden, v[..., 0])


class Multiplicative(nn.Module):
    """qᵀ W k with one D × D matrix W per head (Luong et al. 2015, "general").

    W starts at I / √D, so the score starts equal to `scaled_dot` and learns from there.
    """

    @nn.compact
    def __call__(self, q: Array, k: Array) -> Array:
        heads, d = q.shape[1], q.shape[-1]

        def init(key: Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Array:
            del key
            return jnp.broadcast_to(jnp.eye(d, dtype=dtype) / math.sqrt(d), shape)

        w = self.param("w", init, (heads, d, d))
        return jnp.einsum("bhqd,hde,bhke->bhqk", q, w, k)


SCORES: dict[str, Callable[..., ScoreFn]] = {
    "dot": lambda: dot,
    "scaled_dot": lambda: scaled_dot,
    "cosine": Cosine,
    "additive": Additive,
    "multiplicative": Multiplicative,
    "euclidean": lambda: euclidean,
}
"""Score name -> constructor (keyword options, e.g. `Cosine(temperature=0.05)`)."""
