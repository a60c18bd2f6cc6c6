"""Transformer blocks (pre-LN, post-LN or none; residual or GRU gating) and a memory encoder.

The encoder acts step by step the way Transformer-XL and GTrXL do: each layer keeps the
inputs it saw at the last M steps (its "memory", Dai et al. 2019 §3.2) and attends over
[memory, current steps]. Its full-sequence forward uses the same sliding window of M past
steps, so one call over T steps equals T calls of one step each, and training on chunks
of a rollout sees exactly the context acting saw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import FrozenDict

from ascent.errors import ConfigError
from ascent.nn.attention.masks import causal_mask, episode_mask, window_mask
from ascent.nn.attention.mha import (
    MultiHeadAttention,
    check_attention,
    check_choice,
    freeze_options,
)

Array = jax.Array
Sublayer = Callable[[Array, Array], Array]
Gate = Callable[[Array, Array], Array]
Norm = Callable[[Array], Array]


def residual(x: Array, y: Array) -> Array:
    """The plain residual connection x + y."""
    return x + y


class GRUGate(nn.Module):
    """GTrXL's GRU-type gate g(x, y) of the residual stream x and a sublayer's output y.

    Parisotto et al. 2019, §3.2: r = σ(W_r y + U_r x), z = σ(W_z y + U_z x - b_g),
    ĥ = tanh(W_g y + U_g (r ⊙ x)), g(x, y) = (1 - z) ⊙ x + z ⊙ ĥ. With b_g > 0 (`gate_bias`,
    2 by default) z starts small, so the block starts near the identity map. y passes a
    ReLU first, as in GTrXL's Y = g(E, ReLU(Ȳ)).
    """

    gate_bias: float = 2.0

    @nn.compact
    def __call__(self, x: Array, y: Array) -> Array:
        dim = x.shape[-1]
        y = nn.relu(y)

        def dense(name: str) -> nn.Dense:
            return nn.Dense(dim, use_bias=False, name=name)

        b_g = self.param("b_g", nn.initializers.constant(self.gate_bias), (dim,))
        r = nn.sigmoid(dense("w_r")(y) + dense("u_r")(x))
        z = nn.sigmoid(dense("w_z")(y) + dense("u_z")(x) - b_g)
        h = jnp.tanh(dense("w_g")(y) + dense("u_g")(r * x))
        return (1.0 - z) * x + z * h


def pre_norm(x: Array, context: Array, sublayer: Sublayer, norm: Norm, gate: Gate) -> Array:
    """gate(x, f(LN(x), LN(context))): the stream x is never normalised (GPT-2, nanoGPT)."""
    return gate(x, sublayer(norm(x), norm(context)))


def post_norm(x: Array, context: Array, sublayer: Sublayer, norm: Norm, gate: Gate) -> Array:
    """LN(gate(x, f(x, context))): the original Transformer (Vaswani et al. 2017, §3.1)."""
    return norm(gate(x, sublayer(x, context)))


def no_norm(x: Array, context: Array, sublayer: Sublayer, norm: Norm, gate: Gate) -> Array:
    """gate(x, f(x, context)), no layer norm anywhere: the ablation that measures what
    layer norm does (the claims lab, benchmarks/claims_lab/heads_norm.py)."""
    del norm
    return gate(x, sublayer(x, context))


NORMS: dict[str, Callable[[Array, Array, Sublayer, Norm, Gate], Array]] = {
    "pre": pre_norm,
    "post": post_norm,
    "none": no_norm,
}
"""Where layer norm goes around a sublayer (or nowhere)."""

GATES: dict[str, Callable[..., Gate]] = {
    "residual": lambda gate_bias: residual,
    "gru": GRUGate,
}
"""How a sublayer's output joins the stream; constructors take `gate_bias`."""


def check_block(module: TransformerBlock | TransformerEncoder) -> None:
    """ConfigError naming the field for a bad choice of a block's parts, at construction."""
    check_attention(module.dim, module.num_heads, module.score, module.position)
    check_choice("norm", module.norm, NORMS)
    check_choice("gate", module.gate, GATES)


