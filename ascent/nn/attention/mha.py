"""Multi-head attention with a pluggable score function and positional scheme."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import FrozenDict

from ascent.errors import ConfigError
from ascent.nn.attention.masks import masked_softmax
from ascent.nn.attention.positions import POSITIONS
from ascent.nn.attention.scores import SCORES

Array = jax.Array


def default_positions(q_len: int, k_len: int, batch: int) -> tuple[Array, Array]:
    """Keys at 0 .. Tk-1 and queries at the last Tq of them: ([B, Tq], [B, Tk]) int32."""
    k_pos = jnp.arange(k_len, dtype=jnp.int32)
    q_pos = k_pos[k_len - q_len :]
    return jnp.broadcast_to(q_pos, (batch, q_len)), jnp.broadcast_to(k_pos, (batch, k_len))


def check_choice(field: str, value: str, registry: Mapping[str, Any]) -> None:
    """ConfigError naming `field` unless `value` is a key of `registry`."""
    if value not in registry:
        raise ConfigError(f"{field}='{value}' is unknown; choose one of {', '.join(registry)}")


def check_attention(dim: int, num_heads: int, score: str, position: str) -> None:
    """ConfigError for an unknown score or position, or heads that do not split `dim` evenly."""
    check_choice("score", score, SCORES)
    check_choice("position", position, POSITIONS)
    if dim % num_heads or (dim // num_heads) % 2:
        raise ConfigError(f"dim={dim} must split into num_heads={num_heads} heads of an even size")


def freeze_options(module: nn.Module) -> None:
    """Store `score_options` and `position_options` as FrozenDicts, so the module hashes
    (a static argument of `jit`) even when they were given as dicts."""
    for field in ("score_options", "position_options"):
        object.__setattr__(module, field, FrozenDict(getattr(module, field)))


class MultiHeadAttention(nn.Module):
    """softmax(mask(score(q, k) + position bias)) (v + position values), over H heads.

    x [B, Tq, dim] attends to context [B, Tk, dim] (default: x itself):
    q, k, v = projections of the position-embedded inputs, [B, H, T, D] with D = dim / H;
    logits = score(q, k) + bias [B, H, Tq, Tk]; weights = masked softmax (fully masked rows
    give zeros); out = weights v + position values, heads concatenated and projected back
    to dim (Vaswani et al. 2017, §3.2). Parameters are named as in flax's
    `MultiHeadDotProductAttention` (query, key, value, out), so with `score="scaled_dot"`
    and `position="none"` the two compute the same function of the same weights.

    `score` and `position` name entries of `SCORES` and `POSITIONS`; `score_options` and
    `position_options` are keyword options for their constructors (e.g. `{"temperature":
    0.05}`, `{"max_distance": 8}`, `{"max_len": 1000}`). `dropout` applies to the weights.
    """

    dim: int
    num_heads: int
    score: str = "scaled_dot"
    position: str = "none"
    dropout: float = 0.0
    use_bias: bool = True
    score_options: Mapping[str, Any] = FrozenDict()
    position_options: Mapping[str, Any] = FrozenDict()

    def __post_init__(self) -> None:
        check_attention(self.dim, self.num_heads, self.score, self.position)
        freeze_options(self)
        super().__post_init__()

    def setup(self) -> None:
        heads = (self.num_heads, self.dim // self.num_heads)
        self.query = nn.DenseGeneral(heads, use_bias=self.use_bias)
        self.key = nn.DenseGeneral(heads, use_bias=self.use_bias)
        self.value = nn.DenseGeneral(heads, use_bias=self.use_bias)
        self.out = nn.DenseGeneral(self.dim, axis=(-2, -1), use_bias=self.use_bias)
        self.score_fn = SCORES[self.score](**self.score_options)
        self.positions = POSITIONS[self.position](
            dim=self.dim, num_heads=self.num_heads, **self.position_options
        )
        self.weights_dropout = nn.Dropout(self.dropout)

    def _project(
        self, x: Array, context: Array | None, q_pos: Array | None, k_pos: Array | None
    ) -> tuple[Array, Array, Array, Array, Array]:
        context = x if context is None else context
        if q_pos is None or k_pos is None:
            q_pos, k_pos = default_positions(x.shape[1], context.shape[1], x.shape[0])
        q_pos = jnp.broadcast_to(q_pos, x.shape[:2])
        k_pos = jnp.broadcast_to(k_pos, context.shape[:2])
        x = self.positions.embed(x, q_pos)
        context = self.positions.embed(context, k_pos)
        # [B, T, H, D] -> [B, H, T, D]
        q = self.query(x).transpose(0, 2, 1, 3)
        k = self.key(context).transpose(0, 2, 1, 3)
        v = self.value(context).transpose(0, 2, 1, 3)
        q, k = self.positions.rotate(q, k, q_pos, k_pos)
        return q, k, v, q_pos, k_pos

    def logits(
        self,
        x: Array,
        context: Array | None = None,
        *,
        q_pos: Array | None = None,
        k_pos: Array | None = None,
    ) -> Array:
        """The attention logits [B, H, Tq, Tk] before the mask: score + position bias."""
        q, k, _, q_pos, k_pos = self._project(x, context, q_pos, k_pos)
        return self.score_fn(q, k) + self.positions.bias(q, k, q_pos, k_pos)

    def __call__(
        self,
        x: Array,
        context: Array | None = None,
        *,
        mask: Array | None = None,
        q_pos: Array | None = None,
        k_pos: Array | None = None,
        deterministic: bool = True,
    ) -> Array:
        """x [B, Tq, dim], context [B, Tk, dim] -> [B, Tq, dim].

        mask: bool, broadcastable to [B, H, Tq, Tk], True where a query may attend.
        q_pos [B, Tq], k_pos [B, Tk]: integer positions (default: keys 0 .. Tk-1, queries
        the last Tq of them). Dropout on the weights needs the "dropout" rng when
        `deterministic` is False.
        """
        q, k, v, q_pos, k_pos = self._project(x, context, q_pos, k_pos)
        logits = self.score_fn(q, k) + self.positions.bias(q, k, q_pos, k_pos)  # [B, H, Tq, Tk]
        weights = masked_softmax(logits, mask)
        weights = self.weights_dropout(weights, deterministic=deterministic)
        out = jnp.einsum("bhqk,bhkd->bhqd", weights, v)
        out = out + self.positions.values(weights, q_pos, k_pos)  # [B, H, Tq, D]
        return self.out(out.transpose(0, 2, 1, 3))  # [B, Tq, H, D] -> [B, Tq, dim]
