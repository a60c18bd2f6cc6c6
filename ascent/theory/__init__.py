"""Exact quantities on small tabular MDPs, and the library's estimators measured against them.

`TabularMDP` and its exact value, visitation, objective and policy gradient
(`ascent.theory.exact`); Monte-Carlo policy-gradient estimators built from
`ascent.core` (`ascent.theory.estimators`); a policy's true value at the states of
recorded episodes, the yardstick of critics' estimates (`ascent.theory.monte_carlo`);
the lab behind `ascent theory pg`
(`ascent.theory.pg_lab`); an estimator's exact mean and covariance by enumerating every
trajectory of a tiny MDP, and the variance of gradient estimates measured from batches
(`ascent.theory.variance`); the softmax's saturation and the gradient through it at a
fresh attention layer, dot against scaled dot (`ascent.theory.attention`). Nothing here
changes JAX's global settings: the lab runs in float64 inside `jax.enable_x64`.
"""

from __future__ import annotations

from ascent.theory.attention import InitStats, attention_at_init, saturation
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
from ascent.theory.monte_carlo import MonteCarloValues, horizon, monte_carlo_values
from ascent.theory.pg_lab import (
    GradientStats,
    PGLabConfig,
    PGLabReport,
    gradient_stats,
    make_mdp,
    run_pg_lab,
    table_estimators,
)
from ascent.theory.variance import (
    GradientMoments,
    all_trajectories,
    exact_moments,
    gradient_moments,
    relative_bias,
    variance_ratio,
)

__all__ = [
    "KINDS",
    "Estimator",
    "GradientMoments",
    "GradientStats",
    "InitStats",
    "MonteCarloValues",
    "PGLabConfig",
    "PGLabReport",
    "TabularMDP",
    "Trajectories",
    "all_trajectories",
    "attention_at_init",
    "autodiff_policy_gradient",
    "estimate",
    "exact_moments",
    "exact_policy_gradient",
    "gradient_moments",
    "gradient_stats",
    "horizon",
    "make_mdp",
    "monte_carlo_values",
    "objective",
    "policy_probs",
    "q_values",
    "relative_bias",
    "run_pg_lab",
    "sample_trajectories",
    "saturation",
    "signal",
    "table_estimators",
    "trajectory_gradients",
    "value",
    "variance_ratio",
    "visitation",
]
