"""Checkpoints: any pytree of arrays as a folder of `state.safetensors` + `meta.json`.

Layout of a checkpoint folder:

    state.safetensors   the flattened leaves, keyed by `jax.tree_util.keystr` of each leaf path
    meta.json           the caller's meta, format version, library version, the leaf list
                        (key, dtype, shape), `str(treedef)` and the SHA-256 of state.safetensors

A save is atomic: both files go into a temporary sibling folder, are fsync-ed, and the folder
is renamed into place, so a crash leaves either the previous checkpoint or the new one. A load
never unpickles anything (safetensors and JSON only), and every failure is a `CheckpointError`
whose one-line message names the file (docs/design.md, "Contracts: Checkpoint").
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from ascent.errors import CheckpointError
from ascent.io._files import dumps_json, fsync_dir, read_bounded, write_file_durably

FORMAT = 1
STATE_FILE = "state.safetensors"
META_FILE = "meta.json"
CHECKPOINTS_DIR = "checkpoints"
MAX_META_BYTES = 64 * 2**20  # meta.json, and a safetensors header, are never this large
STEP_DIGITS = 12
_STEP_NAME = re.compile(r"step_(\d+)")

# dtypes that safetensors.numpy writes *and* reads back; other fixed-size dtypes (bfloat16,
# float8 variants) are stored as their bits in an unsigned integer of the same width.
_NATIVE_DTYPES = frozenset(
    np.dtype(name)
    for name in "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 "
    "float16 float32 float64 complex64".split()
)
_BITS_DTYPES = {
    1: np.dtype("uint8"),
    2: np.dtype("uint16"),
    4: np.dtype("uint32"),
    8: np.dtype("uint64"),
}

PathLike = str | os.PathLike[str]


def checkpoint_path(run_dir: PathLike, step: int) -> Path:
    """Where a run keeps its checkpoint at `step`: `run_dir/checkpoints/step_<12-digit step>`."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return Path(run_dir) / CHECKPOINTS_DIR / f"step_{step:0{STEP_DIGITS}d}"


def _library_version() -> str:
    # Imported here, not at the top, so that io never takes part in an import cycle.
    try:
        from ascent._version import __version__
    except ImportError:
        return "unknown"
    return str(__version__)


