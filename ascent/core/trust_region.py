"""The trust-region step of TRPO: conjugate gradient, Fisher-vector products, the
maximal step and a backtracking line search.

Parameters and vectors are pytrees (a flat vector is the one-leaf case; callers
that want one use `jax.flatten_util.ravel_pytree`). Everything is jittable: the
loops are `lax.while_loop`s with a static iteration cap. Notation of Schulman et
al. 2015 ("Trust Region Policy Optimization", §6 and Appendix C): g the surrogate's
gradient, F the Fisher matrix, s ≈ F⁻¹g the search direction, δ the KL bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

PyTree = Any


def _vdot(a: PyTree, b: PyTree) -> Array:
    """Σ over leaves of ⟨a, b⟩ (real vectors), in the leaves' dtype."""
    terms = [jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)]
    # start from a zero of the terms' dtype: a bare jnp.zeros(()) is float64 under x64
    # and would promote float32 vectors (issue 30)
    return sum(terms, start=jnp.zeros((), jnp.result_type(*terms)))


def _axpy(alpha: Array, x: PyTree, y: PyTree) -> PyTree:
    """α·x + y, leaf by leaf."""
    return jax.tree.map(lambda a, b: alpha * a + b, x, y)


def conjugate_gradient(
    matvec: Callable[[PyTree], PyTree], b: PyTree, *, iters: int = 10, tol: float = 1e-10
) -> tuple[PyTree, dict[str, Array]]:
    """Solve A x = b for a symmetric positive-definite A given only v ↦ A v.

    From x₀ = 0, r₀ = p₀ = b, each iteration takes α = rᵀr / pᵀAp, x ← x + αp,
    r ← r − αAp, p ← r + (r'ᵀr' / rᵀr)·p; it stops after `iters` iterations or once
    ‖r‖ ≤ tol (r is the recursively updated residual b − Ax). In exact arithmetic
    n iterations solve an n-dimensional system. b: a pytree (or a flat vector).
    Returns (x, {"residual": ‖r‖, "iterations": k}).
    (Nocedal & Wright 2006, Algorithm 5.2; TRPO uses it with A = F: Schulman et
    al. 2015, Appendix C.)
    """

    def cond(carry: tuple) -> Array:
        k, _, _, _, rs = carry
        return (k < iters) & (rs > tol_sq)

    def body(carry: tuple) -> tuple:
        k, x, r, p, rs = carry
        ap = matvec(p)
        curvature = _vdot(p, ap)
        # pᵀAp = 0 only when p = 0 (A is positive definite): then there is nothing to add.
        alpha = jnp.where(curvature > 0, rs / jnp.where(curvature > 0, curvature, 1.0), 0.0)
        x = _axpy(alpha, p, x)
        r = _axpy(-alpha, ap, r)
        rs_new = _vdot(r, r)
        p = _axpy(rs_new / jnp.where(rs > 0, rs, 1.0), p, r)
        return k + 1, x, r, p, rs_new

    x0 = jax.tree.map(jnp.zeros_like, b)
    rs0 = _vdot(b, b)
    tol_sq = jnp.square(jnp.asarray(tol, rs0.dtype))
    k, x, _, _, rs = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), x0, b, b, rs0))
    return x, {"residual": jnp.sqrt(rs), "iterations": k}


def fisher_vector_product(
    kl_fn: Callable[[PyTree], Array], params: PyTree, v: PyTree, *, damping: float
) -> PyTree:
    """(F + damping·I) v with F = ∇²_θ KL̄(θ_old, θ) at θ = θ_old = `params`.

    `kl_fn(θ)` is the mean over states of KL(π_old(·|s) ‖ π_θ(·|s)) with π_old held
    constant; its Hessian at θ_old is the Fisher information averaged over states,
    E_s E_{a~π_old}[∇log π ∇log πᵀ]. Computed forward-over-reverse (`jax.jvp` of
    `jax.grad`) without forming F. The damping keeps CG stable where F is nearly
    singular. (Schulman et al. 2015, Appendix C.1; Pearlmutter 1994.)
    """
    _, fv = jax.jvp(jax.grad(kl_fn), (params,), (v,))
    # the damping in each leaf's dtype: 0.1 rounded to float32 is 0.100000001 (issue 30)
    return jax.tree.map(lambda x, y: jnp.asarray(damping, x.dtype) * x + y, v, fv)


