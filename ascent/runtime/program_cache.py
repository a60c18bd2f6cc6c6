"""Compiled programs kept on disk and found again by their jaxpr, so that a warm start
skips lowering, or by words naming them, so that it skips tracing too.

JAX's persistent compilation cache (`enable_compile_cache`) saves XLA's work, but to
find a program it first lowers the traced program to StableHLO and hashes that, a
visible part of a short run's start (benchmarks/results/design_notes.md). `CachedJit`
keys the executable by what tracing gives, the jaxpr (with its constants, the arguments'
types and donation, the JAX and XLA versions, flags and configuration), so a warm start
traces, hashes and loads the executable, and never lowers.

Tracing still costs time on a warm start (design_notes.md). A program whose caller can
say in words everything it depends on besides its arguments and Ascent's own code
(`CachedJit(fn, source=...)`: the loop's class, algorithm and config, the environment's
id and spaces) is also kept under a key made of those words, the arguments' types, a
digest of Ascent's source files and the versions of JAX and the libraries traced
through, so a warm start neither traces nor lowers. The words must name every input of
the trace: a loop returns None (trace, as above) for an environment or algorithm defined
outside Ascent and gymnax, and ASCENT_SOURCE_KEYS=0 in the environment turns these keys
off (for code that patches Ascent's functions).

The executables live in `ascent-programs/` inside JAX's cache folder; without a cache
folder (`enable_compile_cache` not called) `CachedJit` is `jax.jit`. A program that
cannot be saved (host callbacks, closed-over constants the serializer refuses), or whose
executable was read back from a cache rather than compiled by XLA, is compiled as
usual and not kept. Loading an executable runs native code from the cache folder, which
JAX's own cache does too (and JAX serializes an executable with pickle): the folders
must be only yours to write, which `program_folder` checks (one line, CacheError,
otherwise). What Ascent adds around an executable (the output's tree structure) is
JSON, read without importing anything.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import os
import struct
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ascent.runtime.compile_cache import private_folder

FOLDER = "ascent-programs"
# a program kept by its source key: MAGIC, the header's length (8 bytes, little-endian),
# the header (JSON: the output's tree structure) and the compressed executable
MAGIC = b"ascent-program 1\n"


def program_folder() -> Path | None:
    """Where executables are kept: inside JAX's compilation cache folder, if one is set.
    Both folders must be private (`private_folder`: CacheError otherwise)."""
    base = jax.config.jax_compilation_cache_dir
    if not base:
        return None
    private_folder(Path(base))
    return private_folder(Path(base) / FOLDER)


def _hasher(*parts: str) -> Any:
    """SHA-256 of `parts` and of what any executable depends on here: the device, the
    XLA flags and JAX's configuration (more may be added to the hash returned)."""
    device = jax.devices()[0]
    h = hashlib.sha256()
    for part in (
        *parts,
        device.platform,
        device.device_kind,
        device.client.platform_version,
        os.environ.get("XLA_FLAGS", ""),
        repr(sorted(jax.config.values.items())),
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h


def program_key(traced: Any) -> str | None:
    """SHA-256 of everything that decides the executable of a traced program, or None
    when it is not to be saved (it calls back into Python, or holds constants)."""
    jaxpr = str(traced.jaxpr)
    if "callback" in jaxpr or traced._consts:
        return None
    h = _hasher(
        jaxpr,
        str(jax.tree.leaves(traced.args_info)),  # types, weak types, donation
        jax.__version__,
        jax.lib.__version__,
    )
    for const in traced.jaxpr.consts:  # values the jaxpr closes over
        array = np.asarray(const)
        h.update(f"{array.dtype}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


# the libraries a program is traced through; their versions go into source keys
TRACED_LIBRARIES = ("jax", "jaxlib", "flax", "optax", "numpy", "gymnasium", "gymnax", "chex")


@functools.lru_cache(maxsize=1)
def ascent_source_digest() -> str:
    """SHA-256 of every Python file of the `ascent` package, by path and content."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@functools.cache
def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def _versions() -> str:
    return ",".join(f"{name}={_version(name)}" for name in TRACED_LIBRARIES)


def source_key(fn: Callable[..., Any], source: str, args: tuple) -> str | None:
    """SHA-256 of a program named in words: `source` (what it depends on besides its
    arguments and Ascent's code), the function's qualified name, the arguments' types,
    Ascent's source digest, the traced libraries' versions, and the device, XLA flags
    and JAX configuration. None when source keys are off or the name is ambiguous."""
    if os.environ.get("ASCENT_SOURCE_KEYS", "1") == "0":
        return None
    name = getattr(fn, "__qualname__", None)
    if name is None or "<lambda>" in name:
        return None
    leaves, treedef = jax.tree.flatten(args)
    types = [(np.shape(x), str(jax.numpy.result_type(x)), getattr(x, "weak_type", False))
             for x in leaves]  # fmt: skip
    return _hasher(
        source,
        f"{getattr(fn, '__module__', '')}.{name}",
        str(treedef),
        str(types),
        ascent_source_digest(),
        _versions(),
    ).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, path)  # atomic: a reader sees the whole file or none


def compile_program(
    jitted: Any, args: tuple, source: str | None = None, fn: Any = None
) -> Callable[..., Any]:
    """The executable of `jitted(*args)`: loaded from the program folder when there
    (by its source key, when `source` names it, without tracing; else by its jaxpr),
    else compiled (JAX's own cache still applies) and saved there."""
    folder = program_folder()
    if folder is None:
        return jitted
    from jax.experimental.serialize_executable import deserialize_and_load, serialize

    in_tree = jax.tree.structure((args, {}))
    named = None if source is None else source_key(fn or jitted, source, args)
    named_path = None if named is None else folder / f"source-{named}"
    if named_path is not None and named_path.is_file():
        try:
            out_tree, blob = _read_named(named_path.read_bytes())
            return deserialize_and_load(blob, in_tree, out_tree)
        except Exception:  # noqa: BLE001 - unreadable or from another build: trace anew
            pass

    traced = jitted.trace(*args)
    key = program_key(traced)
    if key is None:
        return jitted
    path = folder / f"{traced.fun_name[:40]}-{key}"
    blob = None
    compiled = None
    if path.is_file():
        try:
            blob = zlib.decompress(path.read_bytes())
            compiled = deserialize_and_load(blob, in_tree, traced.out_tree)
        except Exception:  # noqa: BLE001 - unreadable or from another build: compile anew
            blob = None
    if compiled is None:
        before = compile_counts()
        compiled = traced.lower().compile()
        xla, hits = compile_counts()
        if (xla, hits) != (before[0] + 1, before[1]):
            # not compiled by XLA just now but read back (JAX's persistent cache, or its
            # in-memory one holding an executable read from disk): such an executable,
            # serialized again, loads but fails to run (jax 0.10.2, CPU), so it is not kept
            return compiled
        try:
            blob, _, _ = serialize(compiled)
        except (ValueError, NotImplementedError):  # this executable cannot be serialized
            return compiled
        _write_atomically(path, zlib.compress(blob, 1))
    if named_path is not None and blob is not None:
        data = _named_file(traced.out_tree, blob)
        if data is not None:
            _write_atomically(named_path, data)
    return compiled


def _named_file(out_tree: Any, blob: bytes) -> bytes | None:
    """A program's file under its source key, or None when its output's structure
    cannot be written down (`encode_treedef`)."""
    encoded = encode_treedef(out_tree)
    if encoded is None:
        return None
    header = json.dumps({"out_tree": encoded}).encode()
    return MAGIC + struct.pack("<Q", len(header)) + header + zlib.compress(blob, 1)


def _read_named(data: bytes) -> tuple[Any, bytes]:
    """(output tree structure, executable) from `_named_file`'s bytes; ValueError if
    they are not such a file."""
    if not data.startswith(MAGIC):
        raise ValueError("not a program file")
    start = len(MAGIC) + 8
    (length,) = struct.unpack("<Q", data[len(MAGIC) : start])
    header = json.loads(data[start : start + length])
    return decode_treedef(header["out_tree"]), zlib.decompress(data[start + length :])


def encode_treedef(treedef: Any) -> Any:
    """A pytree structure as JSON-ready data (a leaf is 0; a node is [type, aux data,
    children]), or None if a node's type or aux data has no such form. Read back by
    `decode_treedef`, without pickle."""

    def encode(node: Any) -> Any:
        data = node.node_data()
        if data is None:
            return 0
        kind, aux = data
        return [f"{kind.__module__}:{kind.__qualname__}", _encode_aux(aux),
                [encode(child) for child in node.children()]]  # fmt: skip

    try:
        encoded = encode(treedef)
        return encoded if decode_treedef(encoded) == treedef else None
    except (TypeError, ValueError, AttributeError):
        return None


def _encode_aux(aux: Any) -> Any:
    if aux is None or isinstance(aux, bool | int | float | str):
        return aux
    if type(aux) is tuple:
        return {"tuple": [_encode_aux(x) for x in aux]}
    if type(aux) is list:
        return [_encode_aux(x) for x in aux]
    raise TypeError(f"aux data of type {type(aux).__name__}")


def _decode_aux(aux: Any) -> Any:
    if isinstance(aux, dict):
        return tuple(_decode_aux(x) for x in aux["tuple"])
    if isinstance(aux, list):
        return [_decode_aux(x) for x in aux]
    return aux


_LEAF = jax.tree.structure(0)


def decode_treedef(encoded: Any) -> Any:
    """The pytree structure `encode_treedef` wrote. Node types are found among modules
    already imported (nothing is imported) and must be classes; ValueError otherwise."""
    if encoded == 0:
        return _LEAF
    name, aux, children = encoded
    module, _, qualname = name.partition(":")
    kind: Any = type(None) if name == "builtins:NoneType" else sys.modules.get(module)
    for part in qualname.split(".") if kind is not type(None) else ():
        kind = getattr(kind, part, None)
    if not isinstance(kind, type):
        raise ValueError(f"{name} is not a loaded class")
    kids = [decode_treedef(child) for child in children]
    return jax.tree_util.PyTreeDef.from_node_data_and_children(
        jax.tree_util.default_registry, (kind, _decode_aux(aux)), kids
    )


_gc_lock = threading.Lock()
_gc_pausers = 0  # blocks inside `paused_gc`, in every thread
_gc_was_enabled = False  # the collector's state when the first of them entered


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (tracing, compiling).

    Tracing makes many short-lived objects, so the collector runs often, and each full
    pass walks every object JAX and Flax hold (benchmarks/results/design_notes.md). The
    garbage waits for the next collection after. The switch is the process's: with
    several threads tracing at once, the collector comes back on (if it was on) when the
    last of them leaves its block.

    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


class _Compiles(threading.local):
    """Counts of JAX's events in this thread (JAX compiles on the calling thread):
    compilations asked of the backend (XLA, or JAX's persistent cache in its stead) and
    hits in that cache. A program compiled by XLA adds one to the first and none to the
    second; one found in JAX's in-memory cache adds nothing."""

    xla = 0
    cache_hits = 0


_compiles = _Compiles()


def compile_counts() -> tuple[int, int]:
    """(backend compilations, persistent-cache hits) so far in the calling thread."""
    return _compiles.xla, _compiles.cache_hits


def _on_duration(event: str, duration: float, **_: Any) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _compiles.xla += 1


def _on_event(event: str, **_: Any) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _compiles.cache_hits += 1


jax.monitoring.register_event_duration_secs_listener(_on_duration)
jax.monitoring.register_event_listener(_on_event)


class CachedJit:
    """`jax.jit(fn, **jit_options)` whose executable comes from `compile_program`.

    Calls go straight to the last executable called (JAX's C++ dispatch, as fast as
    `jax.jit`'s); if the arguments' structure, shapes or dtypes differ from those it was
    compiled for, it raises TypeError before running, and the program for the new
    arguments is taken from those compiled before or found or compiled. No static
    arguments: bind them with a closure.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        source: Callable[[], str | None] | None = None,
        **jit_options: Any,
    ):
        self.fn = fn
        self.jit_options = jit_options
        self.jitted = jax.jit(fn, **jit_options)
        # what the program depends on besides its arguments, in words (see the module's
        # docstring), asked for at the first call; the jit options are part of it
        self.source = source
        self._options = repr(sorted(jit_options.items()))
        self._program: Callable[..., Any] | None = None  # the last one called
        self._programs: dict[Any, Callable[..., Any]] = {}  # by the arguments' kinds
        self._lock = threading.Lock()  # one thread compiles; the others wait for it

    def __reduce__(self) -> tuple:
        # the function and options travel; the executable is found again where they land
        return _cached_jit, (self.fn, self.source, self.jit_options)

    def __call__(self, *args: Any) -> Any:
        tried = self._program
        if tried is not None:
            try:
                return tried(*args)
            except TypeError:  # other argument types than the program was compiled for
                pass
        kinds = _argument_kinds(args)
        with self._lock, paused_gc():  # the first call of the jitted fallback traces too
            program = self._programs.get(kinds)  # compiled before, or by another thread
            if program is None:
                words = self.source() if self.source is not None else None
                if words is not None:
                    words = f"{words}\0{self._options}"
                program = compile_program(self.jitted, args, words, self.fn)
                self._programs[kinds] = program
            self._program = program
            return program(*args)


def _argument_kinds(args: tuple) -> tuple:
    """What a compiled program is specific to: the arguments' structure, shapes, dtypes."""
    leaves, treedef = jax.tree.flatten(args)
    return treedef, tuple(
        (np.shape(x), str(getattr(x, "dtype", type(x).__name__)), getattr(x, "weak_type", False))
        for x in leaves
    )


def _cached_jit(fn: Callable[..., Any], source: Any, jit_options: dict[str, Any]) -> CachedJit:
    return CachedJit(fn, source, **jit_options)
