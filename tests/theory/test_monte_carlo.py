"""Monte-Carlo values of recorded episodes: the returns the overestimation experiment
measures critics against (benchmarks/claims_lab/overestimation.py), by hand."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from ascent.theory import horizon, monte_carlo_values

# One recording of 6 steps: an episode that terminates at t = 2, one truncated by its
# time limit at t = 4, and one cut by the end of the recording at t = 5.
REWARDS = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
TERMINATED = [False, False, True, False, False, False]
TRUNCATED = [False, False, False, False, True, False]


def column(x: list) -> jnp.ndarray:
    return jnp.asarray(x)[:, None]  # [T, N = 1]


def test_returns_and_unseen_weights_by_hand() -> None:
    mc = monte_carlo_values(
        rewards=column(REWARDS),
        terminated=column(TERMINATED),
        truncated=column(TRUNCATED),
        gamma=0.5,
    )
    # G: 1 + 2/2 + 3/4 = 2.75, 2 + 3/2 = 3.5, 3 | 4 + 5/2 = 6.5, 5 | 6
    np.testing.assert_allclose(mc.returns[:, 0], [2.75, 3.5, 3.0, 6.5, 5.0, 6.0])
    # nothing missed after the terminal step; γ^K behind the two cuts
    np.testing.assert_allclose(mc.unseen[:, 0], [0.0, 0.0, 0.0, 0.25, 0.5, 0.5])


def test_a_truncated_tail_is_not_a_terminal_zero() -> None:
    """The same rewards ending in a time limit or in a terminal step: the same G_t seen,
    but only the truncated one says it missed γ^K of the value."""
    flags = [False, False, False]
    cut = monte_carlo_values(rewards=column([1.0, 1.0, 1.0]), terminated=column(flags),
                             truncated=column([False, False, True]), gamma=0.9)  # fmt: skip
    end = monte_carlo_values(rewards=column([1.0, 1.0, 1.0]), terminated=column([*flags[:2], True]),
                             truncated=column(flags), gamma=0.9)  # fmt: skip
    np.testing.assert_allclose(cut.returns, end.returns)
    np.testing.assert_allclose(cut.unseen[:, 0], [0.729, 0.81, 0.9], rtol=1e-6)
    np.testing.assert_allclose(end.unseen[:, 0], 0.0)


def test_the_unseen_weight_completes_the_value_of_a_constant_reward() -> None:
    """Reward 1 forever is worth 1/(1 − γ) from every state: G_t + u_t · V is exact."""
    gamma, t = 0.95, 40
    truncated = jnp.zeros((t, 2), bool).at[17, 0].set(True)  # a time limit in column 0
    mc = monte_carlo_values(rewards=jnp.ones((t, 2)), terminated=jnp.zeros((t, 2), bool),
                            truncated=truncated, gamma=gamma)  # fmt: skip
    np.testing.assert_allclose(mc.returns + mc.unseen / (1 - gamma), 1 / (1 - gamma), rtol=1e-5)


def test_with_gamma_zero_the_returns_are_the_rewards() -> None:
    mc = monte_carlo_values(rewards=column(REWARDS), terminated=column(TERMINATED),
                            truncated=column(TRUNCATED), gamma=0.0)  # fmt: skip
    np.testing.assert_allclose(mc.returns[:, 0], REWARDS)
    np.testing.assert_allclose(mc.unseen, 0.0)


def test_horizon() -> None:
    assert horizon(0.5, 0.25) == 2 and horizon(0.5, 0.2) == 3
    assert horizon(0.99, 0.05) == 299 and 0.99**299 <= 0.05 < 0.99**298
    with pytest.raises(ValueError):
        horizon(1.0, 0.05)
