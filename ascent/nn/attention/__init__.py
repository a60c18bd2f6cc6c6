"""Attention toolkit: score functions, positional schemes, masks, multi-head attention,
transformer blocks and a memory encoder for step-by-step acting.

Each choice is a registry entry picked when a layer is built (`SCORES`, `POSITIONS`,
`NORMS`, `GATES`); nothing branches on a name in a forward pass.
"""

from __future__ import annotations

from ascent.nn.attention.block import (
    GATES,
    NORMS,
    GRUGate,
    Memory,
    TransformerBlock,
    TransformerEncoder,
    init_memory,
    no_norm,
    post_norm,
    pre_norm,
    reset_memory,
    residual,
)
from ascent.nn.attention.masks import (
    causal_mask,
    combine_masks,
    episode_ids,
    episode_mask,
    masked_softmax,
    padding_mask,
    window_mask,
)
from ascent.nn.attention.mha import MultiHeadAttention
from ascent.nn.attention.positions import (
    POSITIONS,
    RELATIVE,
    XL,
    ALiBi,
    Learned,
    Position,
    RoPE,
    Shaw,
    Sinusoidal,
    sinusoid,
)
from ascent.nn.attention.scores import (
    SCORES,
    Additive,
    Cosine,
    Multiplicative,
    dot,
    euclidean,
    scaled_dot,
)

__all__ = [
    "GATES",
    "NORMS",
    "POSITIONS",
    "RELATIVE",
    "SCORES",
    "XL",
    "ALiBi",
    "Additive",
    "Cosine",
    "GRUGate",
    "Learned",
    "Memory",
    "MultiHeadAttention",
    "Multiplicative",
    "Position",
    "RoPE",
    "Shaw",
    "Sinusoidal",
    "TransformerBlock",
    "TransformerEncoder",
    "causal_mask",
    "combine_masks",
    "dot",
    "episode_ids",
    "episode_mask",
    "euclidean",
    "init_memory",
    "masked_softmax",
    "no_norm",
    "padding_mask",
    "post_norm",
    "pre_norm",
    "reset_memory",
    "residual",
    "scaled_dot",
    "sinusoid",
    "window_mask",
]
