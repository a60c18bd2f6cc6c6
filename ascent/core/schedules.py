"""Schedules for any coefficient (learning rate, entropy coefficient, clip range).

A `Schedule` is a small frozen value (hashable, printable, storable in a config);
`Schedule.build(total)` turns it into an optax schedule of the update count
0..total. `as_schedule` is the one parser from user input (number, string, table).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import optax
from jax import Array

from ascent.errors import ConfigError

KINDS = ("constant", "linear", "exponential", "cosine")

_ACCEPTED = (
    "a number (3e-4), 'constant(0.5)', 'linear(1e-3, 0)', 'exponential(1e-2, 1e-4)', "
    "'cosine(1e-3, 0)', 'lin_1e-3' (linear to 0), or a table "
    "{kind = 'linear', init = 1e-3, end = 0.0}"
)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
_CALL = re.compile(rf"^(\w+)\s*\(\s*({_NUMBER})\s*(?:,\s*({_NUMBER})\s*)?\)$")
_RL_ZOO_LINEAR = re.compile(rf"^lin_({_NUMBER})$")


@dataclass(frozen=True)
class Schedule:
    """A coefficient that moves from `init` to `end` over training.

    kind: "constant" (init throughout; end unused), "linear", "exponential"
    (geometric, end > 0 with the sign of init) or "cosine" (half cosine), each
    reaching `end` at the last update and holding it after.
    """

    kind: str
    init: float
    end: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown schedule kind {self.kind!r}; use one of {KINDS}")
        object.__setattr__(self, "init", _finite(self.init, "init"))
        if self.end is not None:
            object.__setattr__(self, "end", _finite(self.end, "end"))
        if self.kind == "constant":
            if self.end is not None and self.end != self.init:
                raise ConfigError(
                    f"a constant schedule has no end (got init={self.init}, "
                    f"end={self.end}); use 'linear(init, end)'"
                )
            return
        if self.end is None:
            raise ConfigError(
                f"a {self.kind} schedule needs an end value: '{self.kind}(init, end)'"
            )
        if self.kind == "exponential" and not self.end * self.init > 0:
            raise ConfigError(
                f"an exponential schedule needs init and end non-zero with the "
                f"same sign (got {self.init}, {self.end})"
            )

    @classmethod
    def traced(cls, kind: str, init: Array, end: Array | None = None) -> Schedule:
        """A constant or linear schedule whose init and end are traced arrays, for a
        sweep's configurations trained in one vmapped program (`ascent.tuning.sweep`),
        whose numbers were checked as a Schedule each first. It builds as `build` does;
        it is neither printed nor stored."""
        if kind not in ("constant", "linear"):
            raise ConfigError(f"only constant and linear schedules are traced, not {kind!r}")
        schedule = object.__new__(cls)
        for name, value in (("kind", kind), ("init", init), ("end", end)):
            object.__setattr__(schedule, name, value)
        return schedule

    @property
    def is_constant(self) -> bool:
        """True when the value never changes (a constant, or init == end)."""
        return self.kind == "constant" or self.end == self.init

    def __str__(self) -> str:
        """Canonical form, read back by `as_schedule`: '0.0003' or 'linear(0.001, 0.0)'."""
        if self.kind == "constant":
            return repr(self.init)
        return f"{self.kind}({self.init!r}, {self.end!r})"

    def build(self, total: int) -> optax.Schedule:
        """The optax schedule over update counts 0..total (value at total is `end`).

        linear: init + (end − init)·c/total (optax.linear_schedule);
        exponential: init·(end/init)^(c/total) (optax.exponential_decay);
        cosine: end + (init − end)·½(1 + cos(π c/total)) (optax.cosine_decay_schedule;
        Loshchilov & Hutter 2017, eq. 5). All hold `end` for c > total.
        """
        if not isinstance(total, int) or total < 1:
            raise ConfigError(f"a schedule needs total >= 1 updates, got {total!r}")
        init, end = self.init, self.end
        if self.kind == "constant" or end is None:
            return optax.constant_schedule(init)
        if self.kind == "linear":
            return optax.linear_schedule(init, end, total)
        if self.kind == "exponential":
            # optax clamps with max() when decaying; a negative init decays upwards,
            # so build the positive mirror image and negate it.
            sign = 1.0 if init > 0 else -1.0
            decay = optax.exponential_decay(
                sign * init, total, decay_rate=end / init, end_value=sign * end
            )
            return decay if sign > 0 else lambda count: -decay(count)
        if init != 0:
            return optax.cosine_decay_schedule(init, total, alpha=end / init)
        # alpha = end/init is undefined for init = 0: scale the unit cosine instead.
        unit = optax.cosine_decay_schedule(1.0, total)

        def rise(count: Array | int) -> Array:
            return end * (1.0 - jnp.asarray(unit(count)))

        return rise


def _finite(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x):
        raise ConfigError(f"schedule {name} must be a finite number, got {x!r}")
    return float(x)


def _parse_string(text: str) -> Schedule:
    text = text.strip().lower()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        return Schedule("constant", number)
    if match := _RL_ZOO_LINEAR.match(text):
        return Schedule("linear", float(match.group(1)), 0.0)
    if match := _CALL.match(text):
        kind, init, end = match.groups()
        if kind not in KINDS:
            raise ConfigError(f"unknown schedule kind {kind!r}")
        return Schedule(kind, float(init), None if end is None else float(end))
    raise ConfigError(f"cannot read {text!r} as a schedule")


def _parse_table(table: Mapping[Any, Any]) -> Schedule:
    unknown = set(table) - {"kind", "init", "end"}
    if unknown:
        raise ConfigError(f"unknown schedule keys {sorted(map(str, unknown))}")
    if "kind" not in table or "init" not in table:
        raise ConfigError("a schedule table needs 'kind' and 'init'")
    kind = table["kind"]
    if not isinstance(kind, str):
        raise ConfigError(f"schedule kind must be a string, got {kind!r}")
    return Schedule(kind.strip().lower(), table["init"], table.get("end"))


def as_schedule(value: Any, field: str | None = None) -> Schedule:
    """Read a schedule from user input (the only parser of schedules in Ascent).

    Accepts a Schedule (returned as is), a number (constant), a string: '3e-4',
    'constant(0.5)', 'linear(1e-3, 0)', 'exponential(1e-2, 1e-4)', 'cosine(1e-3, 0)',
    'lin_1e-3' (RL-Zoo: linear from 1e-3 to 0), or a table {kind, init, end}.
    Anything else raises ConfigError naming `field` and the accepted forms.
    """
    try:
        if isinstance(value, Schedule):
            return value
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return Schedule("constant", value)
        if isinstance(value, str):
            return _parse_string(value)
        if isinstance(value, Mapping):
            return _parse_table(value)
        raise ConfigError(f"cannot read {value!r} as a schedule")
    except ConfigError as error:
        where = f"{field}: " if field else ""
        raise ConfigError(f"{where}{error}; accepted: {_ACCEPTED}") from None