class TransformerBlock(nn.Module):
    """Attention then a two-layer MLP, each wrapped by `norm` placement and `gate`.

    x [B, T, dim] -> [B, T, dim]. `context` [B, Tk, dim] is what the attention reads keys
    and values from (default x; the encoder passes [memory, x]). With norm="pre" and
    gate="residual": y = x + attn(LN(x)), out = y + mlp(LN(y)); with norm="post":
    y = LN(x + attn(x)), out = LN(y + mlp(y)); with norm="none": y = x + attn(x),
    out = y + mlp(y).
    """

    dim: int
    num_heads: int
    mlp_dim: int | None = None
    score: str = "scaled_dot"
    position: str = "none"
    norm: str = "pre"
    gate: str = "residual"
    dropout: float = 0.0
    gate_bias: float = 2.0
    score_options: Mapping[str, Any] = FrozenDict()
    position_options: Mapping[str, Any] = FrozenDict()

    def __post_init__(self) -> None:
        check_block(self)
        freeze_options(self)
        super().__post_init__()

    def setup(self) -> None:
        self.attn = MultiHeadAttention(
            self.dim,
            self.num_heads,
            score=self.score,
            position=self.position,
            dropout=self.dropout,
            score_options=self.score_options,
            position_options=self.position_options,
        )
        self.mlp_in = nn.Dense(self.mlp_dim or 4 * self.dim)
        self.mlp_out = nn.Dense(self.dim)
        self.ln_attn = nn.LayerNorm()
        self.ln_mlp = nn.LayerNorm()
        self.gate_attn = GATES[self.gate](gate_bias=self.gate_bias)
        self.gate_mlp = GATES[self.gate](gate_bias=self.gate_bias)
        self.place = NORMS[self.norm]
        self.sublayer_dropout = nn.Dropout(self.dropout)

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
        context = x if context is None else context

        def attend(h: Array, c: Array) -> Array:
            out = self.attn(h, c, mask=mask, q_pos=q_pos, k_pos=k_pos, deterministic=deterministic)
            return self.sublayer_dropout(out, deterministic=deterministic)

        def mlp(h: Array, c: Array) -> Array:
            del c
            out = self.mlp_out(nn.gelu(self.mlp_in(h)))
            return self.sublayer_dropout(out, deterministic=deterministic)

        y = self.place(x, context, attend, self.ln_attn, self.gate_attn)
        return self.place(y, y, mlp, self.ln_mlp, self.gate_mlp)


class Memory(NamedTuple):
    """What a `TransformerEncoder` carries between calls, batch-first, oldest step first.

    hidden [B, L, M, dim]: each layer's input at the last M steps; positions [B, M] int32:
    each stored step's position in its episode; episode [B, M] int32: an episode counter;
    valid [B, M] bool: False for empty slots.
    """

    hidden: Array
    positions: Array
    episode: Array
    valid: Array


def init_memory(batch: int, num_layers: int, memory_len: int, dim: int) -> Memory:
    """An empty memory (every slot invalid) for `batch` rows."""
    return Memory(
        hidden=jnp.zeros((batch, num_layers, memory_len, dim), jnp.float32),
        positions=jnp.zeros((batch, memory_len), jnp.int32),
        episode=jnp.zeros((batch, memory_len), jnp.int32),
        valid=jnp.zeros((batch, memory_len), bool),
    )


def reset_memory(memory: Memory, *, terminated: Array, truncated: Array) -> Memory:
    """Empty the rows whose episode ended, terminated or truncated [B] (the same effect
    as a reset flag on the next step: a new episode attends to nothing before it)."""
    ended = jnp.logical_or(jnp.asarray(terminated, bool), jnp.asarray(truncated, bool))
    return memory._replace(valid=jnp.logical_and(memory.valid, ~ended[:, None]))


def _steps(memory: Memory, resets: Array) -> tuple[Array, Array]:
    """Episode ids and in-episode positions [B, T] of the new steps, continuing `memory`.

    A row whose newest memory slot is empty starts a new episode at its first step.
    """
    t = jnp.arange(resets.shape[1])
    fresh = ~memory.valid[:, -1]
    starts = resets.at[:, 0].set(jnp.logical_or(resets[:, 0], fresh))  # [B, T]
    episode = memory.episode[:, -1:] + jnp.cumsum(starts, axis=1, dtype=jnp.int32)
    last_start = jax.lax.cummax(jnp.where(starts, t, -1), axis=1)  # [B, T], -1 = none yet
    continued = memory.positions[:, -1:] + 1 + t
    positions = jnp.where(last_start >= 0, t - last_start, continued).astype(jnp.int32)
    return episode, positions