def max_step(s: PyTree, fs: PyTree, target_kl: float) -> Array:
    """β = sqrt(2δ / sᵀFs): the step βs reaches the KL bound ½(βs)ᵀF(βs) = δ.

    s: the search direction; fs: F s (damped or not, as the caller computed it).
    Returns a scalar, 0 when sᵀFs ≤ 0 (s = 0: no step). (Schulman et al. 2015,
    Appendix C.)
    """
    shs = _vdot(s, fs)
    return jnp.where(shs > 0, jnp.sqrt(2.0 * target_kl / jnp.where(shs > 0, shs, 1.0)), 0.0)


def backtracking_line_search(
    objective_fn: Callable[[PyTree], Array],
    kl_fn: Callable[[PyTree], Array],
    params: PyTree,
    full_step: PyTree,
    *,
    target_kl: float,
    backtrack_iters: int = 10,
    backtrack_coef: float = 0.8,
) -> tuple[PyTree, dict[str, Array]]:
    """θ_old + c^i·Δθ for the first i = 0, 1, …, backtrack_iters−1 that is inside the
    trust region and improves the surrogate; θ_old itself if none is.

    Accepts a step fraction f = c^i when KL̄(θ_old, θ) ≤ δ and L(θ) − L(θ_old) > 0
    (`objective_fn` is L, to be maximised; `kl_fn` the mean KL from θ_old). A NaN in
    either fails the test. When no fraction passes, the parameters are returned
    unchanged, bit for bit. Returns (params, stats) with "accepted" (bool),
    "step_fraction" (f, 0 when rejected), "iterations" (fractions tried), "kl" and
    "improvement" (at the returned parameters: 0 when rejected).
    (Schulman et al. 2015, Appendix C: "we use a line search ... the KL constraint
    is satisfied and the surrogate improves".)
    """
    objective_old = objective_fn(params)
    # the loop's numbers keep their inputs' dtype (float64 under x64: issue 30)
    step_dtype = jnp.result_type(*jax.tree.leaves(full_step))
    kl_dtype = jax.eval_shape(kl_fn, params).dtype

    def candidate(fraction: Array) -> PyTree:
        return _axpy(fraction, full_step, params)

    def cond(carry: tuple) -> Array:
        i, accepted, *_ = carry
        return (i < backtrack_iters) & ~accepted

    def body(carry: tuple) -> tuple:
        i, _, _, _, _ = carry
        fraction = jnp.asarray(backtrack_coef, step_dtype) ** i
        theta = candidate(fraction)
        kl = kl_fn(theta)
        improvement = objective_fn(theta) - objective_old
        accepted = (kl <= target_kl) & (improvement > 0)
        return i + 1, accepted, fraction, kl, improvement

    zero = jnp.zeros((), step_dtype), jnp.zeros((), kl_dtype), jnp.zeros_like(objective_old)
    init = (jnp.zeros((), jnp.int32), jnp.bool_(False), *zero)
    iterations, accepted, fraction, kl, improvement = jax.lax.while_loop(cond, body, init)
    new_params = jax.tree.map(
        lambda p, d: jnp.where(accepted, p + fraction * d, p), params, full_step
    )
    stats = {
        "accepted": accepted,
        "step_fraction": jnp.where(accepted, fraction, 0.0),
        "iterations": iterations,
        "kl": jnp.where(accepted, kl, 0.0),
        "improvement": jnp.where(accepted, improvement, 0.0),
    }
    return new_params, stats
