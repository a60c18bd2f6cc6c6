"""The policy-gradient lab: every estimator measured against the exact gradient.

On a small MDP at random softmax logits θ, sample N episodes, form each estimator's
per-episode gradient ĝ_i, and compare their mean with ∇J from the policy gradient
theorem: relative bias ‖mean − ∇J‖/‖∇J‖ with its standard error √(tr Σ/N)/‖∇J‖
(Σ the covariance of one ĝ_i; E‖mean − E ĝ‖² = tr Σ/N, so an unbiased estimator shows
a relative bias of about one standard error), total variance per episode tr Σ, and
the cosine between the mean and ∇J. A sweep over GAE's λ, with the exact critic and
with a perturbed one, shows the bias–variance trade-off that λ controls.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from ascent.errors import ConfigError
from ascent.theory.estimators import Estimator, sample_episodes, signal, trajectory_gradients
from ascent.theory.estimators import weights as step_weights
from ascent.theory.exact import exact_policy_gradient, objective, q_values, value
from ascent.theory.mdp import TabularMDP

MDPS = ("random", "chain", "grid")


@dataclass(frozen=True)
class PGLabConfig:
    """What `ascent theory pg` measures."""

    mdp: Literal["random", "chain", "grid"] = "random"
    """Which MDP: a random one, a corridor (chain) or a small gridworld (grid)."""
    n_states: int | None = None
    """States (random: 5, chain: 5, grid: 9; the grid needs a square)."""
    n_actions: int | None = None
    """Actions of the random MDP (3 by default); the chain has 2, the grid 4."""
    gamma: float = 0.9
    """Discount factor γ."""
    samples: int = 50_000
    """Episodes sampled, shared by all estimators (rounded up to a multiple of `batch`)."""
    horizon: int | None = None
    """Steps per episode window (default: the first H with (γ·c)^H ≤ 1e-10)."""
    seed: int = 0
    """Seed of the MDP (random), the logits θ, the critic's error and the sampling."""
    gae_lambdas: tuple[float, ...] = (0.5, 0.9)
    """GAE λ values in the table."""
    sweep_lambdas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)
    """λ values of the bias–variance sweep."""
    critic_error: float = 0.2
    """Noise of the imperfect critic in the sweep: V + error·mean|V|·z, z ~ N(0, 1) per state."""
    batch: int = 1_000
    """Episodes per compiled chunk (memory, not results)."""

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field."""
        if self.mdp not in MDPS:
            raise ConfigError(f"mdp must be one of {', '.join(MDPS)}, got {self.mdp!r}")
        if self.n_states is not None and self.n_states < 2:
            raise ConfigError(f"states must be >= 2, got {self.n_states}")
        if self.n_actions is not None:
            if self.mdp != "random":
                fixed = {"chain": 2, "grid": 4}[self.mdp]
                raise ConfigError(
                    f"actions is fixed for the {self.mdp} ({fixed}); it applies to --mdp random"
                )
            if self.n_actions < 2:
                raise ConfigError(f"actions must be >= 2, got {self.n_actions}")
        if self.mdp == "grid" and self.n_states is not None:
            side = math.isqrt(self.n_states)
            if side * side != self.n_states:
                raise ConfigError(
                    f"states must be a square for the grid (4, 9, 16, ...), got {self.n_states}"
                )
        if not 0.0 <= self.gamma < 1.0:
            raise ConfigError(f"gamma must be in [0, 1), got {self.gamma}")
        if self.samples < 2:
            raise ConfigError(f"samples must be >= 2 (a variance needs two), got {self.samples}")
        if self.horizon is not None and self.horizon < 1:
            raise ConfigError(f"horizon must be >= 1, got {self.horizon}")
        if self.batch < 1:
            raise ConfigError(f"batch must be >= 1, got {self.batch}")
        for name in ("gae_lambdas", "sweep_lambdas"):
            if any(not 0.0 <= lam <= 1.0 for lam in getattr(self, name)):
                raise ConfigError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.critic_error < 0:
            raise ConfigError(f"critic_error must be >= 0, got {self.critic_error}")


def make_mdp(config: PGLabConfig) -> TabularMDP:
    """The MDP a config names."""
    config.validate()
    if config.mdp == "random":
        return TabularMDP.random(
            config.n_states or 5, config.n_actions or 3, config.seed, gamma=config.gamma
        )
    if config.mdp == "chain":
        return TabularMDP.chain(config.n_states or 5, gamma=config.gamma)
    return TabularMDP.grid(math.isqrt(config.n_states or 9), gamma=config.gamma)


def table_estimators(gae_lambdas: tuple[float, ...] = (0.5, 0.9)) -> list[Estimator]:
    """The estimators of the table, each with ω_t = γ^t and with ω_t = 1."""
    kinds = [Estimator(k) for k in ("total_return", "reward_to_go", "constant_baseline")]
    kinds += [Estimator(k) for k in ("value_baseline", "exact_advantage", "td0")]
    kinds += [Estimator("gae", gae_lambda=lam) for lam in gae_lambdas]
    return [e._replace(discount=d) for d in (True, False) for e in kinds]


@dataclass(frozen=True)
class GradientStats:
    """Summary of N per-episode estimates ĝ_i against the exact gradient ∇J."""

    mean: np.ndarray  # [S, A], the sample mean of ĝ
    variance: np.ndarray  # [S, A], the sample variance of each component of ĝ
    n: int
    exact: np.ndarray  # [S, A], ∇J

    @property
    def bias(self) -> np.ndarray:
        return self.mean - self.exact

    @property
    def rel_bias(self) -> float:
        """‖mean − ∇J‖ / ‖∇J‖."""
        return float(np.linalg.norm(self.bias) / np.linalg.norm(self.exact))

    @property
    def rel_bias_se(self) -> float:
        """√(tr Σ / N) / ‖∇J‖: the relative bias an unbiased estimator shows on average."""
        return float(math.sqrt(self.variance.sum() / self.n) / np.linalg.norm(self.exact))

    @property
    def total_variance(self) -> float:
        """tr Σ: the summed variance of one episode's estimate."""
        return float(self.variance.sum())

    @property
    def cosine(self) -> float:
        """cos ∠(mean, ∇J)."""
        norms = np.linalg.norm(self.mean) * np.linalg.norm(self.exact)
        return float(np.sum(self.mean * self.exact) / norms) if norms > 0 else 0.0

    @property
    def max_z(self) -> float:
        """max over components of |mean − ∇J| / standard error.

        Standard errors are floored at 1e-9·‖∇J‖: a component that is zero up to
        rounding (an action-independent state, such as a goal that pays the same for
        every action) has a rounding-sized error over a rounding-sized spread.
        """
        floor = 1e-9 * np.linalg.norm(self.exact)
        se = np.maximum(np.sqrt(self.variance / self.n), floor)
        return float((np.abs(self.bias) / se).max())


