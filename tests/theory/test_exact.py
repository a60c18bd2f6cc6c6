"""Exact value, visitation, objective and gradient: hand-computed cases, finite
differences of J, and the theorem's formula against jax.grad through the linear solve."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.theory import (
    TabularMDP,
    autodiff_policy_gradient,
    exact_policy_gradient,
    objective,
    policy_probs,
    q_values,
    value,
    visitation,
)

MDPS = [
    TabularMDP.random(4, 3, seed=1),
    TabularMDP.random(6, 2, seed=2, gamma=0.95, p_end=0.0),
    TabularMDP.random(3, 4, seed=3, gamma=0.5, p_end=0.3),
    TabularMDP.chain(5),
    TabularMDP.grid(3),
]


def logits(mdp: TabularMDP, seed: int = 0) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (mdp.n_states, mdp.n_actions), jnp.float64)


def central_differences(mdp: TabularMDP, theta: jax.Array, h: float = 1e-5) -> np.ndarray:
    theta = np.asarray(theta)
    grad = np.zeros_like(theta)
    for index in np.ndindex(theta.shape):
        step = np.zeros_like(theta)
        step[index] = h
        grad[index] = (objective(mdp, theta + step) - objective(mdp, theta - step)) / (2 * h)
    return grad


def test_runs_in_float64() -> None:
    assert value(MDPS[0], logits(MDPS[0])).dtype == jnp.float64


def test_one_state_by_hand() -> None:
    # One state that never ends, two actions paying 1 and 3, γ = 0.5, π = (1/4, 3/4).
    mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 3.0]]), 0.5, np.ones(1))
    theta = jnp.log(jnp.array([[1.0, 3.0]]))
    r_pi = 0.25 * 1 + 0.75 * 3  # 2.5
    np.testing.assert_allclose(value(mdp, theta), [r_pi / (1 - 0.5)])  # 5
    np.testing.assert_allclose(q_values(mdp, theta), [[1 + 0.5 * 5, 3 + 0.5 * 5]])
    np.testing.assert_allclose(visitation(mdp, theta), [2.0])  # Σ_t 0.5^t
    # ∇J = d·π·(Q − V) = 2·(1/4·(3.5 − 5), 3/4·(5.5 − 5)) = (−0.75, 0.75)
    np.testing.assert_allclose(exact_policy_gradient(mdp, theta), [[-0.75, 0.75]])


@pytest.mark.parametrize("mdp", MDPS, ids=lambda m: m.name)
def test_bellman_and_visitation_identities(mdp: TabularMDP) -> None:
    theta = logits(mdp)
    pi, v, q, d = (
        policy_probs(theta),
        value(mdp, theta),
        q_values(mdp, theta),
        visitation(mdp, theta),
    )
    np.testing.assert_allclose(jnp.sum(pi * q, -1), v, rtol=1e-12)  # V = Σ_a π Q
    # Σ_s d(s) r_π(s) = J: the visitation weights the rewards exactly as the return does
    np.testing.assert_allclose(d @ jnp.sum(pi * mdp.R, -1), objective(mdp, theta), rtol=1e-12)
    if mdp.terminate.max() == 0:
        np.testing.assert_allclose(d.sum(), 1 / (1 - mdp.gamma), rtol=1e-12)


@pytest.mark.parametrize("mdp", MDPS, ids=lambda m: m.name)
def test_exact_gradient_equals_central_differences(mdp: TabularMDP) -> None:
    theta = logits(mdp, seed=7)
    exact = np.asarray(exact_policy_gradient(mdp, theta))
    fd = central_differences(mdp, theta)
    assert np.linalg.norm(exact - fd) <= 1e-6 * np.linalg.norm(exact)


@pytest.mark.parametrize("mdp", MDPS, ids=lambda m: m.name)
def test_theorem_agrees_with_jax_grad_through_the_solve(mdp: TabularMDP) -> None:
    for seed in range(3):
        theta = logits(mdp, seed)
        np.testing.assert_allclose(
            exact_policy_gradient(mdp, theta),
            autodiff_policy_gradient(mdp, theta),
            rtol=1e-10,
            atol=1e-12,
        )