class TransformerEncoder(nn.Module):
    """A stack of `TransformerBlock`s with a memory of M steps per layer, for acting.

    `__call__(x [B, T, F], memory, resets [B, T]) -> (y [B, T, dim], memory')`. `x` is
    embedded by a dense layer; `resets[b, t]` is True when step t of row b is the first
    step of a new episode (Stable-Baselines3's `episode_starts`). Each query at step t
    attends to the steps t - M .. t of its own episode (causal, a window of M, no
    attention across a reset), read from the memory and the current call alike; a step's
    position is its index within its episode. The new memory holds each layer's input at
    the last M steps; memories are treated as constants (stop-gradient, Dai et al. 2019).

    So the same weights serve acting (T = 1, memory carried between env steps) and
    training on chunks (T steps, the memory stored at the chunk's start), and one call
    over T steps equals T calls over one step each. A pre-LN stack ends with a final LN.
    """

    dim: int
    num_layers: int
    num_heads: int
    memory_len: int
    mlp_dim: int | None = None
    score: str = "scaled_dot"
    position: str = "none"
    norm: str = "pre"
    gate: str = "residual"
    dropout: float = 0.0
    gate_bias: float = 2.0
    score_options: Mapping[str, Any] = FrozenDict()
    position_options: Mapping[str, Any] = FrozenDict()

    def __post_init__(self) -> None:
        if self.memory_len < 1 or self.num_layers < 1:
            raise ConfigError(
                f"memory_len={self.memory_len} and num_layers={self.num_layers} must be >= 1"
            )
        check_block(self)
        freeze_options(self)
        super().__post_init__()

    def setup(self) -> None:
        self.embed = nn.Dense(self.dim)
        self.blocks = [
            TransformerBlock(
                self.dim,
                self.num_heads,
                mlp_dim=self.mlp_dim,
                score=self.score,
                position=self.position,
                norm=self.norm,
                gate=self.gate,
                dropout=self.dropout,
                gate_bias=self.gate_bias,
                score_options=self.score_options,
                position_options=self.position_options,
            )
            for _ in range(self.num_layers)
        ]
        # A pre-LN stream is never normalised inside the blocks (GPT-2's ln_f);
        # a post-LN block already ends with one; norm="none" has none at all.
        self.final_norm = nn.LayerNorm() if self.norm == "pre" else (lambda h: h)

    def initial_memory(self, batch: int) -> Memory:
        """An empty memory for `batch` rows (needs no parameters)."""
        return init_memory(batch, self.num_layers, self.memory_len, self.dim)

    def __call__(
        self,
        x: Array,
        memory: Memory,
        resets: Array | None = None,
        *,
        deterministic: bool = True,
    ) -> tuple[Array, Memory]:
        batch, steps = x.shape[:2]
        m = self.memory_len
        resets = jnp.zeros((batch, steps), bool) if resets is None else jnp.asarray(resets, bool)
        episode, positions = _steps(memory, resets)  # [B, T]
        k_episode = jnp.concatenate([memory.episode, episode], axis=1)  # [B, M+T]
        k_pos = jnp.concatenate([memory.positions, positions], axis=1)
        k_valid = jnp.concatenate([memory.valid, jnp.ones((batch, steps), bool)], axis=1)
        mask = (
            causal_mask(steps, m + steps)
            & window_mask(steps, m + steps, m)
            & episode_mask(episode, k_episode)
            & k_valid[:, None, None, :]
        )  # [B, 1, T, M+T]

        h = self.embed(x)  # [B, T, dim]
        hidden = jax.lax.stop_gradient(memory.hidden)
        new_hidden = []
        for layer, block in enumerate(self.blocks):
            context = jnp.concatenate([hidden[:, layer], h], axis=1)  # [B, M+T, dim]
            new_hidden.append(context[:, -m:])
            h = block(
                h, context, mask=mask, q_pos=positions, k_pos=k_pos, deterministic=deterministic
            )
        new_memory = Memory(
            hidden=jnp.stack(new_hidden, axis=1),
            positions=k_pos[:, -m:],
            episode=k_episode[:, -m:],
            valid=k_valid[:, -m:],
        )
        return self.final_norm(h), new_memory
