"""Building a config from values as presets (TOML), meta.json and `--set field=value`
strings give them: each converted to its field's type, never truncated."""

from __future__ import annotations

import math
import types
import typing
from typing import Any

from ascent.algos.config import ScheduleLike, config_fields
from ascent.core.schedules import as_schedule
from ascent.errors import ConfigError


def _convert(name: str, kind: Any, value: Any) -> Any:
    """Convert a TOML value or a command-line string to the field's type."""
    if kind is ScheduleLike or kind == ScheduleLike:
        schedule = as_schedule(value, field=name)
        return schedule.init if schedule.is_constant else schedule
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is int:
            return _whole(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is str:
            return str(value)
        if origin is tuple:
            if isinstance(value, str):
                value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
            return tuple(_whole(v) for v in value)
        if origin in (typing.Union, types.UnionType):
            for option in typing.get_args(kind):
                if option is type(None) and value in (None, "none", "None"):
                    return None
            options = [o for o in typing.get_args(kind) if o is not type(None)]
            return _convert(name, options[0], value)
        if origin is typing.Literal:
            if value not in typing.get_args(kind):
                raise ValueError(value)
            return value
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(
            f"{name}: cannot read {value!r} as {getattr(kind, '__name__', kind)}"
        ) from None
    return value


def _whole(value: Any) -> int:
    """A whole number from a TOML value or a string ("16", "1e5"); ValueError for
    16.9, inf, nan, true and the like (never truncated)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            value = float(text)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError(value)
    if not isinstance(value, int | float):
        raise TypeError(value)
    return int(value)


def build_config(cls: type, values: dict[str, Any], *, algo: str) -> Any:
    """A validated `cls` from defaults updated by `values` (TOML values or strings)."""
    kinds = config_fields(cls)
    converted = {}
    for name, value in values.items():
        key = name.replace("-", "_")
        if key not in kinds:
            known = ", ".join(kinds)
            raise ConfigError(f"{algo} has no setting {name!r}; its settings are: {known}")
        converted[key] = _convert(key, kinds[key], value)
    config = cls(**converted)
    config.validate()
    return config
