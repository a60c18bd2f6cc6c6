"""Exact quantities on small tabular MDPs, and the library's estimators measured against them.

`TabularMDP` and its exact value, visitation, objective and policy gradient
(`ascent.theory.exact`); Monte-Carlo policy-gradient estimators built from
`ascent.core` (`ascent.theory.estimators`); the lab behind `ascent theory pg`
(`ascent.theory.pg_lab`). Nothing here changes JAX's global settings: the lab runs in
float64 inside `jax.enable_x64`.
"""

from __future__ import annotations

from ascent.theory.estimators import (
    KINDS,
    Estimator,
    Trajectories,
    estimate,
    sample_trajectories,
    signal,
    trajectory_gradients,
)
from ascent.theory.exact import (
    autodiff_policy_gradient,
    exact_policy_gradient,
    objective,
    policy_probs,
    q_values,
    value,
    visitation,
)
from ascent.theory.mdp import TabularMDP
from ascent.theory.pg_lab import (
    GradientStats,
    PGLabConfig,
    PGLabReport,
    gradient_stats,
    make_mdp,
    run_pg_lab,
    table_estimators,
)

__all__ = [
    "KINDS",
    "Estimator",
    "GradientStats",
    "PGLabConfig",
    "PGLabReport",
    "TabularMDP",
    "Trajectories",
    "autodiff_policy_gradient",
    "estimate",
    "exact_policy_gradient",
    "gradient_stats",
    "make_mdp",
    "objective",
    "policy_probs",
    "q_values",
    "run_pg_lab",
    "sample_trajectories",
    "signal",
    "table_estimators",
    "trajectory_gradients",
    "value",
    "visitation",
]
