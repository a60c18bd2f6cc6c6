"""The catalog: algorithms by name (single-agent and team), their tuned presets, and
building a validated config from defaults, a preset and overrides. The front layer
above `algos` and `marl`: it names every algorithm, so nothing below imports it."""

from ascent.catalog.registry import (
    ALGORITHMS,
    algorithm_class,
    build_algorithm,
    make_config,
    preset,
    presets,
)
from ascent.catalog.settings import build_config

__all__ = [
    "ALGORITHMS",
    "algorithm_class",
    "build_algorithm",
    "build_config",
    "make_config",
    "preset",
    "presets",
]
