"""Checkpoints: bit-exact round trips, no pickle, corruption detected, atomic saves."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
import threading
from pathlib import Path
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ascent
import ascent.io.checkpoint as ckpt
from ascent.errors import CheckpointError
from ascent.io import (
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)


class Counters(NamedTuple):
    steps: Any
    updates: Any


class State(NamedTuple):
    params: dict[str, Any]
    opt_state: Any
    counters: Counters
    key: Any
    flags: Any
    extra: list[Any]


@flax.struct.dataclass
class Normaliser:
    mean: Any
    var: Any
    count: Any


def make_state(seed: int) -> State:
    """A nested state whose every value depends on `seed` (so a template differs)."""
    rng = np.random.default_rng(seed)
    params = {
        "dense": {
            "kernel": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32),
            "bias": jnp.asarray(rng.normal(size=(4,)), jnp.float32),
        },
        "log_std": jnp.asarray(rng.normal(size=(2,)), jnp.bfloat16),
    }
    opt = optax.adam(1e-3)
    opt_state = opt.init(params)
    grads = jax.tree.map(lambda p: jnp.ones_like(p) * (seed + 1), params)
    _, opt_state = opt.update(grads, opt_state, params)
    weird = np.array([np.nan, -0.0, np.inf, 1e-38 * (seed + 1)], np.float32)
    return State(
        params=params,
        opt_state=opt_state,
        counters=Counters(steps=jnp.asarray(1000 * (seed + 1), jnp.int32), updates=seed + 7),
        key=jax.random.split(jax.random.key(seed), 2),
        flags=jnp.asarray([seed % 2 == 0, True, False]),
        extra=[
            np.asarray(rng.integers(0, 2**32 - 1, size=(5,)), np.uint32),
            Normaliser(mean=weird, var=np.float64(seed + 0.5), count=jnp.asarray(float(seed))),
            0.25 * (seed + 1),
            seed % 2 == 0,
        ],
    )


def bits(x: Any) -> tuple[str, tuple[int, ...], bytes]:
    if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    a = np.asarray(x)
    return a.dtype.name, a.shape, a.tobytes()


def test_round_trip_is_bit_exact_and_keeps_structure_and_leaf_kinds(tmp_path: Path) -> None:
    state = make_state(1)
    meta = {"algo": "ppo", "env_id": "CartPole-v1", "config": {"lr": 3e-4}, "env_steps": 2048}
    path = save_checkpoint(tmp_path / "ck", state, meta)
    assert path == tmp_path / "ck"
    assert sorted(p.name for p in path.iterdir()) == ["meta.json", "state.safetensors"]

    template = make_state(2)
    restored, meta_back = load_checkpoint(path, template)
    assert meta_back == meta
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    got = jax.tree.leaves(restored)
    want = jax.tree.leaves(state)
    assert [bits(a) for a in got] == [bits(b) for b in want]
    # the leaf kinds of the template come back: jax arrays, numpy arrays, Python scalars, keys
    assert [type(a) for a in got] == [type(b) for b in want]
    assert jax.dtypes.issubdtype(restored.key.dtype, jax.dtypes.prng_key)
    assert restored.extra[1].count.weak_type  # jnp.asarray(float) is weakly typed
    assert restored.params["log_std"].dtype == jnp.bfloat16
    # a restored key draws the same numbers as the original
    assert np.array_equal(
        jax.random.normal(restored.key[0], (3,)), jax.random.normal(state.key[0], (3,))
    )


def test_load_without_template_gives_numpy_arrays_by_leaf_key(tmp_path: Path) -> None:
    state = make_state(3)
    save_checkpoint(tmp_path / "ck", state, {})
    arrays, meta = load_checkpoint(tmp_path / "ck")
    assert meta == {}
    keys = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]]
    assert list(arrays) == keys
    assert ".counters.steps" in arrays and ".opt_state[0].mu['dense']['kernel']" in arrays
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    assert arrays[".counters.steps"].dtype == np.int32 and arrays[".counters.steps"].shape == ()
    assert arrays[".extra[3]"].dtype == np.bool_ and arrays[".extra[3]"].shape == ()
    np.testing.assert_array_equal(arrays[".extra[0]"], state.extra[0])
    # PRNG keys come back as their raw key data
    np.testing.assert_array_equal(arrays[".key"], jax.random.key_data(state.key))


def test_meta_json_records_version_leaves_treedef_and_sha256(tmp_path: Path) -> None:
    state = make_state(0)
    path = save_checkpoint(tmp_path / "ck", state, {"env_steps": np.int64(5)})
    assert read_meta(path) == {"env_steps": 5}
    record = read_meta(path, full=True)
    assert record["format"] == ckpt.FORMAT
    assert record["ascent_version"] == ascent.__version__
    data = (path / "state.safetensors").read_bytes()
    assert record["sha256"]["state.safetensors"] == hashlib.sha256(data).hexdigest()
    assert record["treedef"] == str(jax.tree.structure(state))
    leaves = {e["key"]: e for e in record["leaves"]}
    assert leaves[".params['dense']['kernel']"]["dtype"] == "float32"
    assert leaves[".params['dense']['kernel']"]["shape"] == [3, 4]
    assert leaves[".key"]["encoding"] == "prng_key_data"
    assert leaves[".key"]["impl"] == "threefry2x32"
    assert leaves[".params['log_std']"]["encoding"] == "bits"


def test_checkpoint_holds_no_pickle_and_loading_never_unpickles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_checkpoint(tmp_path / "ck", make_state(0), {"algo": "ppo"})
    for f in path.iterdir():
        head = f.read_bytes()[:2]
        assert head not in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"), f
    # state.safetensors: an 8-byte little-endian header length, then a JSON header
    data = (path / "state.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    assert header[".counters.steps"]["dtype"] == "I32"
    assert header[".counters.steps"]["shape"] == []
    assert json.loads((path / "meta.json").read_text())["meta"] == {"algo": "ppo"}

    def no_unpickling(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("load_checkpoint unpickled something")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "Unpickler", no_unpickling)
    load_checkpoint(path, make_state(1))


def test_tampered_byte_is_detected_and_names_the_file(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "ck", make_state(0), {})
    state_file = path / "state.safetensors"
    data = bytearray(state_file.read_bytes())
    data[-5] ^= 0x01  # one bit of one parameter
    state_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256") as err:
        load_checkpoint(path)
    assert str(state_file) in str(err.value) and "\n" not in str(err.value)


def test_truncated_state_is_detected_and_names_the_file(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "ck", make_state(0), {})
    state_file = path / "state.safetensors"
    data = state_file.read_bytes()
    state_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, make_state(0))
    assert str(state_file) in str(err.value)


def test_missing_or_broken_files_raise_checkpoint_errors_naming_them(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "ck", {"w": np.ones(3)}, {"a": 1})
    meta_file = path / "meta.json"
    text = meta_file.read_text()

    meta_file.unlink()
    with pytest.raises(CheckpointError, match="missing") as err:
        load_checkpoint(path)
    assert str(meta_file) in str(err.value)
    with pytest.raises(CheckpointError, match="meta.json"):
        read_meta(path)

    meta_file.write_text(text[: len(text) // 2])  # cut JSON
    with pytest.raises(CheckpointError, match="not valid JSON") as err:
        load_checkpoint(path)
    assert str(meta_file) in str(err.value)

    meta_file.write_text(json.dumps({"format": 1}))
    with pytest.raises(CheckpointError, match="unknown layout"):
        read_meta(path)

    meta_file.write_text(text.replace('"format": 1', '"format": 99'))
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(path)

    meta_file.write_text(text)
    (path / "state.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing") as err:
        load_checkpoint(path)
    assert str(path / "state.safetensors") in str(err.value)

    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="not a folder"):
        load_checkpoint(tmp_path / "file")


def test_meta_listing_other_leaves_than_the_file_is_rejected(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "ck", {"a": np.ones(2), "b": np.zeros(3)}, {})
    record = json.loads((path / "meta.json").read_text())
    record["leaves"][0]["key"] = "['z']"
    (path / "meta.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path)


def test_template_mismatch_names_what_differs(tmp_path: Path) -> None:
    tree = {"w": np.ones((2, 3), np.float32), "b": np.zeros(3, np.float32), "n": np.int32(1)}
    path = save_checkpoint(tmp_path / "ck", tree, {})

    with pytest.raises(CheckpointError, match=r"\['w'\] has shape \(2, 3\) here but \(3, 3\)"):
        load_checkpoint(path, {**tree, "w": np.ones((3, 3), np.float32)})
    with pytest.raises(CheckpointError, match=r"\['b'\] has dtype float32 here but float64"):
        load_checkpoint(path, {**tree, "b": np.zeros(3)})
    with pytest.raises(CheckpointError, match=r"not in the checkpoint: \['extra'\]"):
        load_checkpoint(path, {**tree, "extra": np.zeros(1)})
    with pytest.raises(CheckpointError, match=r"not in the template: \['n'\]"):
        load_checkpoint(path, {"w": tree["w"], "b": tree["b"]})
    # an abstract template (shapes and dtypes only) is enough
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), tree)
    restored, _ = load_checkpoint(path, abstract)
    assert isinstance(restored["w"], jax.Array)
    np.testing.assert_array_equal(restored["w"], tree["w"])


def test_fresh_subtrees_come_from_the_template(tmp_path: Path) -> None:
    """A state saved with one door's environments loads on the other door: `fresh`
    subtrees are the template's, whatever the checkpoint holds (or lacks) there."""
    saved = {"algo": {"w": np.arange(3.0, dtype=np.float32)}, "env": {"x": np.ones(2)}}
    path = save_checkpoint(tmp_path / "ck", {**saved, "env_steps": np.int32(7)}, {})
    template = {"algo": {"w": np.zeros(3, np.float32)}, "env": None, "env_steps": np.int32(0)}
    with pytest.raises(CheckpointError, match="not in the template"):
        load_checkpoint(path, template)
    restored, _ = load_checkpoint(path, template, fresh=("['env']",))
    np.testing.assert_array_equal(restored["algo"]["w"], saved["algo"]["w"])
    assert restored["env"] is None and int(restored["env_steps"]) == 7  # not under ['env']
    other = {**template, "env": {"y": np.zeros(4)}}  # the template's own environments
    restored, _ = load_checkpoint(path, other, fresh=("['env']",))
    np.testing.assert_array_equal(restored["env"]["y"], np.zeros(4))


