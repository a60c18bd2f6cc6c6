"""Compiled calls that cost less per call: the metrics packed into one array
(`PackedMetrics`), the state laid flat (`FlatTree`), and the update of a loop driven
from Python that hands back what the next iteration needs (`HostLearn`, `FlatLearn`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ascent.runtime.program_cache import CachedJit


class HostLearn:
    """A loop's `learn` for a loop driven from Python, jitted, that also hands back what
    the next iteration needs, so each iteration costs one call and one transfer:

    - the metrics packed into one float32 vector (fetched once per chunk by `stack`,
      instead of one transfer per metric and iteration);
    - the next iteration's keys, `next_keys(state.key)`, instead of a call of their own.

    `learn(state, data, learn_key) -> (state, metrics)`, for a state with a `key` field;
    extra jit options (donation) pass through.
    """

    def __init__(
        self,
        learn: Callable,
        next_keys: Callable[[jax.Array], Any],
        source: Callable[[], str | None] | None = None,
        **jit_options: Any,
    ):
        self.learn = learn
        self.next_keys = next_keys
        self.source = source  # words naming the loop (program_source), if it has them
        self._call = CachedJit(self._learn, source=self.program_source, **jit_options)
        self._split = CachedJit(next_keys)

    def program_source(self) -> str | None:
        """Words for the source keys of this object's programs (None: found by tracing)."""
        return self.source() if self.source is not None else None

    def split(self, key: jax.Array) -> Any:
        """The first iteration's keys, `next_keys(key)`, as a compiled call."""
        return self._split(key)

    def _learn(self, state: Any, data: Any, learn_key: jax.Array) -> tuple:
        state, metrics = self.learn(state, data, learn_key)
        names = tuple(sorted(metrics))
        packed = jnp.stack([jnp.asarray(metrics[k], jnp.float32) for k in names])
        return state, PackedMetrics(packed, names), self.next_keys(state.key)

    def __call__(self, state: Any, data: Any, learn_key: jax.Array) -> tuple:
        """(state, packed metrics, the next iteration's keys)."""
        return self._call(state, data, learn_key)

    def stack(self, rows: list[PackedMetrics]) -> dict[str, np.ndarray]:
        """Packed rows of a chunk -> {name: [n]} numpy arrays."""
        values = np.stack(jax.device_get([row.values for row in rows]))  # [n, M]
        return {k: values[:, i] for i, k in enumerate(rows[0].names)}


@jax.tree_util.register_pytree_node_class
class PackedMetrics:
    """An update's metrics as one float32 vector [M]; the names ride in the pytree's
    structure, so a program loaded without tracing (program_cache.py) still has them."""

    def __init__(self, values: jax.Array, names: tuple[str, ...]):
        self.values = values
        self.names = names

    def tree_flatten(self) -> tuple[tuple[jax.Array], tuple[str, ...]]:
        return (self.values,), self.names

    @classmethod
    def tree_unflatten(cls, names: tuple[str, ...], children: tuple) -> PackedMetrics:
        return cls(children[0], names)


