"""Positional schemes, one interface of four hooks, chosen once when a layer is built.

Every scheme is a flax module built as `POSITIONS[name](dim=..., num_heads=..., **options)`
and used by `MultiHeadAttention` at four points of its forward pass:

- `embed(x, pos) -> x`: absolute schemes add an encoding of `pos` to the attention's
  inputs [B, T, dim] (queries, keys and values all come from the encoded inputs);
- `rotate(q, k, q_pos, k_pos) -> (q, k)`: RoPE rotates queries and keys [B, H, T, D];
- `bias(q, k, q_pos, k_pos) -> [B, H, Tq, Tk]`: relative schemes add a term to the logits;
- `values(weights, q_pos, k_pos) -> [B, H, Tq, D]`: Shaw adds relative value embeddings.

The base class `Position` is the scheme "none": every hook is the identity (or adds 0).
Positions are integers [B, T] (absolute, e.g. the step within the episode). Relative
schemes use only q_pos - k_pos, so keys from a memory get their true distances as long
as their own positions travel with them. The sinusoids' angles p ω_f are reduced modulo
2π exactly (`angles`), so a relative scheme attends at step 10⁷ as at step 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Context, Decimal, localcontext

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

_TWO_PI = Decimal("6.283185307179586476925286766559005768394")  # 2π to 40 digits


def sinusoid(pos: Array, dim: int) -> Array:
    """[sin(p ω_f), cos(p ω_f)] with ω_f = 10000^(-2f/dim), f < dim/2: pos [...] -> [..., dim].

    Vaswani et al. 2017 §3.5 (sines and cosines concatenated, as in Transformer-XL's code).
    """
    return jnp.concatenate(_sin_cos(pos, dim), axis=-1)


def _sin_cos(pos: Array, dim: int, base: float = 10000.0) -> tuple[Array, Array]:
    """sin and cos of p ω_f, ω_f = base^(-2f/dim): pos [...] -> two [..., dim/2]."""
    angle = angles(pos, base ** (-np.arange(0, dim, 2) / dim))
    return jnp.sin(angle), jnp.cos(angle)


def angles(pos: Array, freq: np.ndarray) -> Array:
    """p ω_f mod 2π in [-π, π): integer pos [...] (int32), constant freq [F] -> [..., F] float32.

    float32(p) · ω_f keeps only 24 bits of p ω_f, so the angle's error grows with p (XL's
    and RoPE's logits moved by 5e-5 when every position was shifted by 10⁴ and by 3.5e-4
    at 10⁵, issue 30). Here each ω_f / 2π is a 64-bit fixed-point fraction of a turn,
    the product with p is taken modulo one turn in exact integer arithmetic (uint32 words,
    whose wrap-around is the modulo), and only the turn's top 32 bits become a float: at
    any int32 p the angle is off by float32 round-off of a number in [-π, π) (≤ 3e-7),
    and a common shift of all positions moves angle differences by no more.
    """
    # ω_f / 2π to 40 digits (a float64 quotient's 1e-16 would grow to 5e-7 rad at p = 2^31);
    # whole turns per step change no angle, so the fraction is kept modulo 1.
    with localcontext(Context(prec=40)):
        fixed = [round(Decimal(f) * 2**64 / _TWO_PI) % 2**64 for f in map(float, freq)]
    hi = jnp.asarray([t >> 32 for t in fixed], jnp.uint32)  # [F], turns in units of 2^-32
    lo = jnp.asarray([t & 0xFFFFFFFF for t in fixed], jnp.uint32)  # [F], units of 2^-64
    signed = jnp.asarray(pos, jnp.int32)[..., None]  # [..., 1]
    p = jax.lax.bitcast_convert_type(signed, jnp.uint32)  # p mod 2^32
    # floor(p (hi 2^32 + lo) / 2^32) mod 2^32; for p < 0 the unsigned p is p + 2^32, whose
    # product with lo carries lo more into the high word.
    turn = p * hi + _mul_hi(p, lo) - jnp.where(signed < 0, lo, jnp.uint32(0))
    turn = jax.lax.bitcast_convert_type(turn, jnp.int32)  # [-2^31, 2^31): [-1/2, 1/2) turn
    return turn.astype(jnp.float32) * jnp.float32(2 * math.pi / 2.0**32)


def _mul_hi(a: Array, b: Array) -> Array:
    """The high 32 bits of the 64-bit product of uint32 a and b, from 16-bit halves
    (no partial sum wraps: a1 b0 + (a0 b0 >> 16) < 2^32)."""
    a0, a1 = a & 0xFFFF, a >> 16
    b0, b1 = b & 0xFFFF, b >> 16
    mid = a1 * b0 + ((a0 * b0) >> 16)
    mid2 = a0 * b1 + (mid & 0xFFFF)
    return a1 * b1 + (mid >> 16) + (mid2 >> 16)


class Position(nn.Module):
    """No positional information (the scheme "none"); the base of every scheme."""

    dim: int
    num_heads: int

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    def embed(self, x: Array, pos: Array) -> Array:
        del pos
        return x

    def rotate(self, q: Array, k: Array, q_pos: Array, k_pos: Array) -> tuple[Array, Array]:
        del q_pos, k_pos
        return q, k

    def bias(self, q: Array, k: Array, q_pos: Array, k_pos: Array) -> Array | float:
        del q, k, q_pos, k_pos
        return 0.0

    def values(self, weights: Array, q_pos: Array, k_pos: Array) -> Array | float:
        del weights, q_pos, k_pos
        return 0.0


class Sinusoidal(Position):
    """x + PE(pos), the fixed sinusoidal encoding (Vaswani et al. 2017, §3.5)."""

    def embed(self, x: Array, pos: Array) -> Array:
        return x + sinusoid(pos, self.dim)


class Learned(Position):
    """x + E[pos], a learned table of `max_len` rows (Gehring et al. 2017; BERT, GPT).

    Positions at or past `max_len` share the last row.
    """

    max_len: int = 512

    def setup(self) -> None:
        self.table = self.param("table", nn.initializers.normal(0.02), (self.max_len, self.dim))

    def embed(self, x: Array, pos: Array) -> Array:
        return x + self.table[jnp.clip(pos, 0, self.max_len - 1)]


class Shaw(Position):
    """Relative key and value embeddings of the clipped distance (Shaw et al. 2018).

    e_ij = q_iᵀ(k_j + a^K_ij) / √D (eq. 4) and z_i = Σ_j α_ij (v_j + a^V_ij) (eq. 3), with
    a_ij = w_clip(j-i, max_distance) (eq. 5): 2·max_distance + 1 vectors of size D for keys
    and for values, shared across heads as in the paper. The content part q_iᵀk_j is the
    layer's score function; this scheme adds q_iᵀa^K_ij / √D and Σ_j α_ij a^V_ij.
    """

    max_distance: int = 16

    def setup(self) -> None:
        n = 2 * self.max_distance + 1
        init = nn.initializers.normal(0.02)
        self.rel_k = self.param("rel_k", init, (n, self.head_dim))
        self.rel_v = self.param("rel_v", init, (n, self.head_dim))

    def _index(self, q_pos: Array, k_pos: Array) -> Array:
        """[B, Tq, Tk] row of clip(j - i) in the embedding tables."""
        dist = k_pos[:, None, :] - q_pos[:, :, None]
        return jnp.clip(dist, -self.max_distance, self.max_distance) + self.max_distance

    def bias(self, q: Array, k: Array, q_pos: Array, k_pos: Array) -> Array:
        del k
        # q against all 2K+1 embeddings once, then pick each pair's: no [Tq, Tk, D] tensor.
        q_rel = jnp.einsum("bhqd,rd->bhqr", q, self.rel_k)  # [B, H, Tq, 2K+1]
        index = jnp.broadcast_to(self._index(q_pos, k_pos)[:, None], (*q.shape[:3], k_pos.shape[1]))
        return jnp.take_along_axis(q_rel, index, axis=-1) / math.sqrt(q.shape[-1])

    def values(self, weights: Array, q_pos: Array, k_pos: Array) -> Array:
        # Σ_j α_ij a^V_ij = Σ_r (Σ_{j: index_ij = r} α_ij) w^V_r
        one_hot = jax.nn.one_hot(self._index(q_pos, k_pos), 2 * self.max_distance + 1)
        per_distance = jnp.einsum("bhqk,bqkr->bhqr", weights, one_hot)  # [B, H, Tq, 2K+1]
        return jnp.einsum("bhqr,rd->bhqd", per_distance, self.rel_v)


class XL(Position):
    """Transformer-XL's relative attention (Dai et al. 2019, §3.3, eq. for A^rel_ij).

    A_ij = q_iᵀk_j (a) + q_iᵀW_R R_{i-j} (b) + uᵀk_j (c) + vᵀW_R R_{i-j} (d), all over √D as
    in the authors' code; R is `sinusoid` of size `dim`, W_R a learned [dim -> H·D]
    projection, u and v learned per head. Term (a) is the layer's score function; this
    scheme adds (b) + (c) + (d) = uᵀk_j + (q_i + v)ᵀW_R R_{i-j}.

    (q_i + v)ᵀW_R R(p_i - p_j) is expanded with sin(a - b) and cos(a - b) into two matrix
    products of per-query and per-key sinusoids, so no [Tq, Tk, dim] tensor is built and
    any positions work (memory, resets), not only contiguous ones. The angles a = p_i ω_f
    and b = p_j ω_f are exact modulo 2π (`angles`), so the expansion is as exact at step
    10⁷ as at step 0.
    """

    def setup(self) -> None:
        heads, d = self.num_heads, self.head_dim
        self.u = self.param("u", nn.initializers.normal(0.02), (heads, d))
        self.v = self.param("v", nn.initializers.normal(0.02), (heads, d))
        init = nn.initializers.lecun_normal(in_axis=0, out_axis=(1, 2))
        self.w_r = self.param("w_r", init, (self.dim, heads, d))

    def bias(self, q: Array, k: Array, q_pos: Array, k_pos: Array) -> Array:
        content = jnp.einsum("hd,bhkd->bhk", self.u, k)[:, :, None, :]  # (c): [B, H, 1, Tk]
        w = jnp.einsum("bhqd,fhd->bhqf", q + self.v[:, None, :], self.w_r)  # [B, H, Tq, dim]
        w_sin, w_cos = jnp.split(w, 2, axis=-1)  # weights of sin(·ω) and cos(·ω) in R
        s_q, c_q = (a[:, None] for a in _sin_cos(q_pos, self.dim))  # [B, 1, Tq, dim/2]
        s_k, c_k = _sin_cos(k_pos, self.dim)  # [B, Tk, dim/2]
        # Σ_f w_sin sin(θ_i - θ_j) + w_cos cos(θ_i - θ_j), θ = p ω_f:
        a = w_sin * s_q + w_cos * c_q
        b = w_cos * s_q - w_sin * c_q
        position = jnp.einsum("bhqf,bkf->bhqk", a, c_k) + jnp.einsum("bhqf,bkf->bhqk", b, s_k)
        return (content + position) / math.sqrt(q.shape[-1])  # (b) + (c) + (d)


class RoPE(Position):
    """Rotary embedding: rotate q and k by their positions (Su et al. 2021, eq. 34).

    q_iᵀk_j then depends on positions only through i - j (for dot-product scores).
    Rotates (x_f, x_{f+D/2}) pairs by p ω_f, ω_f = base^(-2f/D), the angle exact modulo
    2π (`angles`), so the logits at step 10⁷ are those at step 0 to float32 round-off.
    """

    base: float = 10000.0

    def _rotate(self, x: Array, pos: Array) -> Array:
        sin, cos = (a[:, None] for a in _sin_cos(pos, x.shape[-1], self.base))  # [B, 1, T, D/2]
        x1, x2 = jnp.split(x, 2, axis=-1)
        return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)

    def rotate(self, q: Array, k: Array, q_pos: Array, k_pos: Array) -> tuple[Array, Array]:
        return self._rotate(q, q_pos), self._rotate(k, k_pos)


class ALiBi(Position):
    """Linear distance penalty -m_h |i - j| with head slopes m_h = 2^(-8h/H), h = 1..H.

    Press et al. 2022, §3 (their causal form uses i - j >= 0; |i - j| keeps it symmetric).
    """

    def bias(self, q: Array, k: Array, q_pos: Array, k_pos: Array) -> Array:
        del q, k
        slopes = 2.0 ** (-8.0 * jnp.arange(1, self.num_heads + 1) / self.num_heads)  # [H]
        dist = jnp.abs(q_pos[:, :, None] - k_pos[:, None, :]).astype(jnp.float32)
        return -slopes[None, :, None, None] * dist[:, None]


POSITIONS: dict[str, Callable[..., Position]] = {
    "none": Position,
    "sinusoidal": Sinusoidal,
    "learned": Learned,
    "shaw": Shaw,
    "xl": XL,
    "rope": RoPE,
    "alibi": ALiBi,
}
"""Scheme name -> module class, built with `dim`, `num_heads` and its own options."""

RELATIVE = frozenset({"shaw", "xl", "rope", "alibi"})
"""Schemes whose logits depend on positions only through their differences."""
