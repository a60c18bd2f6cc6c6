"""Observations of any standard Gymnasium space, and how a network reads them.

An observation is a pytree shaped like its space: a Dict's is a dict, a Tuple's a
tuple, nested to any depth, with an array at each leaf. `ObsSpec.of(space)` describes
that tree once, hashably (so networks can hold it), and refuses, with the path inside
the space, what Ascent cannot take. Everything that handles observations walks the
spec, never the space: preallocated rollouts and replay buffers (`zeros`), the doors'
checks, normalisation (Box leaves only) and the networks' encoder.

The encoder (`encode`) turns each leaf into features by its kind, from one registry
(`ENCODERS`), and concatenates them in the spec's order, before the torso:

| leaf | stored as | features |
|---|---|---|
| Box of any rank | float32 `[*shape]` | the values, flattened |
| Discrete(n, start) | int32 `[]` | one-hot of x − start, [n] |
| MultiDiscrete(nvec, start) | int32 `[*nvec.shape]` | one-hot per component, concatenated |
| MultiBinary(n) | int8 `[*n]` | the bits as floats, flattened |
| image: rank-3 Box, uint8 or floats in [0, 1] | as the space | a CNN's (`nn/cnn.py`) |
| a top-level `action_mask` | bool `[n]` | none: the policy's head reads it |

An image stays uint8 when its space is (rollouts and replay keep the bytes) and is
scaled to [0, 1] inside the compiled network. Its channel axis is found from its shape
(`image_layout`): first when the first side is smaller than both others ((4, 84, 84)
stacked Atari frames), else last ((84, 84, 3), MinAtar's (10, 10, 4)). Its torso is the
config's `torso`, and `auto` picks by the frame's size: `nature` from 36 pixels a side,
`minatar` below, a flat vector under 3. The image's encoder holds parameters, so
`encode` runs inside a flax module's compact method (the torso's parameters are created
there); `Encoder` is the same as a module of its own.

A new kind of leaf is one entry of `ENCODERS` and one case of `ObsSpec.of`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import ConfigError, EnvError
from ascent.nn.cnn import FEATURES, MIN_SIZE, TORSOS, scaled


@dataclass(frozen=True)
class Leaf:
    """One array of an observation: its kind, shape and storage dtype; `sizes` holds
    what its encoder needs besides (a Discrete's n; a MultiDiscrete's nvec, flattened),
    `start` the lowest value of each discrete component."""

    kind: str
    shape: tuple[int, ...]
    dtype: str
    sizes: tuple[int, ...] = ()
    start: tuple[int, ...] = ()
    layout: str = ""  # an image's: "hwc" (channels last) or "chw" (channels first)
    torso: str = ""  # an image's: a name in nn.cnn.TORSOS, or "mlp" (flattened)

    @property
    def features(self) -> int:
        """The width of this leaf's encoding."""
        if self.kind in ("discrete", "multi_discrete"):
            return int(sum(self.sizes))
        if self.kind == "image" and self.torso in FEATURES:
            return FEATURES[self.torso]
        return int(np.prod(self.shape, dtype=np.int64))

    def describe(self) -> str:
        """One line for a run's config: `image (4, 84, 84) uint8, channels first, nature`."""
        text = f"{self.kind} {self.shape} {self.dtype}"
        if self.kind == "image":
            order = "channels first" if self.layout == "chw" else "channels last"
            text += f", {order}, torso {self.torso}"
        return text


