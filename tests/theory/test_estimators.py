"""The library's estimators against the exact gradient: unbiased where the theorem says so,
biased without γ^t (Thomas 2014), less variance with a state-value baseline, and GAE's
two ends equal to the reward-to-go and TD(0) advantages."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.core.returns import discounted_returns, td_errors
from ascent.theory import (
    Estimator,
    PGLabConfig,
    PGLabReport,
    TabularMDP,
    estimate,
    exact_policy_gradient,
    gradient_stats,
    make_mdp,
    objective,
    q_values,
    run_pg_lab,
    sample_trajectories,
    signal,
    value,
)

# Several small MDPs; 10,000 episodes each, every estimator on the same episodes.
CONFIGS = [
    PGLabConfig(mdp="random", n_states=4, seed=seed, gamma=0.8, samples=10_000, batch=2_500)
    for seed in (1, 2, 3)
] + [
    PGLabConfig(mdp="chain", gamma=0.8, samples=10_000, batch=2_500),
    PGLabConfig(mdp="grid", n_states=4, gamma=0.8, samples=10_000, batch=2_500),
]
CONFIGS = [
    PGLabConfig(**{**c.__dict__, "gae_lambdas": (0.5,), "sweep_lambdas": (0.0, 1.0)})
    for c in CONFIGS
]


@pytest.fixture(scope="module", params=CONFIGS, ids=lambda c: f"{c.mdp}-{c.seed}")
def report(request: pytest.FixtureRequest) -> PGLabReport:
    return run_pg_lab(request.param)


def rows(report: PGLabReport, **match: object) -> list[dict]:
    return [r for r in report.rows if all(r[k] == v for k, v in match.items())]


def test_unbiased_estimators_are_within_4_standard_errors(report: PGLabReport) -> None:
    unbiased = rows(report, unbiased=True)
    assert len(unbiased) == 7  # six signals with γ^t, and the total return without
    for row in unbiased + [r for r in report.sweep if r["critic"] == "exact"]:
        assert row["max_z"] < 4.0, row


def test_dropping_gamma_t_is_detectably_biased(report: PGLabReport) -> None:
    # Thomas 2014: Σ_t ∇log π(a_t|s_t) Ψ_t without γ^t is not the gradient of J.
    biased = [r for r in rows(report, discount=False) if not r["unbiased"]]
    assert len(biased) == 6
    for row in biased:
        assert row["max_z"] > 8.0 and row["rel_bias"] > 5 * row["rel_bias_se"], row
        assert row["cosine"] < 0.999, row  # not only longer: it points elsewhere


def test_state_value_baseline_reduces_variance(report: PGLabReport) -> None:
    for discount in (True, False):
        plain = rows(report, estimator="reward-to-go G_t", discount=discount)[0]
        baseline = rows(report, estimator="G_t - V(s_t)", discount=discount)[0]
        assert baseline["variance"] < 0.8 * plain["variance"]


def test_perfect_critic_has_the_least_variance(report: PGLabReport) -> None:
    with_gamma = rows(report, discount=True, unbiased=True)
    best = min(with_gamma, key=lambda r: r["variance"])
    assert best["estimator"] == "Q(s_t,a_t)-V(s_t)"


def test_an_imperfect_critic_biases_td0_but_not_gae_1(report: PGLabReport) -> None:
    noisy = {r["gae_lambda"]: r for r in report.sweep if r["critic"] == "noisy"}
    assert noisy[1.0]["max_z"] < 4.0  # λ = 1: the critic is only a baseline
    assert noisy[0.0]["max_z"] > 5.0  # λ = 0: the critic's error enters the advantage


def test_lab_statistics_match_per_episode_estimates() -> None:
    # The lab's compiled path (sums of centred moments over chunks) against the readable
    # one: sample the same episodes, form each estimate with `estimate`, summarise.
    config = PGLabConfig(mdp="chain", gamma=0.8, samples=3_000, batch=3_000, sweep_lambdas=())
    report = run_pg_lab(config)
    mdp = make_mdp(config)
    theta_key, _, sample_key = jax.random.split(jax.random.key(config.seed), 3)
    theta = jax.random.normal(theta_key, (mdp.n_states, mdp.n_actions), jnp.float64)
    traj = sample_trajectories(
        mdp, theta, jax.random.split(sample_key, 1)[0], config.samples, report.horizon
    )
    v, q, exact = value(mdp, theta), q_values(mdp, theta), exact_policy_gradient(mdp, theta)
    for est, row in zip(
        [Estimator("reward_to_go", True), Estimator("td0", False)],
        [rows(report, estimator="reward-to-go G_t", discount=True)[0]]
        + [rows(report, estimator="TD(0) error", discount=False)[0]],
        strict=True,
    ):
        grads = estimate(est, mdp, theta, traj, v, q, objective(mdp, theta))
        stats = gradient_stats(grads, exact)
        assert stats.rel_bias == pytest.approx(row["rel_bias"], rel=1e-9)
        assert stats.total_variance == pytest.approx(row["variance"], rel=1e-9)
        assert stats.cosine == pytest.approx(row["cosine"], rel=1e-9)


@pytest.fixture(scope="module")
def episodes() -> tuple[TabularMDP, jax.Array, object]:
    with jax.enable_x64(True):
        mdp = TabularMDP.random(4, 3, seed=9, gamma=0.9, p_end=0.1)
        theta = jax.random.normal(jax.random.key(1), (4, 3), jnp.float64)
        return mdp, theta, sample_trajectories(mdp, theta, jax.random.key(2), 4_000, 60)


def test_sampled_returns_average_to_j(episodes: tuple) -> None:
    mdp, theta, traj = episodes
    zeros = jnp.zeros_like(traj.terminated)
    g0 = discounted_returns(
        rewards=traj.rewards, terminated=traj.terminated, truncated=zeros, gamma=mdp.gamma
    )[0]
    se = float(jnp.std(g0) / np.sqrt(g0.shape[0]))
    assert abs(float(jnp.mean(g0)) - float(objective(mdp, theta))) < 4 * se
    # after its end an episode is dead: no reward, no second end, alive = 0
    discounts = mdp.gamma ** jnp.arange(traj.rewards.shape[0])[:, None]
    np.testing.assert_allclose(jnp.sum(discounts * traj.rewards, 0), g0, rtol=1e-12)
    np.testing.assert_array_equal(traj.alive[1:], traj.alive[:-1] * (1 - traj.terminated[:-1]))
    assert int(traj.terminated.sum(0).max()) == 1
    assert int(traj.terminated.sum()) > 0.9 * traj.alive.shape[1]  # p_end 0.1, 60 steps


def test_gae_lambda_1_is_reward_to_go_advantage_and_lambda_0_td0(episodes: tuple) -> None:
    mdp, theta, traj = episodes
    v, q = value(mdp, theta), q_values(mdp, theta)
    critic = v + 0.3  # any critic: the identities are algebra, not expectations
    gae1 = signal(Estimator("gae", gae_lambda=1.0), traj, critic, q, 0.0, mdp.gamma)
    gae0 = signal(Estimator("gae", gae_lambda=0.0), traj, critic, q, 0.0, mdp.gamma)
    td0 = signal(Estimator("td0"), traj, critic, q, 0.0, mdp.gamma)
    vs, v_next = critic[traj.states] * traj.alive, critic[traj.next_states] * traj.alive
    zeros = jnp.zeros_like(traj.terminated)
    # λ = 1 telescopes to the bootstrapped reward-to-go minus V(s_t)
    g = discounted_returns(
        rewards=traj.rewards,
        terminated=traj.terminated,
        truncated=zeros,
        next_values=v_next,
        gamma=mdp.gamma,
    )
    np.testing.assert_allclose(gae1, (g - vs) * traj.alive, atol=1e-10)
    np.testing.assert_allclose(gae0, td0, atol=1e-12)
    np.testing.assert_allclose(
        td0,
        td_errors(
            rewards=traj.rewards,
            values=vs,
            next_values=v_next,
            terminated=traj.terminated,
            gamma=mdp.gamma,
        )
        * traj.alive,
    )
    # and once every episode ended inside the window, no bootstrap is left:
    # GAE(1) is exactly the Monte-Carlo signal G_t − V(s_t)
    done = np.asarray(traj.alive[-1] == 0)
    rtg_v = signal(Estimator("value_baseline"), traj, critic, q, 0.0, mdp.gamma)
    np.testing.assert_allclose(np.asarray(gae1)[:, done], np.asarray(rtg_v)[:, done], atol=1e-10)
