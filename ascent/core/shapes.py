"""Shapes: the checks of `core`'s shape contracts, and episode flags broadcast over a
team's agents.

The checks read static shapes, so under jit they run once, when a function is traced,
and cost nothing when the compiled function runs. A failed check raises chex's
AssertionError with a message that names the function, the argument and both shapes,
e.g. "gae: values has shape (5, 3) but rewards has (5, 4)". Each check takes the
arguments by name; None (an optional argument not given) is skipped.
"""

from __future__ import annotations

import chex
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike


def broadcast_flags(flags: ArrayLike, like: ArrayLike) -> Array:
    """Per-environment flags [..., N] as bool, with trailing axes added to broadcast
    against per-agent numbers `like` [..., N, A] (a team's episode flags hold for every
    agent): terminated [T, N] against rewards [T, N, A] becomes [T, N, 1].

    flags: bool or 0/1, its shape the leading part of like's (flags of like's shape
    come back in that shape). Returns bool, flags' shape padded with 1s to like's rank.
    """
    flags = jnp.asarray(flags).astype(bool)
    assert_leads("broadcast_flags", flags=flags, like=like)
    return flags.reshape(flags.shape + (1,) * (jnp.ndim(like) - flags.ndim))


def _named(arrays: dict[str, ArrayLike | None]) -> list[tuple[str, ArrayLike]]:
    return [(name, x) for name, x in arrays.items() if x is not None]


def assert_same_shape(where: str, **arrays: ArrayLike | None) -> None:
    """Every array has the shape of the first one.

    assert_same_shape("gae", rewards=r, values=v, next_values=v2); `where` names the
    function whose contract it is.
    """
    (ref_name, ref), *rest = _named(arrays)
    for name, x in rest:
        message = f"{where}: {name} has shape {jnp.shape(x)} but {ref_name} has {jnp.shape(ref)}"
        chex.assert_shape(x, jnp.shape(ref), custom_message=message)


def assert_leads(where: str, **arrays: ArrayLike | None) -> None:
    """Every array but the last has a shape that is the leading part of the last one's:
    flags [T, N] (or [T, N, A]) of rewards [T, N, A].

    assert_leads("gae", terminated=d, truncated=c, rewards=r).
    """
    *parts, (ref_name, ref) = _named(arrays)
    lead = jnp.shape(ref)
    for name, x in parts:
        shape = jnp.shape(x)
        message = (
            f"{where}: {name} has shape {shape} but {ref_name} has {lead};"
            f" {name} must match the leading axes of {ref_name}"
        )
        # cut short where ref has fewer axes than x, so a failure too
        chex.assert_shape(x, lead[: len(shape)], custom_message=message)


def assert_broadcastable(where: str, **arrays: ArrayLike | None) -> None:
    """Every array but the last broadcasts to the last one's shape (numpy's rule,
    trailing axes aligned): a mask [N] or [T, N] of x [T, N].

    assert_broadcastable("masked_mean", mask=m, x=x).
    """
    *parts, (ref_name, ref) = _named(arrays)
    for name, x in parts:
        message = f"{where}: {name} has shape {jnp.shape(x)} but {ref_name} has {jnp.shape(ref)}"
        chex.assert_is_broadcastable(jnp.shape(x), jnp.shape(ref), custom_message=message)


def assert_time_axis(where: str, name: str, x: ArrayLike) -> None:
    """`x` has a leading time axis [T, ...] (rank ≥ 1)."""
    message = f"{where}: {name} has shape {jnp.shape(x)} but needs a time axis [T, ...]"
    chex.assert_axis_dimension_gteq(x, 0, 0, custom_message=message)


def assert_rank(where: str, name: str, x: ArrayLike, rank: int) -> None:
    """`x` has `rank` axes (0: a scalar)."""
    message = f"{where}: {name} has shape {jnp.shape(x)} but needs rank {rank}"
    chex.assert_rank(x, rank, custom_message=message)