def gradient_stats(grads: Array | np.ndarray, exact: Array | np.ndarray) -> GradientStats:
    """Stats of per-episode estimates `grads` [N, S, A] against `exact` [S, A]."""
    grads = np.asarray(grads, np.float64)
    return GradientStats(grads.mean(0), grads.var(0, ddof=1), grads.shape[0], np.asarray(exact))


@partial(jax.jit, static_argnames=("specs", "gamma", "horizon", "batch"))
def _moments(
    P: Array,
    R: Array,
    p0: Array,
    theta: Array,
    critics: Array,
    q: Array,
    baseline: Array,
    exact: Array,
    keys: Array,
    specs: tuple[tuple[Estimator, int], ...],
    gamma: float,
    horizon: int,
    batch: int,
) -> tuple[Array, Array]:
    """Σ_i (ĝ_i − ∇J) and Σ_i (ĝ_i − ∇J)² per estimator over len(keys)·batch episodes.

    specs: (estimator, index of its critic in `critics` [C, S]). Returns two [E, S, A].
    Centring on ∇J keeps the sums of squares well conditioned.
    """

    def chunk(sums: tuple[Array, Array], key: Array) -> tuple[tuple[Array, Array], None]:
        traj = sample_episodes(P, R, p0, theta, key, batch, horizon)
        signals = jnp.stack(
            [
                step_weights(est, traj, gamma) * signal(est, traj, critics[c], q, baseline, gamma)
                for est, c in specs
            ]
        )  # [E, H, batch]

        def moments(weighted: Array) -> tuple[Array, Array]:
            centred = trajectory_gradients(theta, traj, weighted) - exact  # [batch, S, A]
            return centred.sum(0), jnp.square(centred).sum(0)

        first, second = jax.lax.map(moments, signals)
        return (sums[0] + first, sums[1] + second), None

    zeros = jnp.zeros((len(specs), *theta.shape), theta.dtype)
    sums, _ = jax.lax.scan(chunk, (zeros, zeros), keys)
    return sums