def test_interrupted_save_keeps_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoints" / "step_000000000001"
    save_checkpoint(path, {"w": np.full(4, 1.0)}, {"step": 1})
    real_write = ckpt.write_file_durably

    def crash_while_writing_meta(target: Path, data: bytes) -> None:
        if target.name == "meta.json":
            target.write_bytes(data[:10])  # half a file, then the process "dies"
            raise OSError("disk full")
        real_write(target, data)

    monkeypatch.setattr(ckpt, "write_file_durably", crash_while_writing_meta)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"w": np.full(4, 2.0)}, {"step": 2})
    monkeypatch.undo()

    tree, meta = load_checkpoint(path)
    assert meta == {"step": 1}
    np.testing.assert_array_equal(tree["['w']"], np.full(4, 1.0))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial folders

    # a first save that dies leaves nothing at its path
    fresh = tmp_path / "fresh"
    monkeypatch.setattr(ckpt, "write_file_durably", crash_while_writing_meta)
    with pytest.raises(OSError):
        save_checkpoint(fresh, {"w": np.ones(1)}, {})
    assert not fresh.exists()
    assert not any(p.name.startswith(".fresh") for p in tmp_path.iterdir())


def test_failed_rename_puts_the_previous_checkpoint_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ck"
    save_checkpoint(path, {"w": np.ones(2)}, {"v": 1})
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if ".tmp-" in Path(src).name:
            raise OSError("rename failed")
        real_rename(src, dst)

    monkeypatch.setattr(ckpt.os, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        save_checkpoint(path, {"w": np.zeros(2)}, {"v": 2})
    monkeypatch.undo()
    assert read_meta(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]


@pytest.mark.parametrize("held", ["writing", "moved_aside"])
def test_discarding_another_threads_unfinished_save_leaves_only_whole_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: str
) -> None:
    """What a process ending at once from another thread does (train/signals.py): the
    save in progress goes, the checkpoint it was replacing stays (or comes back)."""
    path = tmp_path / "ck"
    save_checkpoint(path, {"w": np.ones(2)}, {"v": 1})
    reached, release = threading.Event(), threading.Event()
    real_write, real_rename = ckpt.write_file_durably, os.rename

    def write(target: Path, data: bytes) -> None:
        if held == "writing" and target.name == ckpt.META_FILE:
            reached.set()
            release.wait(10)
        real_write(target, data)

    def rename(src: Any, dst: Any) -> None:
        writing = threading.current_thread() is writer
        if held == "moved_aside" and writing and ".tmp-" in Path(src).name:  # path is aside
            reached.set()
            release.wait(10)
        real_rename(src, dst)

    monkeypatch.setattr(ckpt, "write_file_durably", write)
    monkeypatch.setattr(ckpt.os, "rename", rename)
    errors: list[BaseException] = []

    def save() -> None:
        try:
            save_checkpoint(path, {"w": np.zeros(2)}, {"v": 2})
        except BaseException as e:  # noqa: BLE001 - its files were taken away
            errors.append(e)

    writer = threading.Thread(target=save)
    writer.start()
    assert reached.wait(10)
    assert len(list(tmp_path.iterdir())) == 2  # the save's temporary folder is there
    ckpt.discard_unfinished_saves()
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]
    assert read_meta(path) == {"v": 1}
    release.set()
    writer.join(10)
    assert len(errors) == 1 and isinstance(errors[0], OSError)  # the writer's next step fails
    assert read_meta(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]
    assert not ckpt._UNFINISHED


