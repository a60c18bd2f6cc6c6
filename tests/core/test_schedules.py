"""Schedules: the parser's accepted forms and errors, values of the built optax
schedules at chosen update counts, and the canonical string round trip."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from ascent.core.schedules import Schedule, as_schedule
from ascent.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3e-4, Schedule("constant", 3e-4)),
        (2, Schedule("constant", 2.0)),
        (np.float32(0.5), Schedule("constant", 0.5)),
        ("3e-4", Schedule("constant", 3e-4)),
        ("constant(0.5)", Schedule("constant", 0.5)),
        ("linear(1e-3, 0)", Schedule("linear", 1e-3, 0.0)),
        ("  Linear( 1e-3 ,0 ) ", Schedule("linear", 1e-3, 0.0)),
        ("exponential(1e-2, 1e-4)", Schedule("exponential", 1e-2, 1e-4)),
        ("cosine(1e-3, 0)", Schedule("cosine", 1e-3, 0.0)),
        ("lin_1e-3", Schedule("linear", 1e-3, 0.0)),
        ("lin_0.0003", Schedule("linear", 3e-4, 0.0)),
        ({"kind": "linear", "init": 1e-3, "end": 0.0}, Schedule("linear", 1e-3, 0.0)),
        ({"kind": "constant", "init": 1}, Schedule("constant", 1.0)),
    ],
)
def test_as_schedule_accepts(value, expected):
    parsed = as_schedule(value)
    assert parsed == expected
    assert isinstance(parsed.init, float)


def test_as_schedule_returns_schedule_itself():
    schedule = Schedule("cosine", 1.0, 0.1)
    assert as_schedule(schedule) is schedule


@pytest.mark.parametrize(
    "value",
    [
        "fast",
        "linear(1e-3)",
        "linear(a, b)",
        "step(1, 2)",
        "constant(1, 2)",
        "exponential(1e-2, 0)",
        "exponential(1e-2, -1e-4)",
        "nan",
        "inf",
        "lin_",
        None,
        True,
        [1e-3, 0.0],
        {"kind": "linear", "init": 1e-3},
        {"kind": "linear", "init": 1e-3, "end": 0.0, "steps": 10},
        {"kind": "warp", "init": 1.0, "end": 0.0},
        {"init": 1.0},
        {"kind": "linear", "init": "fast", "end": 0.0},
    ],
)
def test_as_schedule_rejects(value):
    with pytest.raises(ConfigError, match="accepted: a number"):
        as_schedule(value)


def test_as_schedule_error_names_field():
    with pytest.raises(ConfigError, match=r"^lr: .*'fast'.*lin_1e-3"):
        as_schedule("fast", "lr")


def test_schedule_constructor_validates():
    with pytest.raises(ConfigError, match="kind"):
        Schedule("step", 1.0, 0.0)
    with pytest.raises(ConfigError, match="same sign"):
        Schedule("exponential", 0.0, 1.0)
    with pytest.raises(ConfigError, match="needs an end"):
        Schedule("cosine", 1.0)


def values(schedule: Schedule, total: int, counts: list[int]) -> np.ndarray:
    fn = schedule.build(total)
    return np.array([float(fn(c)) for c in counts])


def test_constant():
    np.testing.assert_allclose(values(Schedule("constant", 0.5), 10, [0, 5, 10, 20]), 0.5)


def test_linear():
    got = values(as_schedule("linear(1.0, 0.2)"), 10, [0, 5, 10, 20])
    np.testing.assert_allclose(got, [1.0, 0.6, 0.2, 0.2], rtol=1e-6)
    got = values(as_schedule("lin_1e-3"), 4, [0, 1, 4])
    np.testing.assert_allclose(got, [1e-3, 7.5e-4, 0.0], rtol=1e-6, atol=1e-12)


def test_exponential():
    got = values(as_schedule("exponential(1e-2, 1e-4)"), 10, [0, 5, 10, 30])
    np.testing.assert_allclose(got, [1e-2, 1e-3, 1e-4, 1e-4], rtol=1e-5)
    # Growing, and negative: both reach `end` at total and hold it after.
    got = values(Schedule("exponential", 1e-4, 1e-2), 10, [0, 5, 10, 30])
    np.testing.assert_allclose(got, [1e-4, 1e-3, 1e-2, 1e-2], rtol=1e-5)
    got = values(Schedule("exponential", -1.0, -0.01), 10, [0, 5, 10, 30])
    np.testing.assert_allclose(got, [-1.0, -0.1, -0.01, -0.01], rtol=1e-5)


def test_cosine():
    got = values(as_schedule("cosine(1.0, 0.2)"), 10, [0, 5, 10, 20])
    np.testing.assert_allclose(got, [1.0, 0.6, 0.2, 0.2], rtol=1e-6)
    quarter = 0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi / 4))
    np.testing.assert_allclose(values(Schedule("cosine", 1.0, 0.2), 8, [2]), [quarter], rtol=1e-6)
    # init = 0 (a warm-up from 0): no division by init.
    got = values(Schedule("cosine", 0.0, 1.0), 10, [0, 5, 10, 20])
    np.testing.assert_allclose(got, [0.0, 0.5, 1.0, 1.0], atol=1e-6)


def test_build_is_jittable():
    fn = jax.jit(as_schedule("cosine(1.0, 0.0)").build(100))
    assert float(fn(50)) == pytest.approx(0.5, abs=1e-6)


def test_build_rejects_bad_total():
    with pytest.raises(ConfigError, match="total"):
        Schedule("linear", 1.0, 0.0).build(0)


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (Schedule("constant", 3e-4), "0.0003"),
        (Schedule("linear", 1e-3, 0.0), "linear(0.001, 0.0)"),
        (Schedule("exponential", 1e-2, 1e-5), "exponential(0.01, 1e-05)"),
        (Schedule("cosine", -0.5, 2.0), "cosine(-0.5, 2.0)"),
    ],
)
def test_str_round_trips(schedule, text):
    assert str(schedule) == text
    assert as_schedule(text) == schedule


def test_is_constant_and_hashable():
    assert as_schedule(0.1).is_constant
    assert Schedule("linear", 0.1, 0.1).is_constant
    assert not as_schedule("linear(0.1, 0)").is_constant
    assert len({as_schedule("lin_1e-3"), as_schedule("linear(1e-3, 0)")}) == 1
    with pytest.raises(AttributeError):
        as_schedule(0.1).init = 0.2  # type: ignore[misc]
