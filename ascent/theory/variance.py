"""The variance of policy-gradient estimators: exact by enumeration, and measured.

Exact: on a tiny MDP every trajectory of an H-step window can be listed with its
probability (`all_trajectories`); the per-episode estimates ĝ_i of those trajectories
(`ascent.theory.estimators.estimate`) then give the estimator's exact mean
E[ĝ] = Σ_i p_i ĝ_i and covariance Σ = Σ_i p_i (ĝ_i − E ĝ)(ĝ_i − E ĝ)ᵀ
(`exact_moments`), brute force.

Measured: from K independent estimates g_k (one per batch of episodes, at fixed
parameters) `gradient_moments` gives the mean ḡ, the total variance tr Σ̂ of one
estimate (unbiased, ddof 1) and standard errors; `variance_ratio` the ratio of two
estimators' total variances on the same batches with its delta-method standard error;
`relative_bias` how far a mean lies from a reference gradient, against the distance
sampling noise alone would put it. A batch's estimate is the mean of its B
per-episode (or per-step) terms, so its covariance is Σ/B for independent terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from jax.typing import ArrayLike

from ascent.errors import ConfigError
from ascent.theory.estimators import Trajectories
from ascent.theory.exact import policy_probs
from ascent.theory.mdp import TabularMDP

_MAX_PATHS = 200_000  # enumeration is for tiny MDPs: refuse what would not fit in memory


@dataclass(frozen=True)
class GradientMoments:
    """K independent estimates g_k of a gradient (each flattened to P numbers), summarised."""

    mean: np.ndarray
    """ḡ = (1/K) Σ_k g_k, [P]."""
    variance: np.ndarray
    """The sample variance of each component (ddof 1), [P]."""
    n: int
    """K, the number of estimates."""
    total_variance_se: float
    """Standard error of `total_variance`: std_k(d_k)/√K, d_k = K/(K−1)·‖g_k − ḡ‖²."""

    @property
    def total_variance(self) -> float:
        """tr Σ̂ = Σ_p var_p = (1/(K−1)) Σ_k ‖g_k − ḡ‖²: the summed variance of one estimate."""
        return float(self.variance.sum())

    @property
    def mean_se(self) -> np.ndarray:
        """Standard error of each component of ḡ: √(var_p / K), [P]."""
        return np.sqrt(self.variance / self.n)

    @property
    def noise(self) -> float:
        """√(tr Σ̂ / K): E‖ḡ − E g‖² = tr Σ / K, the distance sampling alone puts ḡ from E g."""
        return math.sqrt(self.total_variance / self.n)


def _flat(grads: ArrayLike) -> np.ndarray:
    g = np.asarray(grads, np.float64)
    if g.ndim < 1 or g.shape[0] < 2:
        raise ConfigError(f"need at least two estimates [K, ...], got shape {g.shape}")
    return g.reshape(g.shape[0], -1)


def _squared_deviations(g: np.ndarray) -> np.ndarray:
    """d_k = K/(K−1)·‖g_k − ḡ‖², [K]: mean_k d_k = tr Σ̂ (ddof 1)."""
    k = g.shape[0]
    return np.square(g - g.mean(0)).sum(1) * k / (k - 1)


def gradient_moments(grads: ArrayLike) -> GradientMoments:
    """Mean, per-component variance and total variance of K estimates `grads` [K, ...].

    The standard error of tr Σ̂ treats d_k = K/(K−1)·‖g_k − ḡ‖² as K independent draws:
    SE = std(d)/√K, which is √((E‖g − μ‖⁴ − (tr Σ)²)/K) as K grows (the variance of a
    sample variance; e.g. Casella & Berger 2002, ex. 5.8, summed over components).
    """
    g = _flat(grads)
    d = _squared_deviations(g)
    return GradientMoments(
        mean=g.mean(0),
        variance=g.var(0, ddof=1),
        n=g.shape[0],
        total_variance_se=float(d.std(ddof=1) / math.sqrt(g.shape[0])),
    )


def variance_ratio(grads: ArrayLike, reference_grads: ArrayLike) -> tuple[float, float]:
    """tr Σ̂_a / tr Σ̂_b of two estimators computed on the same K batches, and its SE.

    grads, reference_grads: [K, ...], row k of both from batch k. With d^a_k, d^b_k
    their squared deviations (`gradient_moments`) and r = mean(d^a)/mean(d^b), the
    delta method gives SE(r) = std_k(d^a_k − r·d^b_k) / (√K·mean(d^b)), which counts
    the correlation of the two estimators on shared batches (Casella & Berger 2002,
    §5.5.4, the delta method for a ratio of means).
    """
    a, b = _flat(grads), _flat(reference_grads)
    if a.shape[0] != b.shape[0]:
        raise ConfigError(f"paired estimates need the same K, got {a.shape[0]} and {b.shape[0]}")
    da, db = _squared_deviations(a), _squared_deviations(b)
    ratio = float(da.mean() / db.mean())
    se = float((da - ratio * db).std(ddof=1) / (math.sqrt(a.shape[0]) * db.mean()))
    return ratio, se


def relative_bias(
    moments: GradientMoments, reference: ArrayLike, reference_noise: float = 0.0
) -> tuple[float, float]:
    """(‖ḡ − g_ref‖ / ‖g_ref‖, its noise level √(tr Σ̂/K + σ_ref²) / ‖g_ref‖).

    reference: the gradient to compare with, exact or itself a mean of independent
    estimates, whose noise √(tr Σ_ref/K_ref) is `reference_noise` (0 for an exact one).
    E‖ḡ − g_ref‖² = ‖E ḡ − E g_ref‖² + tr Σ/K + σ_ref², so an unbiased estimator shows
    a relative bias near its noise level, and a bias shows only well above it (the
    theory lab's convention: `pg_lab.GradientStats.rel_bias_se`).
    """
    ref = np.asarray(reference, np.float64).reshape(-1)
    norm = float(np.linalg.norm(ref))
    distance = float(np.linalg.norm(moments.mean - ref))
    noise = math.sqrt(moments.noise**2 + reference_noise**2)
    return distance / norm, noise / norm


def all_trajectories(
    mdp: TabularMDP, theta: ArrayLike, horizon: int
) -> tuple[Trajectories, np.ndarray]:
    """Every distinct H-step window of an episode under π_θ, and its probability.

    Returns (`Trajectories` [H, M], probabilities [M] summing to 1): the M episodes
    that end within the window (terminated at some step) and the prefixes still running
    at its end, as `estimators.sample_trajectories` would draw them. Dead steps after an
    end repeat the last state with action 0, reward 0 and alive 0 (every estimator
    weighs them by 0). Pr(path) = p0(s_0) Π_t π(a_t|s_t)·P(outcome_t|s_t, a_t), an
    outcome being the next state or the end. Brute force: M ≤ (S·A + A)^H, for tiny MDPs.
    """
    if horizon < 1:
        raise ConfigError(f"horizon must be >= 1, got {horizon}")
    pi = np.asarray(policy_probs(theta), np.float64)  # [S, A]
    end = mdp.terminate  # [S, A]
    Step = tuple[int, int, int, bool]  # (s, a, s', terminated)
    running: list[tuple[float, int, list[Step]]] = [
        (float(p), int(s), []) for s, p in enumerate(mdp.p0) if p > 0
    ]
    finished: list[tuple[float, list[Step]]] = []
    for _ in range(horizon):
        extended: list[tuple[float, int, list[Step]]] = []
        for p, s, steps in running:
            for a in np.flatnonzero(pi[s] > 0):
                pa = p * pi[s, a]
                if end[s, a] > 0:
                    finished.append((pa * end[s, a], [*steps, (s, int(a), s, True)]))
                for s_next in np.flatnonzero(mdp.P[s, a] > 0):
                    step = (s, int(a), int(s_next), False)
                    extended.append((pa * mdp.P[s, a, s_next], int(s_next), [*steps, step]))
        running = extended
        if len(running) + len(finished) > _MAX_PATHS:
            raise ConfigError(f"more than {_MAX_PATHS} trajectories: a smaller MDP or horizon")
    paths = finished + [(p, steps) for p, _, steps in running]

    m = len(paths)
    states = np.zeros((horizon, m), np.int32)
    actions = np.zeros((horizon, m), np.int32)
    next_states = np.zeros((horizon, m), np.int32)
    terminated = np.zeros((horizon, m), bool)
    alive = np.zeros((horizon, m))
    rewards = np.zeros((horizon, m))
    for i, (_, steps) in enumerate(paths):
        for t, (s, a, s_next, term) in enumerate(steps):
            states[t, i], actions[t, i], next_states[t, i] = s, a, s_next
            terminated[t, i], alive[t, i], rewards[t, i] = term, 1.0, mdp.R[s, a]
        last = steps[-1][2]
        states[len(steps) :, i] = next_states[len(steps) :, i] = last
    probs = np.array([p for p, _ in paths])
    traj = Trajectories(states, actions, rewards, next_states, terminated, alive)
    return traj, probs


def exact_moments(grads: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(E[ĝ] [...], Σ [P, P]) of an estimate taking value grads[i] [M, ...] with
    probability probs[i] [M]: E ĝ = Σ_i p_i ĝ_i, Σ = Σ_i p_i (ĝ_i − E ĝ)(ĝ_i − E ĝ)ᵀ."""
    g = np.asarray(grads, np.float64)
    p = np.asarray(probs, np.float64)
    flat = g.reshape(g.shape[0], -1)
    mean = p @ flat
    centred = flat - mean
    return mean.reshape(g.shape[1:]), (centred * p[:, None]).T @ centred
