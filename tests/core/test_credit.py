"""COMA's counterfactual advantage against a brute-force sum over joint actions."""

from __future__ import annotations

import itertools

import jax
import numpy as np

from ascent.core.credit import counterfactual_advantage


def test_coma_advantage_is_q_minus_the_counterfactual_expectation_by_brute_force() -> None:
    rng = np.random.default_rng(0)
    n_agents, n_actions, batch = 3, 4, 5
    for _ in range(batch):
        table = rng.normal(size=(n_actions,) * n_agents)  # Q(s, u) for every joint action u
        probs = rng.dirichlet(np.ones(n_actions), size=n_agents)  # π^a(c) [A, n]
        u = tuple(int(a) for a in rng.integers(n_actions, size=n_agents))
        expected = []
        for a in range(n_agents):  # Q(s, u) − Σ_c π^a(c) Q(s, u with u^a replaced by c)
            baseline = 0.0
            for c in range(n_actions):
                joint = list(u)
                joint[a] = c
                baseline += probs[a, c] * table[tuple(joint)]
            expected.append(table[u] - baseline)
        # what COMA's critic gives agent a: Q over a's actions, the others' held at u^{-a}
        q = np.stack([table[u[:a] + (slice(None),) + u[a + 1 :]] for a in range(n_agents)])
        got = counterfactual_advantage(q, probs, np.asarray(u))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_the_baseline_leaves_the_policy_gradient_unbiased() -> None:
    # E_{u^a ~ π^a}[A^a] = 0: the baseline is the mean of Q over a's own policy.
    rng = np.random.default_rng(1)
    q = rng.normal(size=(2, 3, 5))  # [batch, A, n]
    probs = rng.dirichlet(np.ones(5), size=(2, 3))
    means = sum(probs[..., c] * counterfactual_advantage(q, probs, np.full((2, 3), c))
                for c in range(5))  # fmt: skip
    np.testing.assert_allclose(means, 0.0, atol=1e-6)


def test_an_agent_whose_action_changes_nothing_gets_no_credit() -> None:
    # Q depends on agent 0 only: agent 1's advantage is 0 whatever it did.
    table = np.array([[1.0, 1.0, 1.0], [5.0, 5.0, 5.0], [-2.0, -2.0, -2.0]])  # Q[u0, u1]
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    for u0, u1 in itertools.product(range(3), range(3)):
        q = np.stack([table[:, u1], table[u0, :]])
        adv = counterfactual_advantage(q, probs, np.array([u0, u1]))
        np.testing.assert_allclose(adv[1], 0.0, atol=1e-6)
        np.testing.assert_allclose(adv[0], table[u0, 0] - probs[0] @ table[:, 0], rtol=1e-6)
    assert jax.jit(counterfactual_advantage)(q, probs, np.array([0, 0])).shape == (2,)