def _is_prng_key(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _storable(dtype: np.dtype) -> bool:
    """Whether a dtype can be saved: a native one, or an ml_dtypes one (bfloat16, float8...)."""
    if dtype in _NATIVE_DTYPES:
        return True
    if dtype.kind != "V" or dtype.itemsize not in _BITS_DTYPES:
        return False
    try:
        return np.dtype(jnp.dtype(dtype.name)) == dtype
    except TypeError:
        return False


def _c_order(arr: np.ndarray) -> np.ndarray:
    # not np.ascontiguousarray: it turns a 0-d array into shape (1,)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _encode_leaf(key: str, leaf: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """A leaf as the numpy array to store, and its entry in meta.json's leaf list."""
    if _is_prng_key(leaf):
        data = np.asarray(jax.random.key_data(leaf))
        entry = {
            "key": key,
            "dtype": str(leaf.dtype),
            "shape": list(leaf.shape),
            "encoding": "prng_key_data",
            "impl": str(jax.random.key_impl(leaf)),
            "stored_dtype": data.dtype.name,
            "stored_shape": list(data.shape),
        }
        return _c_order(data), entry
    arr = np.asarray(leaf)
    if not _storable(arr.dtype):
        raise TypeError(
            f"checkpoint leaf {key!r} has dtype {arr.dtype}, which cannot be stored; "
            "checkpoints hold numeric and boolean arrays only"
        )
    entry: dict[str, Any] = {"key": key, "dtype": arr.dtype.name, "shape": list(arr.shape)}
    if arr.dtype not in _NATIVE_DTYPES:
        bits = _BITS_DTYPES[arr.dtype.itemsize]
        arr = _c_order(arr).view(bits)
        entry.update(encoding="bits", stored_dtype=bits.name, stored_shape=list(arr.shape))
    return _c_order(arr), entry


def _decode_leaf(arr: np.ndarray, entry: Mapping[str, Any]) -> np.ndarray:
    """Undo the `bits` encoding; PRNG key data stays raw (it is wrapped against a template)."""
    if entry.get("encoding") == "bits":
        return arr.view(np.dtype(jnp.dtype(entry["dtype"])))
    return arr


_UNFINISHED: dict[Path, tuple[Path, Path]] = {}  # a save's temporary folder -> (path, old)
_UNFINISHED_LOCK = threading.Lock()


def _write_folder_atomic(path: Path, files: Mapping[str, bytes]) -> None:
    """Create folder `path` holding `files`, replacing an earlier checkpoint there atomically."""
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    tmp = parent / f".{path.name}.tmp-{token}"
    old = parent / f".{path.name}.old-{token}"
    os.mkdir(tmp)  # honours the umask, unlike tempfile.mkdtemp's 0o700
    with _UNFINISHED_LOCK:
        _UNFINISHED[tmp] = (path, old)
    replaced = False
    try:
        for name, data in files.items():
            write_file_durably(tmp / name, data)
        fsync_dir(tmp)
        if path.exists():
            os.rename(path, old)
            replaced = True
        try:
            os.rename(tmp, path)
        except BaseException:
            if replaced:  # put the previous checkpoint back before giving up
                os.rename(old, path)
                replaced = False
            raise
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        with _UNFINISHED_LOCK:
            _UNFINISHED.pop(tmp, None)
    if replaced:
        shutil.rmtree(old, ignore_errors=True)


def discard_unfinished_saves() -> None:
    """Remove the temporary folder of every save still being written, by any thread, and
    put back a checkpoint one of them had moved aside: for a process about to end at once
    (`os._exit`, train/signals.py) while another thread is saving, so that only whole
    checkpoints are left. Each folder is renamed before it is removed, so the writer's
    next file fails instead of recreating it."""
    with _UNFINISHED_LOCK:
        unfinished = list(_UNFINISHED.items())
    for tmp, (path, old) in unfinished:
        trash = tmp.with_name(tmp.name.replace(".tmp-", ".discarded-", 1))
        try:
            os.rename(tmp, trash)
        except OSError:  # renamed into place already, or removed by its writer
            trash = tmp
        shutil.rmtree(trash, ignore_errors=True)
        if old.exists() and not path.exists():
            os.rename(old, path)


def _check_replaceable(path: Path) -> None:
    """Refuse to overwrite anything at `path` that is not (an empty folder or) a checkpoint."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        raise CheckpointError(
            f"cannot save a checkpoint to {path}: it exists and is not a folder "
            "— choose another path"
        )
    foreign = sorted(p.name for p in path.iterdir() if p.name not in (STATE_FILE, META_FILE))
    if foreign:
        raise CheckpointError(
            f"cannot save a checkpoint to {path}: the folder holds other files "
            f"({', '.join(foreign[:3])}) and would be replaced — choose another path"
        )


def save_checkpoint(path: PathLike, tree: Any, meta: Mapping[str, Any]) -> Path:
    """Save pytree `tree` and JSON-serialisable `meta` as a checkpoint folder at `path`.

    Leaves may be jax or numpy arrays, numpy scalars or Python bool/int/float; typed PRNG key
    arrays are stored as `jax.random.key_data` and marked in meta.json. An existing checkpoint
    at `path` is replaced atomically (renamed away, the new one renamed in, the old deleted).
    Returns `path`. Raises TypeError for a leaf or meta value that cannot be stored, and
    CheckpointError if `path` holds something other than a checkpoint.
    """
    path = Path(path)
    meta = dict(meta)
    leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    tensors: dict[str, np.ndarray] = {}
    entries: list[dict[str, Any]] = []
    for key_path, leaf in leaves_with_paths:
        key = jax.tree_util.keystr(key_path)
        if key in tensors:  # distinct paths with the same text, e.g. custom key types
            raise TypeError(f"two checkpoint leaves share the key {key!r}")
        tensors[key], entry = _encode_leaf(key, leaf)
        entries.append(entry)
    dumps_json(meta)  # fail on an unserialisable meta before any file is touched
    _check_replaceable(path)

    state_bytes = safetensors.numpy.save(tensors)
    record = {
        "format": FORMAT,
        "ascent_version": _library_version(),
        "saved_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "sha256": {STATE_FILE: hashlib.sha256(state_bytes).hexdigest()},
        "leaves": entries,
        "treedef": str(treedef),
        "meta": meta,
    }
    _write_folder_atomic(
        path, {STATE_FILE: state_bytes, META_FILE: dumps_json(record).encode("utf-8")}
    )
    return path


def _layout_error(meta_path: Path, what: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint file {meta_path} has an unknown layout ({what}); "
        "it was not written by Ascent's save_checkpoint or was edited — use another checkpoint"
    )


def _valid_shape(shape: Any) -> bool:
    return isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)


def _valid_entry(entry: Any) -> bool:
    """One item of meta.json's leaf list, as `_encode_leaf` writes it."""
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("key"), str)
        and isinstance(entry.get("dtype"), str)
        and _valid_shape(entry.get("shape"))
    ):
        return False
    encoding = entry.get("encoding")
    if encoding is None:
        return True
    stored_ok = isinstance(entry.get("stored_dtype"), str) and _valid_shape(
        entry.get("stored_shape")
    )
    if encoding == "bits":
        return stored_ok
    return encoding == "prng_key_data" and stored_ok and isinstance(entry.get("impl"), str)


