"""Helpers over gymnasium spaces: what an algorithm supports, sizes, clipping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError

ArrayT = TypeVar("ArrayT")


def _name(space: object) -> str:
    return type(space).__name__


def check_space(
    space: object,
    *,
    allowed: Sequence[str] = ("Discrete", "Box"),
    who: str,
    role: str = "action",
) -> None:
    """Raise EnvError unless `space` is one of the `allowed` gymnasium space kinds.

    `who` names the caller (an algorithm), `role` says which space it is, e.g.
    "ppo cannot handle action space MultiBinary(3); supported: Discrete, Box".
    """
    if _name(space) not in allowed or not isinstance(space, spaces.Space):
        raise EnvError(
            f"{who} cannot handle {role} space {space!r}; supported: {', '.join(allowed)}"
        )


def is_discrete(space: spaces.Space) -> bool:
    """True for `Discrete` spaces."""
    return isinstance(space, spaces.Discrete)


def action_dim(space: spaces.Space) -> int:
    """Size of a policy head's output: the number of actions for Discrete (logits),
    the number of components for Box (a Gaussian's mean)."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape))
    raise EnvError(f"no action size for space {space!r}; supported: Discrete, Box")


def obs_shape(space: spaces.Space) -> tuple[int, ...]:
    """Shape of one observation as the doors deliver it (`()` for Discrete)."""
    if space.shape is None:
        raise EnvError(f"observation space {space!r} has no fixed shape")
    return tuple(int(d) for d in space.shape)


def clip_action(actions: ArrayT, space: spaces.Space) -> ArrayT:
    """Clip actions `[..., *shape]` to a Box's bounds; Discrete actions pass unchanged.

    numpy in, numpy out (host door); anything else goes through `jnp.clip` (jit-safe).
    The raw sample is what the rollout stores; only the copy sent to the environment
    is clipped.
    """
    if isinstance(space, spaces.Discrete):
        return actions
    if isinstance(space, spaces.Box):
        low = space.low.astype(np.float32)
        high = space.high.astype(np.float32)
        if isinstance(actions, np.ndarray):
            return np.clip(actions, low, high)  # type: ignore[return-value]
        return jnp.clip(actions, low, high)  # type: ignore[return-value]
    raise EnvError(f"cannot clip actions for space {space!r}; supported: Discrete, Box")