@dataclass(frozen=True)
class ObsSpec:
    """The structure of an observation space: a `leaf`, or a dict (`keys` with their
    `children`), or a tuple (`children`)."""

    leaf: Leaf | None = None
    keys: tuple[str, ...] | None = None
    children: tuple[ObsSpec, ...] = ()

    @classmethod
    def of(cls, space: object, torso: str = "auto", path: str = "obs") -> ObsSpec:
        """The spec of a Gymnasium observation space, its images read by `torso` (a
        config's `torso`: a name in `nn.cnn.TORSOS`, `mlp` or `auto`); EnvError naming
        the path inside the space (`obs["sensors"][1]`) for what Ascent cannot take."""
        if isinstance(space, spaces.Dict):
            if not space.spaces:
                raise EnvError(f"{path}: a Dict with no spaces is not supported")
            keys = tuple(space.spaces)
            children = tuple(
                cls(leaf=_mask_leaf(space.spaces[k], f"{path}[{k!r}]"))
                if k == MASK_KEY and path == "obs"
                else cls.of(space.spaces[k], torso, f"{path}[{k!r}]")
                for k in keys
            )
            return cls(keys=keys, children=children)
        if isinstance(space, spaces.Tuple):
            if not space.spaces:
                raise EnvError(f"{path}: a Tuple with no spaces is not supported")
            children = tuple(cls.of(s, torso, f"{path}[{i}]") for i, s in enumerate(space))
            return cls(children=children)
        return cls(leaf=_leaf(space, path, torso))

    @property
    def is_leaf(self) -> bool:
        return self.leaf is not None

    @property
    def has_mask(self) -> bool:
        """Whether the observation carries an action mask (a top-level `action_mask`)."""
        return self.keys is not None and MASK_KEY in self.keys

    @property
    def mask_shape(self) -> tuple[int, ...] | None:
        """The shape of one action mask, [n], or None without one."""
        if not self.has_mask:
            return None
        child = self.children[self.keys.index(MASK_KEY)]  # type: ignore[union-attr]
        return child.leaf.shape  # type: ignore[union-attr]

    def mask_of(self, obs: Any) -> Any:
        """The action mask an observation carries [..., n], or None."""
        return obs[MASK_KEY] if self.has_mask else None

    def describe(self) -> dict[str, str]:
        """Each leaf's path and `Leaf.describe()`, as a run's config.json records them."""
        found: dict[str, str] = {}

        def walk(spec: ObsSpec, path: str) -> None:
            if spec.leaf is not None:
                found[path] = spec.leaf.describe()
            elif spec.keys is not None:
                for k, child in zip(spec.keys, spec.children, strict=True):
                    walk(child, f"{path}[{k!r}]")
            else:
                for i, child in enumerate(spec.children):
                    walk(child, f"{path}[{i}]")

        walk(self, "obs")
        return found

    def leaves(self) -> list[Leaf]:
        """The leaves in the spec's order (a Dict's keys in the space's order)."""
        if self.leaf is not None:
            return [self.leaf]
        return [leaf for child in self.children for leaf in child.leaves()]

    def map(self, fn: Callable[..., Any], *trees: Any) -> Any:
        """`fn(leaf, *values)` at every leaf of `trees` (observations shaped like this
        spec, or anything with its structure: None is allowed at a leaf), rebuilt in the
        spec's structure."""
        if self.leaf is not None:
            return fn(self.leaf, *trees)
        if self.keys is not None:
            return {
                k: child.map(fn, *(tree[k] for tree in trees))
                for k, child in zip(self.keys, self.children, strict=True)
            }
        return tuple(
            child.map(fn, *(tree[i] for tree in trees)) for i, child in enumerate(self.children)
        )

    def values(self, tree: Any) -> list[Any]:
        """The leaf values of `tree` (shaped like this spec) in the spec's order."""
        found: list[Any] = []
        self.map(lambda _, x: found.append(x), tree)
        return found

    def zeros(self, batch: tuple[int, ...] = (), xp: Any = np) -> Any:
        """An all-zero observation with leading dims `batch` (numpy, or `xp=jnp`)."""
        return self.map(lambda leaf: xp.zeros((*batch, *leaf.shape), leaf.dtype))

    @property
    def features(self) -> int:
        """The width of `encode`'s output."""
        return sum(leaf.features for leaf in self.leaves() if leaf.kind in ENCODERS)

    def mismatch(self, value: Any, batch: tuple[int, ...] = (), path: str = "obs") -> str | None:
        """None if `value` has this spec's structure with arrays of numbers of shape
        [*batch, *leaf.shape] at its leaves (arrays, or anything with `shape` and
        `dtype`); else what differs first, with its path (`obs['pos']: shape (3,), expected
        (2,)`). Only the failure path of the doors' checks calls it."""
        if self.keys is not None:
            if not isinstance(value, Mapping):
                return f"{path}: a {type(value).__name__}, expected a dict of {list(self.keys)}"
            missing = [k for k in self.keys if k not in value]
            if missing:
                return f"{path}: no key {missing[0]!r} (expected {list(self.keys)})"
            named = zip(self.keys, self.children, strict=True)
            pairs = [(value[k], child, f"{path}[{k!r}]") for k, child in named]
        elif self.leaf is None:
            if not isinstance(value, tuple | list) or len(value) != len(self.children):
                return f"{path}: a {type(value).__name__}, expected a tuple of {len(self.children)}"
            items = enumerate(zip(value, self.children, strict=True))
            pairs = [(v, child, f"{path}[{i}]") for i, (v, child) in items]
        else:
            leaf, shape = self.leaf, (*batch, *self.leaf.shape)
            got = tuple(getattr(value, "shape", np.shape(value)))
            kind = np.dtype(getattr(value, "dtype", np.asarray(value).dtype)).kind
            if got != shape:
                return f"{path}: shape {got}, expected {shape} ({leaf.kind})"
            if kind not in "biuf":
                return f"{path}: {np.dtype(getattr(value, 'dtype', 'O'))} values, expected numbers"
            return None
        for v, child, where in pairs:
            found = child.mismatch(v, batch, where)
            if found:
                return found
        return None


