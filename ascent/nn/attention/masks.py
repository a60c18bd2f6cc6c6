"""Attention masks: boolean, True where a query may attend to a key.

Masks broadcast to `[B, H, Tq, Tk]`; each helper returns the smallest shape that does
(`[1, 1, Tq, Tk]`, `[B, 1, 1, Tk]`, `[B, 1, Tq, Tk]`), and `combine_masks` ANDs them.
Queries are the last `Tq` of the `Tk` key positions when keys include a memory (the
keys are `[memory, current]`), so causal and window masks are aligned bottom-right.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def causal_mask(q_len: int, k_len: int) -> Array:
    """Query i (absolute position m + i, m = k_len - q_len) sees keys j <= m + i.

    Returns [1, 1, Tq, Tk]. With q_len == k_len this is the usual lower triangle.
    """
    i = jnp.arange(q_len)[:, None] + (k_len - q_len)
    j = jnp.arange(k_len)[None, :]
    return (j <= i)[None, None]


def window_mask(q_len: int, k_len: int, window: int) -> Array:
    """Query i (absolute m + i) sees keys j >= m + i - window: itself and `window` before.

    Returns [1, 1, Tq, Tk]. With `causal_mask` it is a sliding window of window + 1 keys,
    the same context a step-by-step encoder with a memory of `window` steps sees.
    """
    i = jnp.arange(q_len)[:, None] + (k_len - q_len)
    j = jnp.arange(k_len)[None, :]
    return (j >= i - window)[None, None]


def padding_mask(valid: Array) -> Array:
    """valid [B, Tk] bool (False for padding keys) -> [B, 1, 1, Tk]."""
    return jnp.asarray(valid, bool)[:, None, None, :]


def episode_ids(resets: Array, first: Array | int = 0) -> Array:
    """Episode counter per step: resets [B, T] bool (True on an episode's first step) -> [B, T].

    `first` [B] (or a scalar) is the id of the episode running before the first step;
    ids only need to differ between episodes of the same row.
    """
    return jnp.asarray(first, jnp.int32)[..., None] + jnp.cumsum(resets, axis=-1, dtype=jnp.int32)


def episode_mask(q_episode: Array, k_episode: Array) -> Array:
    """No attention across an episode reset: a query sees only keys of its own episode.

    q_episode [B, Tq], k_episode [B, Tk] integer episode ids (see `episode_ids`).
    Returns [B, 1, Tq, Tk].
    """
    return (q_episode[:, :, None] == k_episode[:, None, :])[:, None]


def combine_masks(*masks: Array | None) -> Array | None:
    """Logical AND of the given masks (None entries skipped; None if all are None)."""
    present = [jnp.asarray(m, bool) for m in masks if m is not None]
    if not present:
        return None
    out = present[0]
    for m in present[1:]:
        out = jnp.logical_and(out, m)
    return out


def masked_softmax(logits: Array, mask: Array | None) -> Array:
    """Softmax over the last axis of logits [..., Tk] where `mask` is True.

    A row with no visible key returns zeros, not NaN: masked logits are set to the
    smallest float (never -inf, so max-subtraction stays finite) and the row's output is
    zeroed with a `where`, which also keeps its gradient finite.
    """
    if mask is None:
        return jax.nn.softmax(logits, axis=-1)
    mask = jnp.broadcast_to(mask, logits.shape)
    logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    probs = jax.nn.softmax(logits, axis=-1)
    return jnp.where(mask.any(axis=-1, keepdims=True), probs, 0.0)
