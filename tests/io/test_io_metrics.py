"""Metric logs: CSV rows flushed at once, widened headers, TensorBoard scalars."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from tensorboardX.proto.event_pb2 import Event

from ascent.errors import AscentError
from ascent.io import MetricsLogger, read_metrics


def tb_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Scalars in the TensorBoard event files under run_dir/tb (TFRecord framing)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for f in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        data = f.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = Event.FromString(data[pos + 12 : pos + 12 + length])
            pos += 12 + length + 4
            for v in event.summary.value:
                out.setdefault(v.tag, []).append((event.step, v.simple_value))
    return out


def test_rows_are_on_disk_before_close_and_read_back(tmp_path: Path) -> None:
    logger = MetricsLogger(tmp_path, tensorboard=False)
    logger.log(100, {"env_steps": 100, "episode_return": 9.5})
    # flushed at once: another reader sees the row while the logger is still open
    assert (tmp_path / "metrics.csv").read_text() == "step,env_steps,episode_return\n100,100,9.5\n"
    logger.log(200, {"env_steps": jnp.asarray(200), "episode_return": np.float32(0.1)})
    logger.close()
    logger.close()  # twice is fine
    m = read_metrics(tmp_path)
    assert list(m) == ["step", "env_steps", "episode_return"]
    np.testing.assert_array_equal(m["step"], [100.0, 200.0])
    np.testing.assert_array_equal(m["env_steps"], [100.0, 200.0])
    assert m["episode_return"][1] == np.float32(0.1)
    assert m["step"].dtype == np.float64


def test_new_keys_widen_the_header_and_old_rows_get_empty_cells(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path, tensorboard=False) as logger:
        logger.log(1, {"loss": 0.5})
        logger.log(2, {"loss": 0.25, "approx_kl": 0.01})
        logger.log(3, {"approx_kl": 0.02})  # a missing key is an empty cell
        assert logger.columns == ["step", "loss", "approx_kl"]
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines == ["step,loss,approx_kl", "1,0.5,", "2,0.25,0.01", "3,,0.02"]
    m = read_metrics(tmp_path / "metrics.csv")
    assert math.isnan(m["approx_kl"][0]) and math.isnan(m["loss"][2])
    np.testing.assert_array_equal(m["loss"][:2], [0.5, 0.25])
    assert not list(tmp_path.glob(".metrics.csv*"))  # no temporary files left behind


def test_non_finite_values_go_to_csv_but_not_tensorboard(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path) as logger:
        logger.log(10, {"loss": 1.5, "grad_norm": float("inf")})
        logger.log(20, {"loss": float("nan"), "grad_norm": 2.0})
    assert (tmp_path / "metrics.csv").read_text().splitlines()[1:] == ["10,1.5,inf", "20,nan,2.0"]
    m = read_metrics(tmp_path)
    assert np.isinf(m["grad_norm"][0]) and np.isnan(m["loss"][1])
    scalars = tb_scalars(tmp_path)
    assert scalars["loss"] == [(10, 1.5)]
    assert scalars["grad_norm"] == [(20, 2.0)]


def test_reopening_appends_to_a_resumed_run(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path, tensorboard=False) as logger:
        logger.log(1, {"a": 1.0, "b": 2.0})
    with open(tmp_path / "metrics.csv", "a") as f:
        f.write("2,3.0")  # a row cut by a crash, without its newline
    with MetricsLogger(tmp_path, tensorboard=False) as logger:
        assert logger.columns == ["step", "a", "b"]
        logger.log(3, {"b": 4.0})
    m = read_metrics(tmp_path)
    np.testing.assert_array_equal(m["step"], [1, 2, 3])
    np.testing.assert_array_equal(m["a"][:2], [1.0, 3.0])
    assert np.isnan(m["b"][1]) and m["b"][2] == 4.0


def test_bad_input_is_reported(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path, tensorboard=False) as logger:
        with pytest.raises(ValueError, match="reserved"):
            logger.log(1, {"step": 1.0})
        with pytest.raises(ValueError, match="scalar"):
            logger.log(1, {"x": np.ones(3)})
    with pytest.raises(AscentError, match="does not exist") as err:
        read_metrics(tmp_path / "nope")
    assert "nope" in str(err.value)
    bad = tmp_path / "bad.csv"
    bad.write_text("step,x\n1,abc\n")
    with pytest.raises(AscentError, match=r"bad.csv line 2, column 'x'"):
        read_metrics(bad)
    bad.write_text("time,x\n1,2\n")
    with pytest.raises(AscentError, match="'step' column"):
        read_metrics(bad)


def test_drop_rows_after_keeps_rows_up_to_the_step(tmp_path: Path) -> None:
    from ascent.io.metrics import drop_rows_after

    with MetricsLogger(tmp_path, tensorboard=False) as log:
        for step in (100, 200, 300, 400):
            log.log(step, {"loss": step / 100})
    assert drop_rows_after(tmp_path, 250) == 2
    assert read_metrics(tmp_path)["step"].tolist() == [100, 200]
    assert drop_rows_after(tmp_path, 250) == 0
