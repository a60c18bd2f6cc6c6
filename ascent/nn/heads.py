"""Policy heads: features -> an action distribution from `ascent.core.distributions`,
one head per kind of action space, chosen by `ActionSpec` from one registry (`HEADS`).

| action space | head | distribution | an action inside Ascent |
|---|---|---|---|
| Discrete(n) | `CategoricalHead` | `Categorical` | int32 `[]` |
| Box(shape) | `GaussianHead` | `DiagGaussian` | float32 `[*shape]` |
| MultiDiscrete(nvec) | `MultiCategoricalHead` | `MultiCategorical` | int32 `[K]` (nvec flattened) |
| MultiBinary(n) | `BernoulliHead` | `Bernoulli` | int32 `[n]` (n flattened) |

`envs.spaces.env_action` turns an action back into what the environment takes (a Box's
clipped, a start added, a multi-dimensional nvec's shape restored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.core.distributions import Bernoulli, Categorical, DiagGaussian, MultiCategorical
from ascent.errors import EnvError
from ascent.nn.torso import dense

ACTION_KINDS = {
    spaces.Discrete: "discrete",
    spaces.Box: "box",
    spaces.MultiDiscrete: "multi_discrete",
    spaces.MultiBinary: "multi_binary",
}


@dataclass(frozen=True)
class ActionSpec:
    """What a policy outputs for an action space: its `kind`, the `sizes` of its head
    (a Discrete's n; a Box's size; a MultiDiscrete's nvec and a MultiBinary's n,
    flattened) and the action's `shape` as the environment takes it."""

    kind: str
    sizes: tuple[int, ...]
    shape: tuple[int, ...]

    @classmethod
    def of(cls, space: object) -> ActionSpec:
        kind = next((k for t, k in ACTION_KINDS.items() if isinstance(space, t)), None)
        if kind is None:
            raise EnvError(
                f"action space {space!r} is not supported; actions may be Discrete, Box, "
                "MultiDiscrete or MultiBinary"
            )
        if kind == "discrete":
            return cls.discrete(int(space.n))  # type: ignore[attr-defined]
        shape = tuple(int(d) for d in space.shape)  # type: ignore[attr-defined]
        if kind == "multi_discrete":
            nvec = np.asarray(space.nvec).ravel()  # type: ignore[attr-defined]
            return cls(kind, tuple(int(n) for n in nvec), shape)
        return cls(kind, (int(np.prod(shape, dtype=np.int64)),), shape)

    @classmethod
    def discrete(cls, n: int) -> ActionSpec:
        return cls("discrete", (n,), ())

    @property
    def stored_shape(self) -> tuple[int, ...]:
        """One action's shape inside Ascent: [] (Discrete), the Box's shape, [K] or [n]."""
        if self.kind == "discrete":
            return ()
        if self.kind == "multi_discrete":
            return (len(self.sizes),)
        return self.shape if self.kind == "box" else (self.sizes[0],)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32 if self.kind == "box" else np.int32)

    def head(self, state_dependent_std: bool = False, log_std_init: float = 0.0) -> nn.Module:
        """This kind's head (a Box's takes the Gaussian's two settings)."""
        return HEADS[self.kind](self, state_dependent_std, log_std_init)


class CategoricalHead(nn.Module):
    """Logits over `n_actions` discrete actions (output gain 0.01: a near-uniform start)."""

    n_actions: int

    @nn.compact
    def __call__(self, features: jax.Array) -> Categorical:
        return Categorical(logits=dense(self.n_actions, scale=0.01)(features))


class GaussianHead(nn.Module):
    """Diagonal Gaussian over `action_dim` continuous actions.

    The log standard deviation is either a free parameter shared by all states
    (`state_dependent_std=False`, as in Schulman et al. 2017's continuous PPO) or a
    second linear output of the features.
    """

    action_dim: int
    state_dependent_std: bool = False
    log_std_init: float = 0.0

    @nn.compact
    def __call__(self, features: jax.Array) -> DiagGaussian:
        mean = dense(self.action_dim, scale=0.01)(features)
        if self.state_dependent_std:
            log_std = dense(self.action_dim, scale=0.01)(features) + self.log_std_init
        else:
            log_std = self.param(
                "log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,)
            )
            log_std = jnp.broadcast_to(log_std, mean.shape)
        return DiagGaussian(mean=mean, log_std=log_std)


