"""Loggers: metric names to grouped tags, and a short run written to each real backend
and read back with that library's own reader (TensorBoard's EventAccumulator, MLflow's
client, W&B's record protos)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import ascent
from ascent import cli
from ascent.errors import ConfigError
from ascent.io import read_metrics
from ascent.io.loggers import LOGGERS, logger_names, metric_group, metric_tag, open_loggers

ROWS = [
    (10, {"env_steps": 10, "episode_return": 1.5, "policy_loss": 0.3, "lr": 1e-3}),
    (20, {"env_steps": 20, "episode_return": 2.5, "policy_loss": float("nan"), "lr": 5e-4}),
    (20, {"eval_return": 9.0, "eval_return_std": 0.5}),  # an evaluation's row, as hooks log it
]
TAGS = {
    "time/env_steps": [(10, 10.0), (20, 20.0)],
    "rollout/episode_return": [(10, 1.5), (20, 2.5)],
    "train/policy_loss": [(10, 0.3)],  # the NaN is the CSV's only
    "train/lr": [(10, 1e-3), (20, 5e-4)],
    "eval/return": [(20, 9.0)],
    "eval/return_std": [(20, 0.5)],
}


def write_rows(run_dir: Path, names: str) -> None:
    logger = open_loggers(run_dir, names)
    for step, row in ROWS:
        logger.log(step, row)
    logger.close()


def assert_plain_csv(run_dir: Path) -> None:
    """metrics.csv, the record, keeps the plain names and the NaN."""
    m = read_metrics(run_dir)
    assert list(m) == ["step", "env_steps", "episode_return", "policy_loss", "lr",
                       "eval_return", "eval_return_std"]  # fmt: skip
    np.testing.assert_array_equal(m["step"], [10, 20, 20])
    assert np.isnan(m["policy_loss"][1]) and m["eval_return"][2] == 9.0


def test_metric_names_map_to_the_groups_sb3_users_know() -> None:
    groups = {
        "episode_return": "rollout", "episode_length": "rollout", "episodes": "rollout",
        "episode_return/agent_0": "rollout", "episode_team_return": "rollout",
        "eval_return": "eval", "eval_episodes": "eval",
        "env_steps": "time", "iterations": "time", "train_seconds": "time",
        "steps_per_second": "time",
        "policy_loss": "train", "value_loss": "train", "entropy": "train", "approx_kl": "train",
        "clipfrac": "train", "lr": "train", "grad_norm": "train", "q_loss": "train",
    }  # fmt: skip
    assert {name: metric_group(name) for name in groups} == groups
    assert metric_tag("eval_return_std") == "eval/return_std"
    assert metric_tag("episode_return/agent_1") == "rollout/episode_return/agent_1"
    assert metric_tag("lr") == "train/lr"


def tensorboard_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {
        tag: [(e.step, pytest.approx(e.value)) for e in events.Scalars(tag)]
        for tag in events.Tags()["scalars"]
    }


def test_tensorboard_tags_are_grouped(tmp_path: Path) -> None:
    write_rows(tmp_path, "tb")
    assert tensorboard_scalars(tmp_path / "tb") == TAGS
    assert_plain_csv(tmp_path)


@pytest.mark.slow  # make test's budget (7 minutes on 2 cores): the slow tier
def test_mlflow_run_in_the_folder_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config.json").write_text(
        json.dumps({"algo": "ppo", "env_id": "CartPole-v1", "seed": 3, "config": {"lr": 1e-3}})
    )
    write_rows(tmp_path, "mlflow")
    write_rows(tmp_path, "csv,mlflow")  # a second learn on the folder: the same MLflow run
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ascent")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == tmp_path.name and run.info.status == "FINISHED"
    assert run.data.params == {"algo": "ppo", "env_id": "CartPole-v1", "seed": "3", "lr": "0.001"}
    for tag, points in TAGS.items():
        history = client.get_metric_history(run.info.run_id, tag)
        assert [(m.step, m.value) for m in history] == [*points, *points], tag
    assert not (Path.cwd() / "mlartifacts").exists()


def wandb_records(path: Path) -> list[object]:
    """The records of a `.wandb` file, parsed by wandb's own protos. The framing is
    LevelDB's log format behind a 7-byte header (wandb 0.31 ships no Python reader):
    32 KiB blocks of chunks, each [crc32 4][length 2][kind 1][data]; kind 1 is a whole
    record, 2/3/4 its first/middle/last part."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, parts, pos, block = [], b"", 7, 32 * 1024
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 or pos + 7 + length > len(data):  # the end, or a tail being written
            break
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) == crc
        parts += chunk
        if kind in (1, 4):
            records.append(wandb_internal_pb2.Record.FromString(parts))
            parts = b""
    return records


