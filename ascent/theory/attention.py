"""How saturated a freshly initialised attention layer's softmax is, and what gradient
passes back through it, for any score function of `ascent.nn.attention.SCORES`.

Vaswani et al. (2017, §3.2.1 and footnote 4): if the components of q and k are
independent with mean 0 and variance 1, q·k = Σ_{i<d_k} q_i k_i has mean 0 and variance
d_k, so for large d_k the dot products grow large and push the softmax into regions where
it has extremely small gradients; dividing by √d_k brings the variance back to 1. Here
that is measured on Ascent's own `MultiHeadAttention`: one head of size d_k (width
d_k), its default (LeCun-normal) initialisation, inputs x of unit variance per feature,
so q = W_q x has components of variance ≈ 1, as the footnote assumes.

- saturation of each row α of the softmax: its largest weight max_j α_j (1/n when
  uniform, 1 when one-hot) and its entropy over its maximum, H(α) / log n with
  H(α) = −Σ_j α_j log α_j (1 uniform, 0 one-hot);
- the gradient through the softmax: L = Σ_{i,f} o_if g_if for a random upstream
  gradient g ~ N(0, I/d_k) per token (at initialisation a random direction, of norm ≈ 1
  at every d_k), o = softmax(score(q, k)) v; the norms ‖∂L/∂q_i‖ of each query and
  ‖∂L/∂k_j‖ of each key, summarised by their median and mean over tokens (a saturated
  row passes back almost nothing, ∂α/∂s = diag(α) − ααᵀ → 0, while a row near a tie
  between two large scores passes back a large gradient: median and mean part as rows
  saturate; a key collects from every row, a query from its own); and the norm of
  ∂L/∂(W_q, b_q, W_k, b_k), the query and key projections, with L taken through the
  whole layer (output projection included).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from ascent.nn.attention import SCORES, MultiHeadAttention, masked_softmax


def saturation(weights: Array, mask: Array | None = None) -> tuple[Array, Array]:
    """(max_j α_j, H(α) / log n) of each row of attention weights [..., Tk] -> two [...].

    `mask` (broadcastable to weights, True where a key is visible) sets n, the visible
    keys of each row; a row of one visible key has ratio 0 (nothing to spread over).
    Zero weights add nothing to H (0 log 0 = 0).
    """
    n = weights.shape[-1] if mask is None else jnp.broadcast_to(mask, weights.shape).sum(-1)
    safe = jnp.where(weights > 0, weights, 1.0)
    entropy = -jnp.sum(weights * jnp.log(safe), axis=-1)
    log_n = jnp.log(jnp.asarray(n, weights.dtype))
    ratio = jnp.where(log_n > 0, entropy / jnp.where(log_n > 0, log_n, 1.0), 0.0)
    return weights.max(axis=-1), ratio


def project(params: dict, x: Array) -> tuple[Array, Array, Array]:
    """The query, key and value projections of a `MultiHeadAttention`'s `params`
    ({"params": {"query": ..., ...}}) of self-attention over x [B, T, dim] -> q, k, v
    [B, H, T, D] (flax's DenseGeneral: x W + b, W [dim, H, D])."""
    p = params["params"]

    def dense(name: str) -> Array:
        out = jnp.einsum("btf,fhd->bhtd", x, p[name]["kernel"])
        return out + p[name]["bias"][None, :, None, :]

    return dense("query"), dense("key"), dense("value")


class InitStats(NamedTuple):
    """One layer's figures over `batch` sequences (gradient figures: over their tokens)."""

    top_weight: Array  # mean over rows of max_j α_ij
    saturated: Array  # fraction of rows with max_j α_ij > 0.99
    entropy_ratio: Array  # mean over rows of H(α_i) / log n
    logit_std: Array  # std of the scores s_ij over every row and key
    grad_q_median: Array  # median over queries i of ‖∂L/∂q_i‖
    grad_q_mean: Array  # their mean
    grad_k_median: Array  # median over keys j of ‖∂L/∂k_j‖
    grad_k_mean: Array  # their mean
    grad_params: Array  # ‖∂L/∂(W_q, b_q, W_k, b_k)‖, L summed over the batch


def attention_at_init(
    key: Array, score: str, d_k: int, *, tokens: int = 16, batch: int = 64
) -> InitStats:
    """`InitStats` of a new one-head `MultiHeadAttention(d_k, 1, score=score)` over `batch`
    sequences of `tokens` inputs x ~ N(0, I_{d_k}), every query seeing every key.

    The upstream gradients g (of o, and of the layer's output) are N(0, I/d_k) per token:
    of norm ≈ 1 at every d_k, so the figures change with d_k only through the score and
    the softmax. `score` names a parameter-free entry of `SCORES` (dot, scaled_dot,
    euclidean). Traceable, so it can be vmapped over keys.
    """
    init_key, x_key, g_key, up_key = jax.random.split(key, 4)
    layer = MultiHeadAttention(d_k, 1, score=score)
    x = jax.random.normal(x_key, (batch, tokens, d_k))
    params = layer.init(init_key, x)
    score_fn = SCORES[score]()
    q, k, v = project(params, x)  # [B, 1, T, D]
    g = jax.random.normal(g_key, v.shape) / jnp.sqrt(d_k)  # dL/do

    def attend(q: Array, k: Array) -> tuple[Array, tuple[Array, Array]]:
        logits = score_fn(q, k)  # [B, 1, T, T]
        weights = masked_softmax(logits, None)
        return jnp.sum(jnp.einsum("bhqk,bhkd->bhqd", weights, v) * g), (logits, weights)

    (grad_q, grad_k), (logits, weights) = jax.grad(attend, (0, 1), has_aux=True)(q, k)
    per_query = jnp.linalg.norm(grad_q, axis=-1).ravel()  # [B T]
    per_key = jnp.linalg.norm(grad_k, axis=-1).ravel()
    top, ratio = saturation(weights)

    upstream = jax.random.normal(up_key, x.shape) / jnp.sqrt(d_k)  # dL/d(output) [B, T, d_k]

    def through_layer(p: dict) -> Array:
        return jnp.sum(layer.apply(p, x) * upstream)

    grads = jax.grad(through_layer)(params)["params"]
    leaves = [*jax.tree.leaves(grads["query"]), *jax.tree.leaves(grads["key"])]
    return InitStats(
        top_weight=top.mean(),
        saturated=(top > 0.99).mean(),
        entropy_ratio=ratio.mean(),
        logit_std=logits.std(),
        grad_q_median=jnp.median(per_query),
        grad_q_mean=per_query.mean(),
        grad_k_median=jnp.median(per_key),
        grad_k_mean=per_key.mean(),
        grad_params=jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in leaves)),
    )
