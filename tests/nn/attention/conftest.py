"""Fixtures for the attention tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import pytest


def _randomize(params: Any, seed: int = 0, scale: float = 0.5) -> Any:
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(
        tree,
        [scale * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves, strict=True)],
    )


@pytest.fixture
def randomize() -> Callable[..., Any]:
    """Every parameter replaced by N(0, scale²) noise, so each term of a formula matters."""
    return _randomize


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
