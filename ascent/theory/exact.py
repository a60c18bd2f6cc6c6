"""Exact values, visitation, objective and policy gradient of a softmax tabular policy.

The policy is π_θ(a|s) = softmax(θ[s])_a with logits θ [S, A]. Everything here is a
pure jnp function of θ, so `jax.grad` goes through the linear solves. Use float64
(`with jax.enable_x64(True):`) for comparisons at the 1e-6 level.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ascent.theory.mdp import TabularMDP


def policy_probs(theta: ArrayLike) -> Array:
    """π(a|s) = exp θ[s, a] / Σ_b exp θ[s, b]. theta: [S, A]. Returns [S, A]."""
    return jax.nn.softmax(jnp.asarray(theta), axis=-1)


def _policy_model(mdp: TabularMDP, theta: ArrayLike) -> tuple[Array, Array, Array]:
    """(π [S, A], P_π [S, S], r_π [S]): the Markov chain and rewards the policy induces."""
    pi = policy_probs(theta)
    P = jnp.asarray(mdp.P, pi.dtype)
    R = jnp.asarray(mdp.R, pi.dtype)
    P_pi = jnp.einsum("sa,sat->st", pi, P)  # P_π[s, s'] = Σ_a π(a|s) P[s, a, s']
    r_pi = jnp.sum(pi * R, axis=-1)  # r_π[s] = Σ_a π(a|s) R[s, a]
    return pi, P_pi, r_pi


def value(mdp: TabularMDP, theta: ArrayLike) -> Array:
    """V^π = (I − γP_π)⁻¹ r_π, the Bellman equation solved exactly. Returns [S].

    (Sutton & Barto 2018, §3.5 and §4.1, the Bellman equation in matrix form.)
    """
    _, P_pi, r_pi = _policy_model(mdp, theta)
    eye = jnp.eye(mdp.n_states, dtype=r_pi.dtype)
    return jnp.linalg.solve(eye - mdp.gamma * P_pi, r_pi)


def q_values(mdp: TabularMDP, theta: ArrayLike) -> Array:
    """Q^π(s, a) = R[s, a] + γ Σ_s' P[s, a, s'] V^π(s'). Returns [S, A].

    (Sutton & Barto 2018, §3.5; a terminating step contributes nothing after its reward.)
    """
    v = value(mdp, theta)
    return jnp.asarray(mdp.R, v.dtype) + mdp.gamma * jnp.asarray(mdp.P, v.dtype) @ v


def visitation(mdp: TabularMDP, theta: ArrayLike) -> Array:
    """Unnormalised discounted visitation d^π(s) = Σ_t γ^t Pr(s_t = s) = [(I − γP_π)⁻ᵀ p0]_s.

    Returns [S]; it sums to the expected discounted episode length, 1/(1 − γ) when no
    episode ends. (Sutton et al. 2000, definition of d^π under Theorem 1.)
    """
    _, P_pi, r_pi = _policy_model(mdp, theta)
    eye = jnp.eye(mdp.n_states, dtype=r_pi.dtype)
    return jnp.linalg.solve((eye - mdp.gamma * P_pi).T, jnp.asarray(mdp.p0, r_pi.dtype))


def objective(mdp: TabularMDP, theta: ArrayLike) -> Array:
    """J(θ) = E[Σ_t γ^t r_t] = Σ_s p0(s) V^π(s). Returns a scalar.

    (Sutton & Barto 2018, eq. 13.4, averaged over the start distribution.)
    """
    v = value(mdp, theta)
    return jnp.dot(jnp.asarray(mdp.p0, v.dtype), v)


def exact_policy_gradient(mdp: TabularMDP, theta: ArrayLike) -> Array:
    """∇J = Σ_s d^π(s) Σ_a ∇_θ π(a|s) Q^π(s, a), the policy gradient theorem. Returns [S, A].

    For the softmax, ∂π(a|s)/∂θ[s, b] = π(a|s)(1[a = b] − π(b|s)) and θ[s] moves only
    π(·|s). (Sutton, McAllester, Singh & Mansour 2000, Theorem 1.)
    """
    pi = policy_probs(theta)
    d, q = visitation(mdp, theta), q_values(mdp, theta)
    eye = jnp.eye(mdp.n_actions, dtype=pi.dtype)
    dpi = pi[:, :, None] * (eye[None] - pi[:, None, :])  # [S, a, b]: ∂π(a|s)/∂θ[s, b]
    return d[:, None] * jnp.einsum("sab,sa->sb", dpi, q)


def autodiff_policy_gradient(mdp: TabularMDP, theta: ArrayLike) -> Array:
    """∇J by reverse-mode differentiation of `objective` through the linear solve. [S, A]."""
    return jax.grad(lambda th: objective(mdp, th))(jnp.asarray(theta))
