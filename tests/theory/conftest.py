"""Theory tests compare against exact quantities at the 1e-6 level: run each in float64.

`jax.enable_x64` is a context, entered per test, so the rest of the suite keeps JAX's
default float32 even when collected in the same session.
"""

from __future__ import annotations

from collections.abc import Iterator

import jax
import pytest


@pytest.fixture(autouse=True)
def float64() -> Iterator[None]:
    with jax.enable_x64(True):
        yield