class FlatTree:
    """The layout of a pytree's leaves laid end to end, one flat array per dtype.

    A compiled call costs time for each array it takes and each it returns, and an
    update takes and returns the whole loop state (dozens of arrays); this layout makes
    them a few flat arrays, one per dtype (benchmarks/results/design_notes.md). `pack`
    and `unpack` run inside jit, where they cost a copy of each leaf. Leaves keep their
    shapes and dtypes exactly; a weakly typed leaf comes back strongly typed.
    """

    def __init__(self, tree: Any):
        leaves, self.treedef = jax.tree.flatten(tree)
        self.specs = tuple((tuple(jnp.shape(x)), jnp.result_type(x)) for x in leaves)
        self.dtypes = tuple(sorted({dtype for _, dtype in self.specs}, key=str))
        sizes = dict.fromkeys(self.dtypes, 0)
        where = []  # each leaf's (group, offset, size)
        for shape, dtype in self.specs:
            size = int(np.prod(shape, dtype=np.int64))
            where.append((self.dtypes.index(dtype), sizes[dtype], size))
            sizes[dtype] += size
        self.where = tuple(where)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FlatTree) and (self.treedef, self.specs) == (
            other.treedef,
            other.specs,
        )

    def __hash__(self) -> int:
        return hash((self.treedef, self.specs))

    def pack(self, tree: Any) -> tuple[jax.Array, ...]:
        """The leaves of `tree` (laid out as this one's) as one flat array per dtype."""
        leaves = jax.tree.leaves(tree)
        groups: list[list[jax.Array]] = [[] for _ in self.dtypes]
        for leaf, (group, _, _) in zip(leaves, self.where, strict=True):
            groups[group].append(jnp.ravel(leaf))
        return tuple(jnp.concatenate(g) for g in groups)

    def unpack(self, flat: tuple[jax.Array, ...]) -> Any:
        """The pytree back from `pack`'s arrays."""
        leaves = [
            flat[group][offset : offset + size].reshape(shape)
            for (group, offset, size), (shape, _) in zip(self.where, self.specs, strict=True)
        ]
        return jax.tree.unflatten(self.treedef, leaves)


class FlatLearn(HostLearn):
    """`HostLearn` for a loop whose whole state goes through every update (on-policy:
    parameters, optimiser moments, counters), kept flat (`FlatTree`) for a chunk:
    `enter(state) -> flat` once, then each iteration `learn(flat, replace, rollout,
    learn_key) -> (flat, packed metrics, next keys)`, where `replace` holds the fields
    changed outside the update (the key, a memory policy's state), and `leave(flat)`
    gives the state back. Policies read the flat state through `view` inside their
    own compiled call.
    """

    def __init__(
        self,
        learn: Callable,
        next_keys: Callable[[jax.Array], Any],
        source: Callable[[], str | None] | None = None,
    ):
        super().__init__(learn, next_keys, source)
        self._layout: FlatTree | None = None
        self._pack = CachedJit(self._pack_state, source=self.program_source)
        self._unpack = CachedJit(self._unpack_state, source=self.program_source)

    def program_source(self) -> str | None:
        """The loop's words and the flat layout (programs unpack with it)."""
        words = super().program_source()
        if words is None:
            return None
        return f"{words}\0{self.layout.treedef}\0{self.layout.specs}"

    def _pack_state(self, state: Any) -> tuple[jax.Array, ...]:
        return self.layout.pack(state)

    def _unpack_state(self, flat: tuple[jax.Array, ...]) -> Any:
        return self.layout.unpack(flat)

    @property
    def layout(self) -> FlatTree:
        """The flat state's layout, set by the first `enter`."""
        if self._layout is None:
            raise RuntimeError("FlatLearn.enter(state) comes first")
        return self._layout

    def enter(self, state: Any) -> tuple[jax.Array, ...]:
        """The state laid flat, for the chunk's calls."""
        layout = FlatTree(state)
        if self._layout is None:
            self._layout = layout
        elif layout != self._layout:  # the compiled calls unpack with the first layout
            raise ValueError("the loop state changed structure between chunks")
        return self._pack(state)

    def leave(self, flat: tuple[jax.Array, ...]) -> Any:
        """The state back from its flat form."""
        return self._unpack(flat)

    def view(self, flat: tuple[jax.Array, ...]) -> Any:
        """The state inside a compiled call that takes the flat form."""
        return self.layout.unpack(flat)

    def _learn(  # type: ignore[override]
        self, flat: tuple[jax.Array, ...], replace: dict[str, Any], data: Any, learn_key: jax.Array
    ) -> tuple:
        state = self.view(flat)._replace(**replace)
        state, packed, keys = super()._learn(state, data, learn_key)
        return self.layout.pack(state), packed, keys

    def __call__(  # type: ignore[override]
        self, flat: tuple[jax.Array, ...], replace: dict[str, Any], data: Any, learn_key: jax.Array
    ) -> tuple:
        """(flat state, packed metrics [M], the next iteration's keys)."""
        return self._call(flat, replace, data, learn_key)