@dataclass
class PGLabReport:
    """What the lab measured; `to_dict()` is the JSON of `ascent theory pg --json`."""

    mdp: str
    n_states: int
    n_actions: int
    gamma: float
    horizon: int
    samples: int
    objective: float
    gradient_norm: float
    critic_error: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    sweep: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row(stats: GradientStats) -> dict[str, float]:
    return {
        "rel_bias": stats.rel_bias,
        "rel_bias_se": stats.rel_bias_se,
        "variance": stats.total_variance,
        "cosine": stats.cosine,
        "max_z": stats.max_z,
    }


def run_pg_lab(config: PGLabConfig) -> PGLabReport:
    """Measure every estimator of `table_estimators` and the λ sweep on `config`'s MDP.

    Runs in float64 (inside `jax.enable_x64`), whatever the caller's setting.
    """
    config.validate()
    start = time.perf_counter()
    mdp = make_mdp(config)
    horizon = config.horizon or mdp.horizon()
    n_chunks = -(-config.samples // config.batch)
    batch = -(-config.samples // n_chunks)
    with jax.enable_x64(True):
        key = jax.random.key(config.seed)
        theta_key, critic_key, sample_key = jax.random.split(key, 3)
        theta = jax.random.normal(theta_key, (mdp.n_states, mdp.n_actions), jnp.float64)
        v, q = value(mdp, theta), q_values(mdp, theta)
        exact = exact_policy_gradient(mdp, theta)
        j = objective(mdp, theta)
        noise = jax.random.normal(critic_key, v.shape, v.dtype)
        v_noisy = v + config.critic_error * jnp.mean(jnp.abs(v)) * noise
        critics = jnp.stack([v, v_noisy])

        table = table_estimators(config.gae_lambdas)
        sweep = [
            (Estimator("gae", gae_lambda=lam), c) for c in (0, 1) for lam in config.sweep_lambdas
        ]
        specs = tuple((e, 0) for e in table) + tuple(sweep)
        first, second = _moments(
            *(jnp.asarray(x, jnp.float64) for x in (mdp.P, mdp.R, mdp.p0)),
            theta,
            critics,
            q,
            j,  # the constant baseline b = J(θ), what a running mean of returns tracks
            exact,
            jax.random.split(sample_key, n_chunks),
            specs=specs,
            gamma=float(mdp.gamma),
            horizon=horizon,
            batch=batch,
        )
        first, second, exact_np = np.asarray(first), np.asarray(second), np.asarray(exact)
        j = float(j)

    n = n_chunks * batch
    stats = []
    for centred_sum, squares in zip(first, second, strict=True):
        mean = centred_sum / n
        variance = (squares - n * mean**2) / (n - 1)
        stats.append(GradientStats(mean + exact_np, np.maximum(variance, 0.0), n, exact_np))

    report = PGLabReport(
        mdp=mdp.name,
        n_states=mdp.n_states,
        n_actions=mdp.n_actions,
        gamma=float(mdp.gamma),
        horizon=horizon,
        samples=n,
        objective=j,
        gradient_norm=float(np.linalg.norm(exact_np)),
        critic_error=config.critic_error,
    )
    for est, st in zip(table, stats[: len(table)], strict=True):
        report.rows.append(
            {
                "estimator": est.label,
                "discount": est.discount,
                "unbiased": est.unbiased,
                **_row(st),
            }
        )
    for (est, c), st in zip(sweep, stats[len(table) :], strict=True):
        report.sweep.append(
            {"gae_lambda": est.gae_lambda, "critic": ("exact", "noisy")[c], **_row(st)}
        )
    report.seconds = time.perf_counter() - start
    return report
