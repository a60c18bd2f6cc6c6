"""Compiled programs kept on disk and found again by their jaxpr, so that a warm start
skips lowering.

JAX's persistent compilation cache (`enable_compile_cache`) saves XLA's work, but to
find a program it first lowers the traced program to StableHLO and hashes that: for
PPO's update on CartPole about 0.1 s of lowering before the cached executable is read,
and the first lowering in a process costs more. `CachedJit` keys the executable by what
tracing gives, the jaxpr (with its constants, the arguments' types and donation, the
JAX and XLA versions, flags and configuration), so a warm start traces, hashes and
loads the executable, and never lowers.

The executables live in `ascent-programs/` inside JAX's cache folder; without a cache
folder (`enable_compile_cache` not called) `CachedJit` is `jax.jit`. A program that
cannot be saved (host callbacks, closed-over constants the serializer refuses), or whose
executable was read back from a cache rather than compiled by XLA, is compiled as
usual and not kept. Loading an executable runs native code from the cache folder, which
JAX's own cache does too: it must be a folder only you can write.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

FOLDER = "ascent-programs"


def program_folder() -> Path | None:
    """Where executables are kept: inside JAX's compilation cache folder, if one is set."""
    base = jax.config.jax_compilation_cache_dir
    return Path(base) / FOLDER if base else None


def program_key(traced: Any) -> str | None:
    """SHA-256 of everything that decides the executable of a traced program, or None
    when it is not to be saved (it calls back into Python, or holds constants)."""
    jaxpr = str(traced.jaxpr)
    if "callback" in jaxpr or traced._consts:
        return None
    device = jax.devices()[0]
    h = hashlib.sha256()
    for part in (
        jaxpr,
        str(jax.tree.leaves(traced.args_info)),  # types, weak types, donation
        jax.__version__,
        jax.lib.__version__,
        device.platform,
        device.device_kind,
        device.client.platform_version,
        os.environ.get("XLA_FLAGS", ""),
        repr(sorted(jax.config.values.items())),
    ):
        h.update(part.encode())
        h.update(b"\0")
    for const in traced.jaxpr.consts:  # values the jaxpr closes over
        array = np.asarray(const)
        h.update(f"{array.dtype}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def compile_program(jitted: Any, args: tuple) -> Callable[..., Any]:
    """The executable of `jitted(*args)`: loaded from the program folder when there,
    else compiled (JAX's own cache still applies) and saved there."""
    folder = program_folder()
    if folder is None:
        return jitted
    from jax.experimental.serialize_executable import deserialize_and_load, serialize

    traced = jitted.trace(*args)
    key = program_key(traced)
    if key is None:
        return jitted
    path = folder / f"{traced.fun_name[:40]}-{key}"
    in_tree = jax.tree.structure(traced.args_info)
    if path.is_file():
        try:
            blob = zlib.decompress(path.read_bytes())
            return deserialize_and_load(blob, in_tree, traced.out_tree)
        except Exception:  # noqa: BLE001 - unreadable or from another build: compile anew
            pass
    before = _Compiles.xla, _Compiles.cache_hits
    compiled = traced.lower().compile()
    if (_Compiles.xla, _Compiles.cache_hits) != (before[0] + 1, before[1]):
        # not compiled by XLA just now but read back (JAX's persistent cache, or its
        # in-memory one holding an executable read from disk): such an executable,
        # serialized again, loads but fails to run (jax 0.10.2, CPU), so it is not kept
        return compiled
    try:
        blob, _, _ = serialize(compiled)
    except (ValueError, NotImplementedError):  # this executable cannot be serialized
        return compiled
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(zlib.compress(blob, 1))
    os.replace(partial, path)  # atomic: a reader sees the whole file or none
    return compiled


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (tracing, compiling).

    Tracing makes many short-lived objects, so the collector runs often, and each full
    pass walks every object JAX and Flax hold: about 70 ms of the 180 ms it takes to
    trace PPO's update on CartPole. The garbage waits for the next collection after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Compiles:
    """Counts of JAX's events: compilations asked of the backend (XLA, or JAX's
    persistent cache in its stead) and hits in that cache. A program compiled by XLA
    adds one to the first and none to the second; one found in JAX's in-memory cache
    adds nothing."""

    xla = 0
    cache_hits = 0

    @classmethod
    def on_duration(cls, event: str, duration: float, **_: Any) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            cls.xla += 1

    @classmethod
    def on_event(cls, event: str, **_: Any) -> None:
        if event == "/jax/compilation_cache/cache_hits":
            cls.cache_hits += 1


jax.monitoring.register_event_duration_secs_listener(_Compiles.on_duration)
jax.monitoring.register_event_listener(_Compiles.on_event)


class CachedJit:
    """`jax.jit(fn, **jit_options)` whose executable comes from `compile_program`.

    Calls go straight to the executable (JAX's C++ dispatch, as fast as `jax.jit`'s); if
    the arguments' structure, shapes or dtypes differ from those it was compiled for, it
    raises TypeError before running, and the program for the new arguments is found or
    compiled. No static arguments: bind them with a closure.
    """

    def __init__(self, fn: Callable[..., Any], **jit_options: Any):
        self.jitted = jax.jit(fn, **jit_options)
        self._program: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        if self._program is not None:
            try:
                return self._program(*args)
            except TypeError:  # other argument types than the program was compiled for
                pass
        with paused_gc():  # the first call of the jitted fallback traces too
            self._program = compile_program(self.jitted, args)
            return self._program(*args)
