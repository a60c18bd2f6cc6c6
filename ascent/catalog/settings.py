"""Building a config from values as presets (TOML), meta.json, `--set field=value`
strings and `ascent.make`'s keywords give them: each converted to its field's type,
never truncated. The one place where the names a setting had before are translated."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
import warnings
from typing import Any

from ascent.algos.config import ScheduleLike, config_fields, config_to_dict
from ascent.core.schedules import as_schedule
from ascent.envs.atari import AtariOptions
from ascent.errors import ConfigError

ENV_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(AtariOptions))
"""Environments' options (`--env-option`), named when given as a setting by mistake."""

OLD_NAMES = {
    "policy": "core.kind",
    **{name: f"core.{name}" for name in ("embed_dim", "num_layers", "num_heads", "memory_len")},
    **{name: f"core.{name}" for name in ("score", "position", "norm", "gate")},
}
"""Names of settings before they moved (the core's fields were flat until issue 14):
still read, with a one-line hint, so that old scripts, presets and run folders work."""


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
    """A validated `cls` from defaults updated by `values` (TOML values or strings).

    A nested spec (`core`) takes its fields as `core.<name>` keys, a `core` table (as
    config_to_dict writes it) or a spec object. A name of `OLD_NAMES` is read as its
    new one, with a FutureWarning naming both."""
    kinds = config_fields(cls)
    converted: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        key = name.replace("-", "_")
        if key in OLD_NAMES and OLD_NAMES[key].partition(".")[0] in kinds:
            warnings.warn(
                f"setting {key!r} is now {OLD_NAMES[key]!r}; {key} is read as it",
                FutureWarning,
                stacklevel=2,
            )
            key = OLD_NAMES[key]
        head, _, sub = key.partition(".")
        if head in kinds and dataclasses.is_dataclass(kinds[head]):
            # in order, later values winning: a field, a table, or a whole spec object
            if sub:
                nested.setdefault(head, {})[sub] = value
            elif isinstance(value, dict):
                nested.setdefault(head, {}).update(value)
            elif isinstance(value, kinds[head]):
                nested[head] = dataclasses.asdict(value)
            else:
                raise ConfigError(f"{name} must be a table of settings, got {value!r}")
            continue
        if key not in kinds:
            if key in ENV_OPTION_NAMES:  # the environment's, not the algorithm's
                raise ConfigError(
                    f"{name!r} is an environment option, not a setting of {algo}: "
                    f"--env-option {name}={value} (Python: env_options={{{name!r}: ...}})"
                )
            known = ", ".join(kinds)
            raise ConfigError(f"{algo} has no setting {name!r}; its settings are: {known}")
        converted[key] = _convert(key, kinds[key], value)
    for head, fields in nested.items():
        spec = kinds[head]
        sub_kinds = typing.get_type_hints(spec)
        unknown = sorted(set(fields) - set(sub_kinds))
        if unknown:
            known = ", ".join(f"{head}.{k}" for k in sub_kinds)
            raise ConfigError(
                f"{algo} has no setting {head}.{unknown[0]}; the settings of {head} are: {known}"
            )
        converted[head] = spec(
            **{k: _convert(f"{head}.{k}", sub_kinds[k], v) for k, v in fields.items()}
        )
    config = cls(**converted)
    config.validate()
    return config


def preset_table(config: Any) -> dict[str, Any]:
    """A config as a preset table that `build_config` (`ascent train --config`) reads back
    to the same config: every field, schedules as text, None as "none" (TOML has no
    null, and leaving the field out would let a preset's value back in)."""
    return {k: "none" if v is None else v for k, v in config_to_dict(config).items()}
