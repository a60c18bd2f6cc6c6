"""The tanh-squashed diagonal Gaussian of Soft Actor-Critic.

u ~ N(μ, σ²), a = tanh(u) ∈ (−1, 1)^D. By the change of variables,
log π(a) = log N(u; μ, σ) − Σ_d log(1 − tanh²(u_d)) (Haarnoja et al. 2018, "Soft
Actor-Critic", Appendix C, eq. 21). Log-probabilities are computed from the
pre-squash sample u, never by inverting tanh, so they stay finite at the bounds.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ascent.core.distributions import DiagGaussian

_LOG_2 = math.log(2.0)


def tanh_log_det_jacobian(u: ArrayLike) -> Array:
    """log |det ∂tanh(u)/∂u| = Σ_d log(1 − tanh²(u_d)) = Σ_d 2(log 2 − u_d − softplus(−2u_d)).

    u: [..., D]. Returns [...]. The second form is exact and does not underflow for
    large |u| (as in TensorFlow Probability's Tanh bijector and Spinning Up's SAC).
    """
    u = jnp.asarray(u)
    return jnp.sum(2.0 * (_LOG_2 - u - jax.nn.softplus(-2.0 * u)), axis=-1)


class SquashedGaussian(NamedTuple):
    """a = tanh(u), u ~ N(mean, diag(exp(log_std)²)). mean: [..., D]; log_std like mean."""

    mean: Array
    log_std: Array

    def sample_and_log_prob(self, key: Array) -> tuple[Array, Array]:
        """(a [..., D], log π(a) [...]), reparameterised: gradients flow through a."""
        base = DiagGaussian(self.mean, self.log_std)
        u = base.sample(key)
        return jnp.tanh(u), base.log_prob(u) - tanh_log_det_jacobian(u)

    def log_prob_pre_squash(self, u: ArrayLike) -> Array:
        """log π(tanh(u)) for a pre-squash value u [..., D]. Returns [...]."""
        return DiagGaussian(self.mean, self.log_std).log_prob(u) - tanh_log_det_jacobian(u)

    def mode(self) -> Array:
        """tanh(μ): the squashed mean, the deterministic action. Returns [..., D]."""
        return jnp.tanh(self.mean)