@pytest.mark.slow  # make test's budget (7 minutes on 2 cores): the slow tier
def test_wandb_offline_run_reads_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    (tmp_path / "config.json").write_text(json.dumps({"algo": "ppo", "config": {"lr": 1e-3}}))
    # written by another process: wandb leaves its service and threads in the process that
    # runs it, and a later Ray test in the same pytest worker then missed its moment to
    # kill a worker, or hung connecting to its own instance
    script = (
        "import math, sys; from ascent.io.loggers import open_loggers; "
        f"logger = open_loggers(sys.argv[1], 'wandb'); rows = {ROWS!r}; "
        "[logger.log(step, row) for step, row in rows]; logger.close()"
    ).replace("nan", "math.nan")
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
    # wandb's service writes the file out shortly after `finish` returns (at once, or by
    # the end of the process): wait for the run's exit record
    deadline = time.monotonic() + 30
    while not any(r.WhichOneof("record_type") == "exit" for r in wandb_records(path)):
        assert time.monotonic() < deadline, "no exit record in the .wandb file"
        time.sleep(0.1)
    records = wandb_records(path)
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert run.display_name == tmp_path.name and run.project == "ascent"
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["algo"] == "ppo" and config["lr"] == 1e-3, config
    seen: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        if record.WhichOneof("record_type") == "history":
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)  # "a/b" comes nested
                if not key.startswith("_"):  # wandb's own _step, _runtime, ...
                    seen.setdefault(key, []).append(
                        (record.history.step.num, json.loads(item.value_json))
                    )
    assert seen == TAGS


def test_unknown_names_and_missing_libraries_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert logger_names("tb, CSV,tb") == ("csv", "tb")  # the CSV always, first, once
    assert logger_names(["wandb"]) == ("csv", "wandb")
    with pytest.raises(
        ConfigError, match=r"unknown logger 'neptune'; known: csv, tb, mlflow, wandb"
    ):
        logger_names("csv,neptune")
    opener, _, extra = LOGGERS["wandb"]
    monkeypatch.setitem(LOGGERS, "wandb", (opener, ("no_such_module_31",), extra))
    with pytest.raises(ConfigError, match=r"pip install 'ascent-rl\[wandb\]'"):
        logger_names("tb,wandb")

    def broken(run_dir: Path) -> None:
        raise ImportError("No module named 'wandb_core'")

    class Opened:  # a logger opened before the broken one
        closed = False

        def __init__(self, run_dir: Path) -> None:
            pass

        def close(self) -> None:
            Opened.closed = True

    monkeypatch.setitem(LOGGERS, "wandb", (broken, (), extra))
    monkeypatch.setitem(LOGGERS, "tb", (Opened, (), "tensorboard"))
    with pytest.raises(ConfigError, match=r"ascent-rl\[wandb\]'.*wandb_core"):
        open_loggers(tmp_path, "tb,wandb")
    assert Opened.closed  # not left open by the failure
    code = cli.main(["train", "ppo", "--env", "CartPole-v1", "--log", "csv,neptune",
                     "--run-dir", str(tmp_path / "run")])  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and "unknown logger 'neptune'" in err[0], err
    assert not (tmp_path / "run").exists()  # refused before anything is made


def test_a_learn_run_writes_grouped_tensorboard_beside_the_csv(tmp_path: Path) -> None:
    agent = ascent.make("ppo", "CartPole-v1", total_steps=256, n_envs=2, minibatch_size=64)
    assert agent.loggers == ("csv", "tb")
    agent.loggers = ("tb",)
    agent.learn(run_dir=tmp_path, progress=False, log_every=1)
    agent.close()
    m = read_metrics(tmp_path)
    scalars = tensorboard_scalars(tmp_path / "tb")
    assert {"rollout/episode_return", "time/env_steps", "train/policy_loss", "train/lr"} <= set(
        scalars
    )
    assert all(tag.split("/")[0] in ("rollout", "train", "time") for tag in scalars)
    assert "env_steps" in m and "policy_loss" in m  # the CSV keeps the plain names
    steps = [step for step, _ in scalars["time/env_steps"]]
    assert steps == m["step"].astype(int).tolist() and len(steps) >= 2
    assert [v for _, v in scalars["time/env_steps"]] == m["env_steps"].tolist()


def test_import_ascent_loads_no_tracker() -> None:
    code = (
        "import sys, ascent, ascent.io.loggers; "
        "print([m for m in ('mlflow', 'wandb', 'tensorboard') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
