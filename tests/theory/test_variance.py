"""The variance measurement against brute force: every trajectory of a tiny MDP listed with
its probability gives an estimator's exact mean and covariance; the Monte-Carlo moments
of sampled batches must converge to them, and unbiased estimators' exact means must be
the policy gradient theorem's ∇J."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.theory import (
    Estimator,
    TabularMDP,
    estimate,
    exact_policy_gradient,
    objective,
    q_values,
    sample_trajectories,
    value,
)
from ascent.theory.variance import (
    all_trajectories,
    exact_moments,
    gradient_moments,
    relative_bias,
    variance_ratio,
)


def layered_mdp() -> TabularMDP:
    """s0 → {s1, s2} → s3 or the end; s3 always ends: every episode ends within 3 steps."""
    P = np.zeros((4, 2, 4))
    P[0, 0, 1:3] = [0.8, 0.2]
    P[0, 1, 1:3] = [0.3, 0.7]
    P[1, 0, 3], P[1, 1, 3] = 0.6, 0.1  # the rest of each row ends the episode
    P[2, 0, 3], P[2, 1, 3] = 0.5, 0.9
    R = np.array([[0.0, 0.2], [1.0, 0.0], [0.0, 0.5], [2.0, -1.0]])
    return TabularMDP(P, R, 0.9, np.array([1.0, 0, 0, 0]), name="layered")


def test_gradient_moments_by_hand() -> None:
    grads = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 3.0], [2.0, -3.0]])
    m = gradient_moments(grads)
    np.testing.assert_allclose(m.mean, [2.0, 0.0])
    np.testing.assert_allclose(m.variance, [2 / 3, 6.0])  # (1+1+0+0)/3, (0+0+9+9)/3
    assert m.total_variance == pytest.approx(20 / 3)
    # d_k = 4/3·‖g_k − ḡ‖² = [4/3, 4/3, 12, 12]: deviations from 20/3 are ±16/3, so
    # var(d) = 4·(16/3)²/3 and SE = √(var(d)/4) = 16/√27
    assert m.total_variance_se == pytest.approx(16 / np.sqrt(27))
    assert m.noise == pytest.approx(np.sqrt(20 / 3 / 4))
    # a reference at distance 1 from the mean, of norm 2, known exactly
    assert relative_bias(m, [2.0, 1.0]) == pytest.approx((1 / np.sqrt(5), m.noise / np.sqrt(5)))
    # the same estimates doubled: variance 4×, ratio exactly 4 with no spread
    ratio, se = variance_ratio(2 * grads, grads)
    assert ratio == pytest.approx(4.0) and se == pytest.approx(0.0, abs=1e-12)


def test_standard_errors_are_calibrated() -> None:
    # 400 repeats of K = 200 correlated Gaussian pairs: the spread of tr Σ̂ and of the
    # paired ratio across repeats against the standard errors each repeat reports
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 2.0, 0.5])
    variances, variance_ses, ratios, ratio_ses = [], [], [], []
    for _ in range(400):
        x = rng.normal(size=(200, 3)) * scale
        y = 0.6 * x + rng.normal(size=(200, 3)) * 0.5 * scale  # correlated with x
        m = gradient_moments(x)
        variances.append(m.total_variance)
        variance_ses.append(m.total_variance_se)
        r, se = variance_ratio(y, x)
        ratios.append(r)
        ratio_ses.append(se)
    assert np.mean(variances) == pytest.approx(np.sum(scale**2), rel=0.02)  # unbiased
    assert np.std(variances) == pytest.approx(np.mean(variance_ses), rel=0.12)
    assert np.mean(ratios) == pytest.approx(0.36 + 0.25, rel=0.02)
    assert np.std(ratios) == pytest.approx(np.mean(ratio_ses), rel=0.12)


def test_enumeration_matches_the_exact_objective_and_gradient() -> None:
    mdp = layered_mdp()
    theta = jax.random.normal(jax.random.key(0), (4, 2), jnp.float64)
    traj, probs = all_trajectories(mdp, theta, horizon=3)
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert traj.terminated.any(0).all()  # every episode ended inside the window
    g0 = (mdp.gamma ** np.arange(3)[:, None] * traj.rewards).sum(0)
    assert probs @ g0 == pytest.approx(float(objective(mdp, theta)), abs=1e-12)
    v, q = value(mdp, theta), q_values(mdp, theta)
    exact = np.asarray(exact_policy_gradient(mdp, theta))
    unbiased = [Estimator(k) for k in ("reward_to_go", "value_baseline", "exact_advantage")]
    unbiased += [Estimator("td0"), Estimator("gae", gae_lambda=0.5)]
    unbiased += [Estimator("total_return", discount=False)]
    for est in unbiased:
        mean, cov = exact_moments(estimate(est, mdp, theta, traj, v, q, 0.7), probs)
        np.testing.assert_allclose(mean, exact, atol=1e-12, err_msg=est.label)
        assert np.all(np.linalg.eigvalsh(cov) > -1e-12)
    # Without γ^t the reward-to-go is biased (Thomas 2014): the exact mean says so too
    mean, _ = exact_moments(estimate(Estimator("reward_to_go", False), mdp, theta, traj, v, q),
                            probs)  # fmt: skip
    assert np.abs(mean - exact).max() > 1e-3


@pytest.mark.parametrize("mdp_name", ["layered", "looped"])
def test_monte_carlo_moments_converge_to_the_exact_ones(mdp_name: str) -> None:
    # looped: episodes may run past the window; the enumeration counts the cut prefixes,
    # as the sampler does, so the window's estimator is what both describe
    if mdp_name == "layered":
        mdp, horizon = layered_mdp(), 3
    else:
        mdp, horizon = TabularMDP.random(2, 2, seed=3, gamma=0.9, p_end=0.3), 4
    theta = jax.random.normal(jax.random.key(1), (mdp.n_states, mdp.n_actions), jnp.float64)
    v, q = value(mdp, theta), q_values(mdp, theta)
    critic = v + jnp.arange(mdp.n_states) * 0.3  # a wrong critic: TD(0) biased, still measured
    traj, probs = all_trajectories(mdp, theta, horizon)
    batch, n_batches = 4, 5_000
    sampled = sample_trajectories(mdp, theta, jax.random.key(2), batch * n_batches, horizon)
    estimators = [Estimator("reward_to_go"), Estimator("value_baseline"), Estimator("td0", False)]
    per_batch = {}
    for est in estimators:
        mean, cov = exact_moments(estimate(est, mdp, theta, traj, critic, q), probs)
        episodes = np.asarray(estimate(est, mdp, theta, sampled, critic, q))  # [N, S, A]
        per_batch[est.kind] = episodes.reshape(n_batches, batch, -1).mean(1)  # [K, S·A]
        m = gradient_moments(per_batch[est.kind])
        # the batch mean of B independent episodes has covariance Σ/B
        assert abs(m.total_variance - np.trace(cov) / batch) < 4 * m.total_variance_se, est
        assert m.total_variance_se < 0.1 * np.trace(cov) / batch  # the test has power
        z = np.abs(m.mean - mean.reshape(-1)) / np.maximum(m.mean_se, 1e-12)
        assert z.max() < 4.5, est
        if est.kind == "reward_to_go" and mdp_name == "layered":  # every episode ends: ∇J
            exact = exact_policy_gradient(mdp, theta)
            rel, noise = relative_bias(m, exact)
            assert rel < 3 * noise
    exact_ratio = [
        np.trace(exact_moments(estimate(e, mdp, theta, traj, critic, q), probs)[1])
        for e in estimators[:2]
    ]
    ratio, se = variance_ratio(per_batch["value_baseline"], per_batch["reward_to_go"])
    assert abs(ratio - exact_ratio[1] / exact_ratio[0]) < 4 * se
    assert se < 0.05