class MultiCategoricalHead(nn.Module):
    """Logits for each component of a MultiDiscrete action (output gain 0.01), laid out
    [..., K, max n] with −inf past each component's n."""

    sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, features: jax.Array) -> MultiCategorical:
        flat = dense(sum(self.sizes), scale=0.01)(features)
        width = max(self.sizes)
        parts, start = [], 0
        for n in self.sizes:
            part = flat[..., start : start + n]
            pad = jnp.full((*part.shape[:-1], width - n), -jnp.inf, part.dtype)
            parts.append(jnp.concatenate([part, pad], axis=-1) if n < width else part)
            start += n
        return MultiCategorical(logits=jnp.stack(parts, axis=-2))


class BernoulliHead(nn.Module):
    """One logit per bit of a MultiBinary action (output gain 0.01: p near ½)."""

    n: int

    @nn.compact
    def __call__(self, features: jax.Array) -> Bernoulli:
        return Bernoulli(logits=dense(self.n, scale=0.01)(features))


HEADS: dict[str, Callable[[ActionSpec, bool, float], nn.Module]] = {
    "discrete": lambda spec, sds, init: CategoricalHead(spec.sizes[0]),
    "box": lambda spec, sds, init: GaussianHead(spec.sizes[0], sds, init),
    "multi_discrete": lambda spec, sds, init: MultiCategoricalHead(spec.sizes),
    "multi_binary": lambda spec, sds, init: BernoulliHead(spec.sizes[0]),
}
"""Action kind -> its head, from (spec, state_dependent_std, log_std_init)."""


def allowed_actions(action_mask: jax.Array) -> jax.Array:
    """The actions that may be taken, [..., n]: those `action_mask` allows (True or
    nonzero), or every one in a row that allows none (a padded agent's, or a state with
    no legal move: its distribution stays defined). The one definition of "allowed" for
    single agents' masks and teams' (`nn.multiagent`)."""
    mask = jnp.asarray(action_mask).astype(bool)
    return mask | ~mask.any(axis=-1, keepdims=True)


def masked_logits(logits: jax.Array, action_mask: jax.Array) -> jax.Array:
    """Logits with −inf where `action_mask` [..., n] forbids the action: probability 0,
    never sampled, and log-probabilities and entropies those of the masked distribution
    (Huang & Ontañón 2020, "A Closer Look at Invalid Action Masking")."""
    return jnp.where(allowed_actions(action_mask), logits, -jnp.inf)


def masked(dist: Any, action_mask: jax.Array, action: ActionSpec) -> Any:
    """`dist` with the actions `action_mask` forbids removed: a Discrete's mask is [..., n];
    a MultiDiscrete's [..., Σ n_k], each component's values in turn (Gymnasium's
    per-component masks, concatenated), each component allowed on its own."""
    if action.kind == "discrete":
        return Categorical(masked_logits(dist.logits, action_mask))
    if action.kind == "multi_discrete":
        mask = jnp.asarray(action_mask).astype(bool)
        width, rows, start = dist.logits.shape[-1], [], 0
        for n in action.sizes:
            row = mask[..., start : start + n]
            pad = jnp.zeros((*row.shape[:-1], width - n), bool)
            rows.append(allowed_actions(row) if n == width else
                        jnp.concatenate([allowed_actions(row), pad], axis=-1))  # fmt: skip
            start += n
        allowed = jnp.stack(rows, axis=-2)
        return MultiCategorical(jnp.where(allowed, dist.logits, -jnp.inf))
    raise EnvError(f"action masks need Discrete or MultiDiscrete actions, not {action.kind}")


def with_mask(dist: Any, obs_spec: Any, obs: Any, action: ActionSpec) -> Any:
    """`dist`, masked by the action mask the observations `obs` carry when their spec
    (`nn.ObsSpec`) has one; else unchanged."""
    if obs_spec is None or not obs_spec.has_mask:
        return dist
    return masked(dist, obs_spec.mask_of(obs), action)


def mask_size(action: ActionSpec) -> int | None:
    """The length of an action mask for `action`'s kind, or None where masks do not apply."""
    if action.kind in ("discrete", "multi_discrete"):
        return int(sum(action.sizes))
    return None