def _read_record(path: Path) -> dict[str, Any]:
    """meta.json of the checkpoint at `path`, checked for the fields Ascent relies on."""
    if not path.exists():
        raise CheckpointError(
            f"checkpoint {path} does not exist — check the path (a run keeps its checkpoints "
            f"in <run>/{CHECKPOINTS_DIR}/ and the last one in <run>/final/)"
        )
    if not path.is_dir():
        raise CheckpointError(
            f"checkpoint {path} is not a folder — a checkpoint is a folder holding "
            f"{STATE_FILE} and {META_FILE}"
        )
    meta_path = path / META_FILE
    try:
        text = read_bounded(meta_path, MAX_META_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise CheckpointError(
            f"checkpoint file {meta_path} is missing; the checkpoint is incomplete "
            "— use another checkpoint"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"checkpoint file {meta_path} cannot be read ({e})") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckpointError(
            f"checkpoint file {meta_path} is not valid JSON (line {e.lineno}: {e.msg}); "
            "it was modified or truncated — use another checkpoint"
        ) from None
    if not isinstance(record, dict):
        raise _layout_error(meta_path, "not a JSON object")
    fmt = record.get("format")
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt < 1:
        raise _layout_error(meta_path, f"'format' is {fmt!r}, not a format number (1, 2, ...)")
    if fmt > FORMAT:
        raise CheckpointError(
            f"checkpoint file {meta_path} has format {fmt}, newer than this Ascent "
            f"({_library_version()}) reads (up to {FORMAT}) — upgrade Ascent"
        )
    sha = record.get("sha256")
    if not isinstance(sha, dict) or not isinstance(sha.get(STATE_FILE), str):
        raise _layout_error(meta_path, f"no SHA-256 for {STATE_FILE}")
    leaves = record.get("leaves")
    if not isinstance(leaves, list) or not all(_valid_entry(e) for e in leaves):
        raise _layout_error(meta_path, "a malformed 'leaves' list")
    if not isinstance(record.get("meta"), dict):
        raise _layout_error(meta_path, "no 'meta' object")
    return record


def read_meta(path: PathLike, *, full: bool = False) -> dict[str, Any]:
    """The `meta` dict given to `save_checkpoint` (reads meta.json only, no tensors).

    With `full=True`, the whole meta.json record: format, ascent_version, saved_at, sha256,
    leaves, treedef and meta. Failures raise CheckpointError naming the file.
    """
    record = _read_record(Path(path))
    return record if full else record["meta"]


def _read_tensors(path: Path, record: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The verified tensors of state.safetensors, decoded to their saved dtypes."""
    state_path = path / STATE_FILE
    try:
        data = _read_safetensors(state_path)
    except FileNotFoundError:
        raise CheckpointError(
            f"checkpoint file {state_path} is missing; the checkpoint is incomplete "
            "— use another checkpoint"
        ) from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint file {state_path} cannot be read ({e})") from None
    if hashlib.sha256(data).hexdigest() != record["sha256"][STATE_FILE]:
        raise CheckpointError(
            f"checkpoint file {state_path} is corrupt (SHA-256 mismatch); "
            "it was modified or truncated — use another checkpoint"
        )
    try:
        stored = safetensors.numpy.load(data)
    except (SafetensorError, KeyError, ValueError, TypeError) as e:
        raise CheckpointError(
            f"checkpoint file {state_path} cannot be decoded ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}) — use another checkpoint"
        ) from None

    entries = record["leaves"]
    expected = [e["key"] for e in entries]
    if sorted(expected) != sorted(stored):
        missing = [k for k in expected if k not in stored]
        extra = [k for k in stored if k not in set(expected)]
        raise CheckpointError(
            f"checkpoint file {state_path} does not match {path / META_FILE}: "
            f"leaves missing {missing[:5]}, unlisted {extra[:5]} — use another checkpoint"
        )
    arrays: dict[str, np.ndarray] = {}
    for entry in entries:
        key = entry["key"]
        arr = stored[key]
        want_dtype = entry.get("stored_dtype", entry["dtype"])
        want_shape = tuple(entry.get("stored_shape", entry["shape"]))
        if arr.dtype.name != want_dtype or arr.shape != want_shape:
            raise CheckpointError(
                f"checkpoint file {state_path} does not match {path / META_FILE}: leaf {key!r} "
                f"is {arr.dtype.name}{list(arr.shape)} but listed as "
                f"{want_dtype}{list(want_shape)} — use another checkpoint"
            )
        try:
            arrays[key] = _decode_leaf(arr, entry)
        except (TypeError, ValueError) as e:
            raise CheckpointError(
                f"checkpoint file {path / META_FILE}: leaf {key!r} has dtype "
                f"{entry['dtype']!r}, which this JAX cannot read ({e})"
            ) from None
    return arrays


def _read_safetensors(path: Path) -> bytes:
    """The bytes of a safetensors file, read no further than its header says it goes:
    ValueError for a device, a folder, or a file longer or shorter than its header."""
    with path.open("rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", head)
        if length > min(MAX_META_BYTES, info.st_size - 8):
            raise ValueError(f"its header claims {length} bytes, more than the file holds")
        try:
            header = json.loads(f.read(length))
            end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
                      default=0)  # fmt: skip
        except (ValueError, TypeError, KeyError, IndexError) as e:
            raise ValueError(f"its header cannot be read ({type(e).__name__})") from None
        size = 8 + length + end
        if size != info.st_size:
            raise ValueError(f"{info.st_size} bytes where its header says {size}")
        f.seek(0)
        return f.read(size)


def _template_signature(leaf: Any) -> tuple[str, tuple[int, ...]]:
    """(dtype name, shape) a template leaf expects, in the terms of meta.json's leaf list."""
    if _is_prng_key(leaf):
        return str(leaf.dtype), tuple(leaf.shape)
    if hasattr(leaf, "dtype") and hasattr(leaf, "shape"):  # arrays and ShapeDtypeStruct
        return np.dtype(leaf.dtype).name, tuple(leaf.shape)
    arr = np.asarray(leaf)  # Python scalars, the way save_checkpoint converts them
    return arr.dtype.name, arr.shape


def _restore_leaf(arr: np.ndarray, entry: Mapping[str, Any], like: Any, meta_path: Path) -> Any:
    """`arr` in the form of template leaf `like`: jax/numpy array, numpy or Python scalar."""
    if entry.get("encoding") == "prng_key_data":
        try:
            key = jax.random.wrap_key_data(jnp.asarray(arr), impl=entry["impl"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(
                f"checkpoint file {meta_path}: leaf {entry['key']!r} holds PRNG keys of "
                f"implementation {entry['impl']!r}, which this JAX cannot rebuild ({e})"
            ) from None
        return jax.device_put(key, like.sharding) if isinstance(like, jax.Array) else key
    if isinstance(like, jax.Array):
        if like.weak_type and arr.ndim == 0:
            # a Python scalar that entered the state (e.g. jnp.asarray(0.0)) is weakly typed;
            # keeping it so leaves dtype promotion and jit's cache key as they were.
            weak = jnp.asarray(arr.item())
            if weak.dtype == arr.dtype:
                return jax.device_put(weak, like.sharding)
        return jax.device_put(arr, like.sharding)
    if isinstance(like, jax.ShapeDtypeStruct):
        sharding = getattr(like, "sharding", None)
        return jax.device_put(arr, sharding) if sharding is not None else jnp.asarray(arr)
    if isinstance(like, np.ndarray):
        return arr
    if isinstance(like, np.generic):
        return arr[()]
    if isinstance(like, bool | int | float | complex):
        return type(like)(arr.item())
    return arr


def _under(key: str, subtrees: tuple[str, ...]) -> bool:
    """Whether leaf `key` (`.env.obs`) lies in one of `subtrees` (`.env`)."""
    return any(key == s or key.startswith((f"{s}.", f"{s}[")) for s in subtrees)


def load_checkpoint(
    path: PathLike, template: Any = None, *, fresh: tuple[str, ...] = ()
) -> tuple[Any, dict[str, Any]]:
    """Load the checkpoint folder at `path`; returns `(tree, meta)`.

    The SHA-256 of state.safetensors and its leaf list are checked against meta.json first.
    With `template` (a pytree of the saved structure; arrays or `jax.ShapeDtypeStruct`s),
    `tree` has the template's structure and leaf kinds (jax arrays on the template's devices,
    numpy arrays, Python scalars, typed PRNG keys), and keys, shapes and dtypes must match.
    Without one, `tree` is `{leaf key: numpy array}` (PRNG keys as their raw key data).
    `fresh` names subtrees (`.env`) taken from the template whatever the checkpoint holds
    there (a state saved with another door's environments). `meta` is the dict given to
    `save_checkpoint`. Every failure raises CheckpointError.
    """
    path = Path(path)
    record = _read_record(path)
    arrays = _read_tensors(path, record)
    meta = record["meta"]
    if template is None:
        return arrays, meta

    entries = {e["key"]: e for e in record["leaves"] if not _under(e["key"], fresh)}
    leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    kept = [(jax.tree_util.keystr(p), leaf) for p, leaf in leaves_with_paths]
    template_keys = [k for k, _ in kept if not _under(k, fresh)]
    leaves_with_paths = [(p, leaf) for p, leaf in leaves_with_paths
                         if not _under(jax.tree_util.keystr(p), fresh)]  # fmt: skip
    problems: list[str] = []
    missing = [k for k in template_keys if k not in entries]
    extra = [k for k in entries if k not in set(template_keys)]
    if missing:
        problems.append(f"not in the checkpoint: {', '.join(missing[:4])}")
    if extra:
        problems.append(f"not in the template: {', '.join(extra[:4])}")
    for key, (_, leaf) in zip(template_keys, leaves_with_paths, strict=True):
        if key not in entries:
            continue
        want_dtype, want_shape = _template_signature(leaf)
        have_dtype, have_shape = entries[key]["dtype"], tuple(entries[key]["shape"])
        if have_shape != want_shape:
            problems.append(f"{key} has shape {have_shape} here but {want_shape} in the template")
        if have_dtype != want_dtype:
            problems.append(f"{key} has dtype {have_dtype} here but {want_dtype} in the template")
    if problems:
        shown = "; ".join(problems[:4]) + (
            f"; and {len(problems) - 4} more" if len(problems) > 4 else ""
        )
        raise CheckpointError(
            f"checkpoint {path} does not match the expected state: {shown} "
            "— load it with the algorithm and configuration it was saved with"
        )
    restored = [
        leaf
        if _under(key, fresh)
        else _restore_leaf(arrays[key], entries[key], leaf, path / META_FILE)
        for key, leaf in kept
    ]
    return jax.tree_util.tree_unflatten(treedef, restored), meta


def check_finite_state(tree: Any, path: PathLike) -> None:
    """CheckpointError naming the first leaf of `tree` (loaded from checkpoint `path`)
    that holds NaN or inf: a run never saves one, so the file was damaged or edited."""
    for key_path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if _is_prng_key(leaf):
            continue
        arr = np.asarray(leaf)
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            raise CheckpointError(
                f"checkpoint {path} holds non-finite values in "
                f"{jax.tree_util.keystr(key_path)}; it was damaged or edited — use another "
                "checkpoint"
            )


def list_checkpoints(folder: PathLike) -> list[tuple[int, Path]]:
    """Every `step_<n>` folder (complete or not) as (n, path), oldest first.

    `folder` is a run folder (its `checkpoints/` is searched) or a checkpoints folder
    itself. Temporary folders of an unfinished save (`.step_<n>.tmp-*`) are not listed.
    """
    folder = Path(folder)
    search = folder / CHECKPOINTS_DIR if (folder / CHECKPOINTS_DIR).is_dir() else folder
    if not search.is_dir():
        return []
    return sorted(
        (int(m.group(1)), child)
        for child in search.iterdir()
        if (m := _STEP_NAME.fullmatch(child.name)) and child.is_dir()
    )


def latest_checkpoint(folder: PathLike) -> Path | None:
    """The checkpoint `step_<n>` with the largest n that has a complete meta.json, or None
    (`folder` as for `list_checkpoints`). Resuming does not use this: it stops at a
    damaged newest checkpoint instead of passing over it."""
    for _, child in reversed(list_checkpoints(folder)):
        try:
            _read_record(child)
        except CheckpointError:
            continue
        if (child / STATE_FILE).is_file():
            return child
    return None


def prune_checkpoints(folder: PathLike, keep: int) -> list[Path]:
    """Delete all but the `keep` newest `step_<n>` checkpoints in `folder`; returns the deleted.

    Each is renamed out of the checkpoints' names first (`.step_<n>.old-*`), so an
    interrupted deletion leaves no half-deleted checkpoint behind."""
    steps = list_checkpoints(folder)
    doomed = [child for _, child in steps[: max(0, len(steps) - keep)]]
    for child in doomed:
        aside = child.with_name(f".{child.name}.old-{uuid.uuid4().hex[:12]}")
        try:
            os.rename(child, aside)
        except OSError:  # kept, as an undeletable one always was
            continue
        shutil.rmtree(aside, ignore_errors=True)
    return doomed
