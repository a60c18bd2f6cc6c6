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


def env_action(actions: ArrayT, space: spaces.Space) -> ArrayT:
    """Actions `[..., *stored]` as Ascent holds them (`nn.ActionSpec.stored_shape`) made
    into what the environment takes: a Box's clipped to its bounds; a Discrete's or a
    MultiDiscrete's `start` added; a MultiDiscrete's or a MultiBinary's multi-dimensional
    shape restored from the flat one.

    numpy in, numpy out (host door); anything else goes through jnp (jit-safe). The raw
    sample is what the rollout stores; only the copy sent to the environment changes.
    """
    xp = np if isinstance(actions, np.ndarray) else jnp
    if isinstance(space, spaces.Box):
        low = space.low.astype(np.float32)
        high = space.high.astype(np.float32)
        return xp.clip(actions, low, high)  # type: ignore[return-value]
    if isinstance(space, spaces.Discrete):
        return actions if int(space.start) == 0 else actions + int(space.start)  # type: ignore[operator,return-value]
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec)
        batch = xp.shape(actions)[:-1]
        shaped = xp.reshape(actions, (*batch, *nvec.shape))
        start = np.asarray(getattr(space, "start", 0))
        return shaped if not start.any() else shaped + start  # type: ignore[return-value]
    if isinstance(space, spaces.MultiBinary):
        batch = xp.shape(actions)[:-1]
        return xp.reshape(actions, (*batch, *space.shape)).astype(xp.int8)  # type: ignore[return-value]
    raise EnvError(
        f"no action of space {space!r}; supported: Discrete, Box, MultiDiscrete, MultiBinary"
    )
