"""Parameters shared by asynchronous workers (A3C): one copy that every worker reads
from and applies its gradients to.

The algorithm's state (parameters, optimiser statistics, update clock) lives in
writable numpy arrays, one per dtype (`runtime.FlatTree`). A worker reads a copy
(`read`), computes a gradient with it, and `apply` applies the gradient to whatever
the shared state is by then, with the algorithm's own `apply`:

- lock-free (the default, Hogwild-style as in A3C; Recht et al. 2011): the change
  `apply(s, g) - s` is added in place, so concurrent applies interleave element by
  element and none is lost whole. Values an apply sets rather than moves (an
  optimiser's injected learning rate, set afresh before every step) then hold a sum
  of such writes between steps; nothing reads them before the next apply sets them;
- with `lock=True`, read-apply-write runs under one lock: the applies are serial, and
  one worker trains as the synchronous algorithm does (up to the rounding of
  programs compiled apart).

`version` counts the applies; the staleness of a gradient is the number of applies
made by others between its worker's read and its own apply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from ascent.runtime import CachedJit, FlatTree


class SharedParams:
    """The algorithm state that workers share; thread-safe."""

    def __init__(self, algo_state: Any, apply: Callable[[Any, Any], Any], *, lock: bool = False):
        self.layout = FlatTree(algo_state)
        self._algo_apply = apply
        self._pack = CachedJit(self.layout.pack)
        self._unpack = CachedJit(self.layout.unpack)
        self._new = CachedJit(self._new_state)
        self._change = CachedJit(self._change_of_state)
        self.locked = lock
        self._apply_lock = threading.Lock() if lock else None
        self._count = threading.Lock()  # guards `version` alone
        self.load(algo_state)

    def load(self, algo_state: Any) -> None:
        """Share `algo_state` from now on (laid out as the first), at version 0; not
        while workers apply."""
        if FlatTree(algo_state) != self.layout:
            raise ValueError("the shared state changed structure")
        self.arrays = [np.array(a) for a in jax.device_get(self._pack(algo_state))]
        # booleans cannot be moved by a difference: they are set, in both modes
        self._added = [np.issubdtype(a.dtype, np.number) for a in self.arrays]
        self.version = 0

    def read(self) -> tuple[tuple[np.ndarray, ...], int]:
        """A private copy of the flat state (unpack it with `layout`) and its version."""
        version = self.version
        return tuple(a.copy() for a in self.arrays), version

    def state(self) -> Any:
        """The shared state as a pytree (for checkpoints and evaluation)."""
        return self._unpack(self.read()[0])

    def _new_state(self, flat: tuple[jax.Array, ...], grads: Any) -> tuple[jax.Array, ...]:
        return self.layout.pack(self._algo_apply(self.layout.unpack(flat), grads))

    def _change_of_state(self, flat: tuple[jax.Array, ...], grads: Any) -> tuple[jax.Array, ...]:
        new = self._new_state(flat, grads)
        return tuple(
            n - o if jax.numpy.issubdtype(o.dtype, jax.numpy.number) else n
            for n, o in zip(new, flat, strict=True)
        )

    def apply(self, grads: Any) -> int:
        """Apply `grads` to the shared state; returns the version it made (1, 2, ...)."""
        if self._apply_lock is not None:
            with self._apply_lock:
                new = self._new(self.read()[0], grads)
                for target, value in zip(self.arrays, new, strict=True):
                    np.copyto(target, np.asarray(value))
                return self._bump()
        change = self._change(self.read()[0], grads)
        for target, value, added in zip(self.arrays, change, self._added, strict=True):
            if added:
                np.add(target, np.asarray(value), out=target)
            else:
                np.copyto(target, np.asarray(value))
        return self._bump()

    def _bump(self) -> int:
        with self._count:
            self.version += 1
            return self.version