MASK_KEY = "action_mask"
"""An observation Dict's key for the actions allowed now: read by the policy's head
(`nn.heads.masked`), not encoded into its features, not normalised."""


def _mask_leaf(space: object, path: str) -> Leaf:
    """An action mask's leaf: a MultiBinary(n) or a Box of 0 and 1 [n], stored as bool."""
    shape = tuple(int(d) for d in getattr(space, "shape", None) or ())
    if not isinstance(space, spaces.MultiBinary | spaces.Box) or len(shape) != 1:
        raise EnvError(f"{path}: an action mask must be a MultiBinary(n) or a Box [n], got {space}")
    return Leaf("mask", shape, "bool")


TORSO_CHOICES = ("auto", "mlp", *TORSOS)
"""The values of a config's `torso`."""


def is_image(space: spaces.Box) -> bool:
    """A rank-3 Box of uint8, or of floats bounded in [0, 1] (MinAtar's frames)."""
    if len(space.shape) != 3:
        return False
    if space.dtype == np.uint8:
        return True
    return bool(
        np.issubdtype(space.dtype, np.floating)
        and space.is_bounded("both")
        and np.all(space.low >= 0)
        and np.all(space.high <= 1)
    )


def image_layout(shape: tuple[int, ...]) -> str:
    """`chw` when the first side is smaller than both others ((4, 84, 84)), else `hwc`."""
    return "chw" if shape[0] < shape[1] and shape[0] < shape[2] else "hwc"


def _image_leaf(space: spaces.Box, path: str, torso: str) -> Leaf:
    shape = tuple(int(d) for d in space.shape)
    layout = image_layout(shape)
    side = min(shape[1:]) if layout == "chw" else min(shape[:2])
    if torso == "auto":
        torso = next((t for t in ("nature", "minatar") if side >= MIN_SIZE[t]), "mlp")
    elif torso not in TORSO_CHOICES:
        raise ConfigError(f"torso must be one of {', '.join(TORSO_CHOICES)}; got {torso!r}")
    elif torso != "mlp" and side < MIN_SIZE[torso]:
        raise ConfigError(
            f"torso={torso!r} needs frames of at least {MIN_SIZE[torso]} pixels a side; "
            f"{path} is {space} ({side}): use torso=auto"
        )
    dtype = "uint8" if space.dtype == np.uint8 else "float32"
    return Leaf("image", shape, dtype, layout=layout, torso=torso)


