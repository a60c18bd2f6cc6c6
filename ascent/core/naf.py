"""Normalized advantage functions: a quadratic advantage whose maximum is known.

Q(s, a) = V(s) + A(s, a), A(s, a) = −½ (a − μ(s))ᵀ P(s) (a − μ(s)), P = L Lᵀ with L
lower-triangular and a positive diagonal, so P is positive definite, A ≤ 0 and
argmax_a Q(s, a) = μ(s). (Gu et al. 2016, "Continuous deep Q-learning with
model-based acceleration", eqs. 3–5.)
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike


def n_triangular(dim: int) -> int:
    """Entries of a dim × dim lower-triangular matrix: dim(dim + 1)/2."""
    return dim * (dim + 1) // 2


def lower_triangular(entries: ArrayLike, dim: int) -> Array:
    """L [..., dim, dim] from `entries` [..., dim(dim+1)/2], filled row by row below and
    on the diagonal; the diagonal is exponentiated so that it is positive."""
    entries = jnp.asarray(entries)
    rows, cols = np.tril_indices(dim)
    # exponentiate only the diagonal's entries: exp of the others could overflow
    diag = np.flatnonzero(rows == cols)
    entries = entries.at[..., diag].set(jnp.exp(entries[..., diag]))
    L = jnp.zeros((*entries.shape[:-1], dim, dim), entries.dtype)
    return L.at[..., rows, cols].set(entries)


def quadratic_advantage(actions: ArrayLike, mu: ArrayLike, L: ArrayLike) -> Array:
    """A = −½ (a − μ)ᵀ L Lᵀ (a − μ) = −½ ‖Lᵀ(a − μ)‖². actions, mu: [..., D]; L: [..., D, D].

    Returns [...]; ≤ 0, and 0 exactly at a = μ (Gu et al. 2016, eq. 5).
    """
    delta = jnp.asarray(actions) - jnp.asarray(mu)
    v = jnp.einsum("...ji,...j->...i", jnp.asarray(L), delta)  # Lᵀ(a − μ)
    return -0.5 * jnp.sum(jnp.square(v), axis=-1)
