"""Trust-region maths: CG against a direct solve, the Fisher-vector product against an
explicitly built Fisher matrix, the maximal step, and the line search's accept/reject."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from ascent.core.trust_region import (
    backtracking_line_search,
    conjugate_gradient,
    fisher_vector_product,
    max_step,
)
from ascent.nn import ActionSpec, PolicyNet


def random_spd(key: jax.Array, n: int) -> jax.Array:
    """M Mᵀ + I: symmetric positive definite with condition number of a few hundred."""
    m = jax.random.normal(key, (n, n))
    return m @ m.T / n + 0.1 * jnp.eye(n)


@pytest.mark.parametrize(("n", "seed"), [(1, 0), (3, 1), (8, 2), (20, 3), (20, 4)])
def test_conjugate_gradient_matches_a_direct_solve(n: int, seed: int) -> None:
    key_a, key_b = jax.random.split(jax.random.PRNGKey(seed))
    a = random_spd(key_a, n)
    b = jax.random.normal(key_b, (n,))
    x, stats = jax.jit(lambda b: conjugate_gradient(lambda v: a @ v, b, iters=3 * n))(b)
    np.testing.assert_allclose(x, jnp.linalg.solve(a, b), rtol=1e-3, atol=1e-4)
    assert 1 <= int(stats["iterations"]) <= 3 * n
    assert float(stats["residual"]) < 1e-3


def test_conjugate_gradient_on_a_pytree_and_its_stopping_rules() -> None:
    a1, a2 = jnp.diag(jnp.array([1.0, 2.0, 4.0])), jnp.array([[3.0]])
    b = {"u": jnp.array([1.0, 1.0, 1.0]), "w": jnp.array([[6.0]])}

    def matvec(v: dict) -> dict:
        return {"u": a1 @ v["u"], "w": a2 @ v["w"]}

    x, stats = conjugate_gradient(matvec, b, iters=50, tol=1e-5)
    np.testing.assert_allclose(x["u"], [1.0, 0.5, 0.25], rtol=1e-5)
    np.testing.assert_allclose(x["w"], [[2.0]], rtol=1e-5)
    # 4 distinct eigenvalues: exact in at most 4 iterations, then the tolerance stops it
    assert int(stats["iterations"]) <= 4
    # the iteration cap: one step only, and its residual is reported
    _, one = conjugate_gradient(matvec, b, iters=1)
    assert int(one["iterations"]) == 1 and float(one["residual"]) > 0.1
    # b = 0: nothing to do, no iteration, x = 0
    zero, none = conjugate_gradient(matvec, jax.tree.map(jnp.zeros_like, b), iters=5, tol=0.0)
    assert int(none["iterations"]) == 0
    assert all(np.all(leaf == 0) for leaf in jax.tree.leaves(zero))


# --- the Fisher-vector product ---------------------------------------------------------


def policy_setup(
    discrete: bool, seed: int = 0
) -> tuple[Callable[[jax.Array], Any], jax.Array, jax.Array, jax.Array]:
    """A small policy network, a batch of states, its parameters flattened, and v."""
    action = ActionSpec.discrete(3) if discrete else ActionSpec("box", (2,), (2,))
    net = PolicyNet(action, hidden=(5,))
    k_obs, k_init, k_v = jax.random.split(jax.random.PRNGKey(seed), 3)
    obs = jax.random.normal(k_obs, (6, 4))
    params = net.init(k_init, obs)
    # move the weights off their near-uniform start so every action matters
    params = jax.tree.map(lambda p: p + 0.5 * jax.random.normal(k_v, p.shape), params)
    flat, unravel = ravel_pytree(params)
    v = jax.random.normal(jax.random.fold_in(k_v, 1), flat.shape)

    def dist(f: jax.Array) -> Any:
        return net.apply(unravel(f), obs)

    return dist, obs, flat, v


def mean_kl_from(dist: Any, flat_old: jax.Array) -> Any:
    old = jax.lax.stop_gradient(dist(flat_old))
    return lambda flat: jnp.mean(old.kl(dist(flat)))


def test_fisher_vector_product_matches_the_explicit_categorical_fisher() -> None:
    dist, obs, flat, v = policy_setup(discrete=True)
    n_states, n_actions = obs.shape[0], 3
    # score Jacobians ∇_θ log π(a|s_i) for every state i and action a: [S, K, P]
    scores = jax.jacobian(lambda f: dist(f).log_probs())(flat)
    probs = jnp.exp(dist(flat).log_probs())  # [S, K]
    # F = mean_i Σ_a π(a|s_i) ∇log π(a|s_i) ∇log π(a|s_i)ᵀ: the exact expectation over actions
    fisher = jnp.einsum("sk,skp,skq->pq", probs, scores, scores) / n_states
    assert scores.shape == (n_states, n_actions, flat.size)
    fv = fisher_vector_product(mean_kl_from(dist, flat), flat, v, damping=0.0)
    np.testing.assert_allclose(fv, fisher @ v, rtol=1e-4, atol=1e-5)
    damped = fisher_vector_product(mean_kl_from(dist, flat), flat, v, damping=0.3)
    np.testing.assert_allclose(damped, fisher @ v + 0.3 * v, rtol=1e-4, atol=1e-5)


def test_fisher_vector_product_matches_the_explicit_gaussian_fisher() -> None:
    """The Gaussian's per-state Fisher E_a[∇log π ∇log πᵀ] is computed exactly by
    Gauss–Hermite quadrature: the score is quadratic in the standard-normal noise z,
    so the outer products are degree-4 polynomials and 3 nodes per dim are exact."""
    dist, obs, flat, v = policy_setup(discrete=False)
    nodes, weights = np.polynomial.hermite_e.hermegauss(3)  # ∫ f(z) e^{−z²/2} dz rule
    weights = weights / np.sqrt(2 * np.pi)  # → expectation under N(0, 1)
    z = jnp.array([[z1, z2] for z1 in nodes for z2 in nodes])  # [Q, 2]
    w = jnp.array([w1 * w2 for w1 in weights for w2 in weights])  # [Q]
    d = dist(flat)
    actions = d.mean[:, None, :] + jnp.exp(d.log_std)[:, None, :] * z  # [S, Q, 2]
    # score Jacobians at the fixed quadrature actions: [S, Q, P]
    scores = jax.jacobian(lambda f: dist(f).log_prob(jnp.swapaxes(actions, 0, 1)).T)(flat)
    fisher = jnp.einsum("q,sqp,sqr->pr", w, scores, scores) / obs.shape[0]
    fv = fisher_vector_product(mean_kl_from(dist, flat), flat, v, damping=0.0)
    np.testing.assert_allclose(fv, fisher @ v, rtol=1e-4, atol=1e-4)


def test_gaussian_fisher_in_its_own_parameters_is_diag_one_over_var_and_two() -> None:
    """A second identity: for N(μ, σ²) in (μ, log σ), F_dist = diag(1/σ², 2) per dim,
    and the Fisher in θ is mean_i J_iᵀ F_dist J_i with J_i = ∂(μ_i, log σ_i)/∂θ."""
    dist, obs, flat, v = policy_setup(discrete=False, seed=3)

    def dist_params(f: jax.Array) -> jax.Array:
        d = dist(f)
        return jnp.concatenate([d.mean, jnp.broadcast_to(d.log_std, d.mean.shape)], -1)

    jac = jax.jacobian(dist_params)(flat)  # [S, 4, P]
    d = dist(flat)
    f_dist = jax.vmap(jnp.diag)(
        jnp.concatenate([jnp.exp(-2 * d.log_std), jnp.full(d.mean.shape, 2.0)], -1)
    )
    fisher = jnp.einsum("sip,sij,sjq->pq", jac, f_dist, jac) / obs.shape[0]
    fv = fisher_vector_product(mean_kl_from(dist, flat), flat, v, damping=0.0)
    np.testing.assert_allclose(fv, fisher @ v, rtol=1e-4, atol=1e-4)


# --- the maximal step -------------------------------------------------------------------


@pytest.mark.parametrize("target_kl", [1e-3, 0.01, 0.05])
def test_max_step_puts_the_quadratic_kl_on_the_bound(target_kl: float) -> None:
    key_a, key_s = jax.random.split(jax.random.PRNGKey(7))
    fisher = random_spd(key_a, 5)
    s = jax.random.normal(key_s, (5,))
    beta = max_step(s, fisher @ s, target_kl)
    assert float(beta**2 * s @ fisher @ s) == pytest.approx(2 * target_kl, rel=1e-5)
    # the quadratic model of the KL, ½(βs)ᵀF(βs), is δ
    step = beta * s
    assert float(0.5 * step @ fisher @ step) == pytest.approx(target_kl, rel=1e-5)
    assert float(max_step(jnp.zeros(5), jnp.zeros(5), target_kl)) == 0.0


# --- the line search --------------------------------------------------------------------

# A toy problem: θ ∈ R², surrogate L(θ) = gᵀθ, "KL" ½θᵀAθ from θ_old = 0.
G = jnp.array([1.0, 0.5])
A = jnp.array([[2.0, 0.0], [0.0, 1.0]])
OLD = {"w": jnp.array([0.0, 0.0]), "b": jnp.array(0.0)}


def toy_objective(p: dict) -> jax.Array:
    return G @ p["w"] + 0.0 * p["b"]


def toy_kl(p: dict) -> jax.Array:
    return 0.5 * p["w"] @ A @ p["w"] + 0.5 * p["b"] ** 2


def search(step: dict, target_kl: float, **kwargs: Any) -> tuple[dict, dict]:
    return jax.jit(
        lambda s: backtracking_line_search(
            toy_objective, toy_kl, OLD, s, target_kl=target_kl, **kwargs
        )
    )(step)


def test_line_search_accepts_the_full_step_when_it_is_inside_and_improves() -> None:
    step = {"w": jnp.array([0.1, 0.1]), "b": jnp.array(0.0)}  # KL 0.015, gain 0.15
    params, stats = search(step, target_kl=0.02)
    assert bool(stats["accepted"]) and int(stats["iterations"]) == 1
    assert float(stats["step_fraction"]) == 1.0
    np.testing.assert_array_equal(params["w"], step["w"])
    assert float(stats["kl"]) == pytest.approx(0.015)
    assert float(stats["improvement"]) == pytest.approx(0.15)


def test_line_search_backtracks_to_the_first_fraction_inside_the_bound() -> None:
    step = {"w": jnp.array([0.1, 0.1]), "b": jnp.array(0.0)}  # KL(f) = 0.015 f²
    params, stats = search(step, target_kl=0.004, backtrack_coef=0.5, backtrack_iters=10)
    # f = 1: 0.015, f = ½: 0.00375 ≤ 0.004 → accepted on the second try
    assert bool(stats["accepted"]) and int(stats["iterations"]) == 2
    assert float(stats["step_fraction"]) == 0.5
    np.testing.assert_allclose(params["w"], [0.05, 0.05])
    assert float(stats["kl"]) <= 0.004


@pytest.mark.parametrize(
    ("step", "target_kl", "why"),
    [
        ({"w": jnp.array([1.0, 1.0]), "b": jnp.array(0.3)}, 1e-12, "every step leaves the region"),
        ({"w": jnp.array([-0.1, -0.1]), "b": jnp.array(0.0)}, 1.0, "the surrogate only falls"),
        ({"w": jnp.array([0.0, 0.0]), "b": jnp.array(0.1)}, 1.0, "the surrogate does not move"),
    ],
)
def test_line_search_rejects_and_returns_the_old_parameters_exactly(
    step: dict, target_kl: float, why: str
) -> None:
    old = {"w": jnp.array([0.3, -0.7]), "b": jnp.array(1.5)}

    def shifted(f: Any) -> Any:
        return lambda p: f({"w": p["w"] - old["w"], "b": p["b"] - old["b"]})

    params, stats = jax.jit(
        lambda o, s: backtracking_line_search(
            shifted(toy_objective), shifted(toy_kl), o, s, target_kl=target_kl, backtrack_iters=4
        )
    )(old, step)
    assert not bool(stats["accepted"]), why
    assert int(stats["iterations"]) == 4
    assert float(stats["step_fraction"]) == 0.0
    assert float(stats["kl"]) == 0.0 and float(stats["improvement"]) == 0.0
    for new, before in zip(jax.tree.leaves(params), jax.tree.leaves(old), strict=True):
        np.testing.assert_array_equal(new, before)


def test_line_search_treats_nan_as_a_failure() -> None:
    params, stats = backtracking_line_search(
        lambda p: jnp.sum(p), lambda p: jnp.sqrt(-jnp.sum(p)), jnp.zeros(2), jnp.ones(2),
        target_kl=1.0, backtrack_iters=3,
    )  # fmt: skip
    assert not bool(stats["accepted"])
    np.testing.assert_array_equal(params, jnp.zeros(2))
