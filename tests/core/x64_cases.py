"""The x64 cases of `core` (issue 30): run by tests/core/test_x64.py in a child pytest
with JAX_ENABLE_X64=1, never collected by the default run (JAX's x64 switch is
process-global and would leak into every other test).

Every public function of `ascent/core` on float32 and on float64 inputs: each floating
output has its inputs' dtype, and matches a float64 NumPy reference to 1e-12 relative
for float64 inputs (float32 round-off, 1e-5, for float32 ones). The references are
written from the docstrings' equations, independently of the code under test.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.core.credit import counterfactual_advantage
from ascent.core.distributions import Categorical, DiagGaussian, gumbel_softmax
from ascent.core.losses import (
    adapt_kl_coef,
    clipped_surrogate_loss,
    explained_variance,
    kl_penalty_loss,
    masked_mean,
    normalize_advantages,
    policy_gradient_loss,
    temperature_loss,
    value_loss,
)
from ascent.core.naf import lower_triangular, quadratic_advantage
from ascent.core.noise import gaussian_noise, ou_noise, ou_reset
from ascent.core.normalize import RunningMeanStd, normalize, scale_rewards, update_running_stats
from ascent.core.returns import discounted_returns, gae, n_step_returns, td_errors, vtrace
from ascent.core.squashed import SquashedGaussian, tanh_log_det_jacobian
from ascent.core.targets import polyak_update, td_target
from ascent.core.trust_region import (
    backtracking_line_search,
    conjugate_gradient,
    fisher_vector_product,
    max_step,
)

if not jax.config.jax_enable_x64:
    pytest.skip("run by tests/core/test_x64.py with JAX_ENABLE_X64=1", allow_module_level=True)

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
T, N = 7, 3
GAMMA, LAMBDA = 0.9, 0.8
KEY = jax.random.PRNGKey(0)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def normal(dtype: type, *shape: int, seed: int = 0) -> np.ndarray:
    """Standard-normal numbers in `dtype` (a NumPy array: the references read the same
    values the function is given)."""
    return rng(seed).standard_normal(shape).astype(dtype)


def flags(*shape: int, p: float = 0.25, seed: int = 0) -> np.ndarray:
    return rng(seed).random(shape) < p


def check(out: Any, ref: Any, dtype: type, scale: float = 1.0) -> None:
    """Each leaf of `out` has `dtype` and equals the float64 reference to round-off (a
    bool or int leaf exactly). `scale` widens the tolerance for iterative solvers."""
    outs, refs = jax.tree.leaves(out), jax.tree.leaves(ref)
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs, strict=True):
        o, r = np.asarray(o), np.asarray(r)
        if np.issubdtype(r.dtype, np.floating):
            assert o.dtype == dtype, f"{o.dtype} out for {np.dtype(dtype)} in"
            rtol = scale * RTOL[dtype]
            np.testing.assert_allclose(o, r, rtol=rtol, atol=rtol * max(1.0, np.abs(r).max()))
        else:
            np.testing.assert_array_equal(o, r)


# --- returns ----------------------------------------------------------------------------


def rollout(dtype: type) -> dict[str, np.ndarray]:
    term, trunc = flags(T, N, seed=1), flags(T, N, p=0.15, seed=2)
    trunc &= ~term
    return {
        "rewards": normal(dtype, T, N, seed=3),
        "values": normal(dtype, T, N, seed=4),
        "next_values": normal(dtype, T, N, seed=5),
        "terminated": term,
        "truncated": trunc,
    }


def ref_td(r: dict) -> np.ndarray:
    x = {k: np.asarray(v, np.float64) for k, v in r.items()}
    return x["rewards"] + GAMMA * (1 - x["terminated"]) * x["next_values"] - x["values"]


def ref_discounted(r: dict) -> np.ndarray:
    rewards, nv = r["rewards"].astype(np.float64), r["next_values"].astype(np.float64)
    out, g = np.zeros((T, N)), np.zeros(N)
    for t in reversed(range(T)):
        boot = np.where(r["truncated"][t] | (t == T - 1), nv[t], g)
        g = rewards[t] + GAMMA * (1 - r["terminated"][t]) * boot
        out[t] = g
    return out


def ref_n_step(r: dict, n: int) -> np.ndarray:
    rewards, nv = r["rewards"].astype(np.float64), r["next_values"].astype(np.float64)
    term, trunc = r["terminated"], r["truncated"]
    out = np.zeros((T, N))
    for t in range(T):
        for i in range(N):
            g, discount = 0.0, 1.0
            for s in range(t, min(t + n, T)):
                g += discount * rewards[s, i]
                if term[s, i] or trunc[s, i] or s == T - 1 or s == t + n - 1:
                    g += discount * GAMMA * (1 - term[s, i]) * nv[s, i]
                    break
                discount *= GAMMA
            out[t, i] = g
    return out


def ref_gae(r: dict) -> np.ndarray:
    deltas, done = ref_td(r), r["terminated"] | r["truncated"]
    out, a = np.zeros((T, N)), np.zeros(N)
    for t in reversed(range(T)):
        a = deltas[t] + GAMMA * LAMBDA * (1 - done[t]) * a
        out[t] = a
    return out


def ref_vtrace(r: dict, log_rhos: np.ndarray, rho_bar: float, c_bar: float) -> tuple:
    x = {k: np.asarray(v, np.float64) for k, v in r.items()}
    ratios = np.exp(log_rhos.astype(np.float64))
    rhos, cs = np.minimum(rho_bar, ratios), np.minimum(c_bar, ratios)
    not_term, goes_on = 1 - x["terminated"], 1 - np.maximum(x["terminated"], x["truncated"])
    deltas = rhos * (x["rewards"] + GAMMA * not_term * x["next_values"] - x["values"])
    corrections, later = np.zeros((T, N)), np.zeros(N)
    for t in reversed(range(T)):
        later = deltas[t] + GAMMA * cs[t] * goes_on[t] * later
        corrections[t] = later
    following = np.concatenate([corrections[1:], np.zeros((1, N))])
    next_vs = x["next_values"] + goes_on * following
    pg = rhos * (x["rewards"] + GAMMA * not_term * next_vs - x["values"])
    return x["values"] + corrections, pg


@pytest.mark.parametrize("dtype", DTYPES)
def test_returns(dtype: type) -> None:
    r, log_rhos = rollout(dtype), 0.5 * normal(dtype, T, N, seed=6)

    @jax.jit
    def run(r: dict, log_rhos: jax.Array) -> dict:
        common = {k: r[k] for k in ("rewards", "next_values", "terminated", "truncated")}
        return {
            "discounted": discounted_returns(**common, gamma=GAMMA),
            "td": td_errors(**{k: v for k, v in r.items() if k != "truncated"}, gamma=GAMMA),
            "n_step": [n_step_returns(**common, gamma=GAMMA, n=n) for n in (1, 3, T + 2)],
            "gae": gae(**r, gamma=GAMMA, gae_lambda=LAMBDA),
            "vtrace": tuple(vtrace(**r, log_rhos=log_rhos, gamma=GAMMA, rho_bar=1.0, c_bar=0.9)),
        }

    want = {
        "discounted": ref_discounted(r),
        "td": ref_td(r),
        "n_step": [ref_n_step(r, n) for n in (1, 3, T + 2)],
        "gae": ref_gae(r),
        "vtrace": ref_vtrace(r, log_rhos, 1.0, 0.9),
    }
    check(run(r, log_rhos), want, dtype)


# --- losses -----------------------------------------------------------------------------


def ref_mean(x: np.ndarray, mask: np.ndarray) -> float:
    return float(np.sum(mask * x) / np.sum(mask))


def ref_explained_variance(pred: np.ndarray, target: np.ndarray, m: np.ndarray) -> float:
    def var(x: np.ndarray) -> float:
        return ref_mean((x - ref_mean(x, m)) ** 2, m)

    return 1 - var(target - pred) / var(target)


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses(dtype: type) -> None:
    x = {
        name: normal(dtype, 12, seed=s)
        for s, name in enumerate(
            ("old", "adv", "target", "values", "old_values", "kl", "step"), start=1
        )
    }
    x["logp"] = x["old"] + dtype(0.3) * x.pop("step")
    x["kl"] = np.abs(x["kl"])
    x["mask"] = (rng(9).random(12) < 0.7).astype(dtype)
    x["coef"], x["log_alpha"] = dtype(0.5), dtype(-1.5)
    lp, o, a, t, v, ov, k, m = (
        x[n].astype(np.float64)
        for n in ("logp", "old", "adv", "target", "values", "old_values", "kl", "mask")
    )

    @jax.jit
    def run(x: dict) -> dict:
        logp, old, adv, mask = x["logp"], x["old"], x["adv"], x["mask"]
        return {
            "masked_mean": masked_mean(adv, mask),
            "mean": masked_mean(adv),
            "explained_variance": explained_variance(adv, x["target"], mask),
            "normalize": normalize_advantages(adv),
            "normalize_masked": normalize_advantages(adv, mask),
            "pg": policy_gradient_loss(logp, adv, mask),
            "ppo": clipped_surrogate_loss(logp, old, adv, clip_eps=0.2, mask=mask),
            "ppo_kl": kl_penalty_loss(logp, old, adv, x["kl"], kl_coef=x["coef"], mask=mask),
            "adapt": [
                adapt_kl_coef(x["coef"], d.astype(dtype), 0.01)
                for d in (np.array(0.1), np.array(0.001), np.array(0.01))
            ],
            "value": value_loss(
                x["values"], x["target"], old_values=x["old_values"], clip_eps=0.3, mask=mask
            ),
            "temperature": temperature_loss(x["log_alpha"], logp, target_entropy=-2.0),
        }

    mu = ref_mean(a, m)
    ratio = np.exp(lp - o)
    approx_kl = ref_mean((ratio - 1) - (lp - o), m)
    surrogate = np.minimum(ratio * a, np.clip(ratio, 0.8, 1.2) * a)
    squared = np.maximum((v - t) ** 2, (ov + np.clip(v - ov, -0.3, 0.3) - t) ** 2)
    want = {
        "masked_mean": ref_mean(a, m),
        "mean": np.mean(a),
        "explained_variance": ref_explained_variance(a, t, m),
        "normalize": (a - a.mean()) / (a.std() + 1e-8),
        "normalize_masked": (a - mu) / (np.sqrt(ref_mean((a - mu) ** 2, m)) + 1e-8),
        "pg": (-ref_mean(lp * a, m), {}),
        "ppo": (
            -ref_mean(surrogate, m),
            {
                "approx_kl": approx_kl,
                "clipfrac": ref_mean((np.abs(ratio - 1) > 0.2).astype(np.float64), m),
            },
        ),
        "ppo_kl": (
            -ref_mean(ratio * a - 0.5 * k, m),
            {"approx_kl": approx_kl, "kl": ref_mean(k, m)},
        ),
        "adapt": [1.0, 0.25, 0.5],
        "value": (ref_mean(squared, m), {"explained_variance": ref_explained_variance(v, t, m)}),
        "temperature": (1.5 * np.mean(lp - 2.0), {"entropy": -np.mean(lp)}),
    }
    check(run(x), want, dtype)


# --- distributions and the squashed Gaussian ---------------------------------------------


def ref_log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def ref_gaussian_log_prob(x: np.ndarray, mean: np.ndarray, log_std: np.ndarray) -> np.ndarray:
    z = (x - mean) / np.exp(log_std)
    return np.sum(-0.5 * z**2 - log_std - 0.5 * np.log(2 * np.pi), -1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_distributions(dtype: type) -> None:
    x = {
        "logits": normal(dtype, 5, 4, seed=1),
        "other": normal(dtype, 5, 4, seed=2),
        "actions": np.array([0, 3, 1, 2, 2]),
        "mean": normal(dtype, 5, 2, seed=3),
        "log_std": dtype(0.3) * normal(dtype, 2, seed=4),
        "mean_q": normal(dtype, 5, 2, seed=5),
        "log_std_q": dtype(0.3) * normal(dtype, 2, seed=6),
        "x": normal(dtype, 5, 2, seed=7),
        "u": normal(dtype, 5, 2, seed=8),
    }
    f = {k: v.astype(np.float64) for k, v in x.items()}

    @jax.jit
    def run(x: dict) -> dict:
        cat, other = Categorical(x["logits"]), Categorical(x["other"])
        p, q = DiagGaussian(x["mean"], x["log_std"]), DiagGaussian(x["mean_q"], x["log_std_q"])
        squashed = SquashedGaussian(x["mean"], jnp.broadcast_to(x["log_std"], x["mean"].shape))
        return {
            "categorical": (
                cat.log_probs(),
                cat.log_prob(x["actions"]),
                cat.entropy(),
                cat.kl(other),
            ),
            "gaussian": (p.log_prob(x["x"]), p.entropy(), p.kl(q), p.sample(KEY), p.mode()),
            "gumbel": (
                gumbel_softmax(KEY, x["logits"], temperature=0.7, hard=False),
                gumbel_softmax(KEY, x["logits"], temperature=0.7),
            ),
            "squashed": (
                tanh_log_det_jacobian(x["u"]),
                squashed.log_prob_pre_squash(x["u"]),
                squashed.mode(),
                *squashed.sample_and_log_prob(KEY),
            ),
        }

    logp, logq = ref_log_softmax(f["logits"]), ref_log_softmax(f["other"])
    m, s, mq, sq = f["mean"], f["log_std"], f["mean_q"], f["log_std_q"]
    eps = np.asarray(jax.random.normal(KEY, (5, 2), dtype), np.float64)
    z = (f["logits"] + np.asarray(jax.random.gumbel(KEY, (5, 4), dtype), np.float64)) / 0.7
    log_det = np.sum(-2 * np.log(np.cosh(f["u"])), -1)  # Σ log(1 − tanh²u) = Σ log sech²u
    sample = m + np.exp(s) * eps
    want = {
        "categorical": (
            logp,
            logp[np.arange(5), x["actions"]],
            -np.sum(np.exp(logp) * logp, -1),
            np.sum(np.exp(logp) * (logp - logq), -1),
        ),
        "gaussian": (
            ref_gaussian_log_prob(f["x"], m, s),
            np.full(5, np.sum(0.5 + 0.5 * np.log(2 * np.pi) + s)),
            np.sum(sq - s + (np.exp(2 * s) + (m - mq) ** 2) / (2 * np.exp(2 * sq)) - 0.5, -1),
            sample,
            m,
        ),
        "gumbel": (np.exp(ref_log_softmax(z)), np.eye(4)[z.argmax(-1)]),
        "squashed": (
            log_det,
            ref_gaussian_log_prob(f["u"], m, s) - log_det,
            np.tanh(m),
            np.tanh(sample),
            ref_gaussian_log_prob(sample, m, s) - np.sum(-2 * np.log(np.cosh(sample)), -1),
        ),
    }
    check(run(x), want, dtype, scale=10)


# --- off-policy targets, noise, NAF, credit ----------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_offpolicy_maths(dtype: type) -> None:
    x = {
        "rewards": normal(dtype, 6, seed=1),
        "next_values": normal(dtype, 6, seed=2),
        "terminated": flags(6),
        "target": {"w": normal(dtype, 3, seed=3)},
        "online": {"w": normal(dtype, 3, seed=4)},
        # a schedule's τ is an array, float64 under x64: the parameters keep their dtype
        "tau": np.float64(0.25),
        "state": normal(dtype, 4, 2, seed=5),
        "done": np.array([True, False, False, True]),
        "entries": normal(dtype, 5, 6, seed=6),
        "actions": normal(dtype, 5, 3, seed=7),
        "mu": normal(dtype, 5, 3, seed=8),
        "q": normal(dtype, 4, 2, 3, seed=9),
        "probs": np.exp(ref_log_softmax(normal(np.float64, 4, 2, 3, seed=10))).astype(dtype),
        "u": np.array([[0, 2], [1, 1], [2, 0], [0, 0]]),
    }
    f = jax.tree.map(lambda a: np.asarray(a, np.float64), x)

    @jax.jit
    def run(x: dict) -> dict:
        L = lower_triangular(x["entries"], 3)
        return {
            "td_target": td_target(x["rewards"], x["terminated"], x["next_values"], gamma=GAMMA),
            "polyak": polyak_update(x["target"], x["online"], tau=0.25),
            "polyak_array": polyak_update(x["target"], x["online"], tau=x["tau"]),
            "gaussian_noise": gaussian_noise(KEY, (4, 2), std=0.3, dtype=dtype),
            "ou": ou_noise(x["state"], KEY, std=0.2, theta=0.15, dt=0.01),
            "ou_reset": ou_reset(x["state"], x["done"]),
            "naf": (L, quadratic_advantage(x["actions"], x["mu"], L)),
            "coma": counterfactual_advantage(x["q"], x["probs"], x["u"]),
        }

    eps = np.asarray(jax.random.normal(KEY, (4, 2), dtype), np.float64)
    st = f["state"]
    ou = st + 0.15 * (0.0 - st) * 0.01 + 0.2 * np.sqrt(0.01) * eps
    L = np.zeros((5, 3, 3))
    rows, cols = np.tril_indices(3)
    L[:, rows, cols] = np.where(rows == cols, np.exp(f["entries"]), f["entries"])
    delta = f["actions"] - f["mu"]
    taken = np.take_along_axis(f["q"], x["u"][..., None], -1)[..., 0]
    polyak = {"w": 0.25 * f["online"]["w"] + 0.75 * f["target"]["w"]}
    want = {
        "td_target": f["rewards"] + GAMMA * (1 - f["terminated"]) * f["next_values"],
        "polyak": polyak,
        "polyak_array": polyak,
        "gaussian_noise": 0.3 * eps,
        "ou": (ou, ou),
        "ou_reset": st * ~x["done"][:, None],
        "naf": (L, -0.5 * np.einsum("bi,bij,bj->b", delta, L @ np.swapaxes(L, 1, 2), delta)),
        "coma": taken - np.sum(f["probs"] * f["q"], -1),
    }
    check(run(x), want, dtype)


# --- normalisation ----------------------------------------------------------------------


def ref_merged(samples: np.ndarray, prior: float, axes: tuple[int, ...]) -> tuple:
    """The prior (mean 0, variance 1, weight `prior`) and all samples merged at once."""
    count = prior + np.prod([samples.shape[i] for i in axes])
    mean = samples.sum(axes) / count
    var = (prior * (1 + mean**2) + np.sum((samples - mean) ** 2, axes)) / count
    return mean, var, count


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalize(dtype: type) -> None:
    x = {
        "data": dtype(3) * normal(dtype, 4, 5, 2, seed=1) + dtype(2),
        "x": dtype(10) * normal(dtype, 3, 2, seed=2),
        "rewards": normal(dtype, 4, 2, seed=3),
        "dones": flags(4, 2, p=0.3, seed=4),
    }

    @jax.jit
    def run(x: dict) -> dict:
        stats = RunningMeanStd.zeros((2,), dtype=dtype)
        for chunk in x["data"]:
            stats = update_running_stats(stats, chunk)
        zeros = RunningMeanStd.zeros(dtype=dtype)
        return {
            "stats": tuple(stats),
            "normalize": normalize(stats, x["x"], clip=1.5),
            "scale": scale_rewards(
                jnp.zeros(2, dtype), zeros, x["rewards"], x["dones"], gamma=GAMMA
            ),
        }

    prior = float(np.asarray(dtype(1e-4)))
    mean, var, count = ref_merged(x["data"].reshape(-1, 2).astype(np.float64), prior, (0,))
    ret, returns = np.zeros(2), []
    for reward, done in zip(x["rewards"].astype(np.float64), x["dones"], strict=True):
        ret = ret * GAMMA + reward
        returns.append(ret)
        ret = np.where(done, 0.0, ret)
    ret_stats = ref_merged(np.array(returns), prior, (0, 1))
    want = {
        "stats": (mean, var, count),
        "normalize": np.clip((x["x"] - mean) / np.sqrt(var + 1e-8), -1.5, 1.5),
        "scale": (ret, ret_stats, x["rewards"] / np.sqrt(ret_stats[1] + 1e-8)),
    }
    check(run(x), want, dtype, scale=10)


# --- the trust region -------------------------------------------------------------------


def spd(n: int, seed: int) -> np.ndarray:
    m = rng(seed).standard_normal((n, n))
    return m @ m.T / n + 0.5 * np.eye(n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conjugate_gradient_and_max_step(dtype: type) -> None:
    x = {"a": spd(8, 1).astype(dtype), "b": normal(dtype, 8, seed=2), "s": normal(dtype, 8, seed=3)}
    a, b, s = (x[k].astype(np.float64) for k in ("a", "b", "s"))

    @jax.jit
    def run(x: dict) -> tuple:
        solution, stats = conjugate_gradient(lambda v: x["a"] @ v, x["b"], iters=30, tol=1e-10)
        return solution, stats["residual"], max_step(x["s"], x["a"] @ x["s"], 0.01)

    solution, residual, beta = run(x)
    assert residual.dtype == dtype
    check(solution, np.linalg.solve(a, b), dtype, scale=100)
    check(beta, np.sqrt(2 * 0.01 / (s @ a @ s)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fisher_vector_product_and_its_damping(dtype: type) -> None:
    """A "KL" ½θᵀAθ + ⅓Σθ³ has the Hessian A + diag(2θ), exact in float64; the damping
    adds 0.1·v, with 0.1 in the vectors' dtype."""
    x = {
        "a": spd(6, 4).astype(dtype),
        "theta": normal(dtype, 6, seed=5),
        "v": normal(dtype, 6, seed=6),
    }
    a, t, v = (x[k].astype(np.float64) for k in ("a", "theta", "v"))

    @jax.jit
    def run(x: dict) -> list:
        def kl(p: dict) -> jax.Array:
            return 0.5 * p["w"] @ x["a"] @ p["w"] + jnp.sum(p["w"] ** 3) / 3

        return [
            fisher_vector_product(kl, {"w": x["theta"]}, {"w": x["v"]}, damping=damping)
            for damping in (0.0, 0.1)
        ]

    check(run(x), [{"w": a @ v + 2 * t * v + damping * v} for damping in (0.0, 0.1)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_line_search(dtype: type) -> None:
    """L(θ) = gᵀθ, "KL" ½θᵀAθ from θ_old = 0; step (0.1, 0.1) with δ = 0.006: KL(f) =
    0.015 f², so f = 0.8² = 0.64 (KL 0.006144 > δ) fails and f = 0.8³ passes."""
    g, a = np.array([1.0, 0.5], dtype), np.diag(np.array([2.0, 1.0], dtype))
    old = {"w": np.zeros(2, dtype), "b": np.zeros((), dtype)}
    step = {"w": np.full(2, 0.1, dtype), "b": np.zeros((), dtype)}

    def objective(p: dict) -> jax.Array:
        return g @ p["w"] + 0.0 * p["b"]

    def kl(p: dict) -> jax.Array:
        return 0.5 * p["w"] @ a @ p["w"] + 0.5 * p["b"] ** 2

    @jax.jit
    def run(old: dict, step: dict) -> tuple:
        accepted = backtracking_line_search(objective, kl, old, step, target_kl=0.006)
        # every candidate leaves the region: the parameters come back as they were
        rejected = backtracking_line_search(objective, kl, step, step, target_kl=1e-12)
        return accepted, rejected

    (params, stats), (same, rejected) = run(old, step)
    f, w = 0.8**3, step["w"].astype(np.float64)
    assert bool(stats["accepted"]) and int(stats["iterations"]) == 4
    assert not bool(rejected["accepted"])
    check((params, same), ({"b": 0.0, "w": f * w}, step), dtype)
    check(
        {k: (stats[k], rejected[k]) for k in ("step_fraction", "kl", "improvement")},
        {
            "step_fraction": (f, 0.0),
            "kl": (0.5 * f**2 * (w @ a.astype(np.float64) @ w), 0.0),
            "improvement": (f * (g.astype(np.float64) @ w), 0.0),
        },
        dtype,
    )
