"""The maths: returns and advantages, losses, distributions, schedules.

Pure, jittable `jnp` functions with no state and no I/O; each formula's docstring
gives the equation, the shapes and its source. Algorithms compose these. Each keeps its
inputs' dtype: float32 in, float32 out; float64 in (under `jax_enable_x64`), float64
out, exact to float64 round-off (tests/core/test_x64.py).
"""

from __future__ import annotations

from ascent.core.distributions import Categorical, DiagGaussian
from ascent.core.losses import (
    clipped_surrogate_loss,
    explained_variance,
    masked_mean,
    normalize_advantages,
    policy_gradient_loss,
    value_loss,
)
from ascent.core.returns import (
    VTrace,
    discounted_returns,
    ends_within,
    gae,
    n_step_returns,
    td_errors,
    vtrace,
)
from ascent.core.schedules import Schedule, as_schedule

__all__ = [
    "Categorical",
    "DiagGaussian",
    "Schedule",
    "VTrace",
    "as_schedule",
    "clipped_surrogate_loss",
    "discounted_returns",
    "ends_within",
    "explained_variance",
    "gae",
    "masked_mean",
    "n_step_returns",
    "normalize_advantages",
    "policy_gradient_loss",
    "td_errors",
    "value_loss",
    "vtrace",
]