def _leaf(space: object, path: str, torso: str = "auto") -> Leaf:
    name = type(space).__name__
    if isinstance(space, spaces.Box):
        shape = tuple(int(d) for d in space.shape)
        if np.issubdtype(space.dtype, np.integer) and not space.is_bounded("both"):
            raise EnvError(f"{path}: an unbounded Box of integers ({space}) is not supported")
        if is_image(space):
            return _image_leaf(space, path, torso)
        return Leaf("box", shape, "float32")
    if isinstance(space, spaces.Discrete):
        return Leaf("discrete", (), "int32", (int(space.n),), (int(space.start),))
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec)
        start = np.broadcast_to(np.asarray(getattr(space, "start", 0)), nvec.shape)
        sizes = tuple(int(n) for n in nvec.ravel())
        starts = tuple(int(s) for s in start.ravel())
        return Leaf("multi_discrete", tuple(nvec.shape), "int32", sizes, starts)
    if isinstance(space, spaces.MultiBinary):
        return Leaf("multi_binary", tuple(int(d) for d in np.atleast_1d(space.n)), "int8")
    kind = name if isinstance(space, spaces.Space) else f"{name} (not a Gymnasium space)"
    raise EnvError(
        f"{path}: {kind} is not supported; observations may be Box, Discrete, "
        "MultiDiscrete, MultiBinary, and Dict or Tuple of these"
    )


def _flat(x: jax.Array, leaf: Leaf) -> jax.Array:
    """[..., *leaf.shape] -> [..., prod(leaf.shape)] as float32."""
    x = jnp.asarray(x, jnp.float32)
    batch = x.shape[: x.ndim - len(leaf.shape)]
    return x if len(leaf.shape) == 1 else x.reshape(*batch, -1)


def _one_hots(x: jax.Array, leaf: Leaf) -> jax.Array:
    """[..., *leaf.shape] integers -> the one-hot of each component, concatenated."""
    x = jnp.asarray(x, jnp.int32)
    batch = x.shape[: x.ndim - len(leaf.shape)]
    x = x.reshape(*batch, len(leaf.sizes))
    parts = [
        jax.nn.one_hot(x[..., i] - start, n, dtype=jnp.float32)
        for i, (n, start) in enumerate(zip(leaf.sizes, leaf.start, strict=True))
    ]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)


def _image(x: jax.Array, leaf: Leaf) -> jax.Array:
    """Frames [..., *leaf.shape] -> the torso's features: scaled to [0, 1] here, inside the
    compiled network, channels moved last; `mlp`: the scaled pixels, flattened."""
    x = scaled(jnp.asarray(x))
    if leaf.layout == "chw":
        x = jnp.moveaxis(x, -3, -1)
    if leaf.torso == "mlp":
        return x.reshape(*x.shape[:-3], -1)
    return TORSOS[leaf.torso]()(x)  # its parameters belong to the module calling encode


ENCODERS: dict[str, Callable[[jax.Array, Leaf], jax.Array]] = {
    "box": _flat,
    "discrete": _one_hots,
    "multi_discrete": _one_hots,
    "multi_binary": _flat,
    "image": _image,
}
"""Leaf kind -> its encoder: (values [..., *shape], leaf) -> features [..., leaf.features]."""


def encode(spec: ObsSpec | None, obs: Any) -> jax.Array:
    """Features [..., F] of observations `obs` shaped like `spec` with leading dims
    [...]: each leaf by its kind's encoder, concatenated in the spec's order. `spec`
    None: `obs` is a flat vector [..., D], read as float32."""
    if spec is None:
        return jnp.asarray(obs, jnp.float32)
    leaves = zip(spec.leaves(), spec.values(obs), strict=True)
    parts = [ENCODERS[leaf.kind](x, leaf) for leaf, x in leaves if leaf.kind in ENCODERS]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)


class Encoder(nn.Module):
    """`encode` as a module of its own, for networks that build their parts in `setup`."""

    spec: ObsSpec | None

    @nn.compact
    def __call__(self, obs: Any) -> jax.Array:
        return encode(self.spec, obs)