def test_overwrite_replaces_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ck"
    save_checkpoint(path, {"w": np.ones(2)}, {"v": 1})
    save_checkpoint(path, {"w": np.zeros(2)}, {"v": 2})
    tree, meta = load_checkpoint(path, {"w": np.ones(2)})
    assert meta == {"v": 2}
    np.testing.assert_array_equal(tree["w"], np.zeros(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("step\n")
    with pytest.raises(CheckpointError, match="holds other files"):
        save_checkpoint(run, {"w": np.ones(2)}, {})
    assert (run / "metrics.csv").read_text() == "step\n"


def test_unstorable_values_fail_before_writing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="not JSON serialisable"):
        save_checkpoint(tmp_path / "a", {"w": np.ones(1)}, {"bad": object()})
    with pytest.raises(TypeError, match=r"\['s'\]"):
        save_checkpoint(tmp_path / "b", {"s": np.array(["text"])}, {})
    assert list(tmp_path.iterdir()) == []


def test_latest_checkpoint_picks_largest_complete_step(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert latest_checkpoint(run) is None
    for step in (5, 100, 20):
        save_checkpoint(checkpoint_path(run, step), {"s": np.int64(step)}, {"step": step})
    assert checkpoint_path(run, 100).name == "step_000000000100"
    incomplete = checkpoint_path(run, 200)
    incomplete.mkdir()
    (incomplete / "state.safetensors").write_bytes(b"")
    (run / "checkpoints" / ".step_000000000300.tmp-abc").mkdir()
    (run / "checkpoints" / "step_000000000400.txt").write_text("")

    assert latest_checkpoint(run) == checkpoint_path(run, 100)
    assert latest_checkpoint(run / "checkpoints") == checkpoint_path(run, 100)
    tree, meta = load_checkpoint(latest_checkpoint(run))
    assert meta == {"step": 100}
