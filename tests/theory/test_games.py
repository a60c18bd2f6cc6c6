"""Exploitability of two-player matrix games against hand calculations."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from ascent.errors import ConfigError
from ascent.theory.games import (
    BIASED_RPS,
    MATCHING_PENNIES,
    ROCK_PAPER_SCISSORS,
    TwoPlayerGame,
    best_response_gains,
    exploitability,
    nash_conv,
)

ROCK, PAPER, SCISSORS = np.eye(3)
PRISONERS = TwoPlayerGame(np.array([[3.0, 0.0], [5.0, 1.0]]), np.array([[3.0, 5.0], [0.0, 1.0]]))
"""Prisoner's dilemma, actions (cooperate, defect): (defect, defect) is its only Nash."""


@pytest.mark.parametrize(
    "game, nash",
    [
        (ROCK_PAPER_SCISSORS, np.full(3, 1 / 3)),
        (BIASED_RPS, np.array([0.25, 0.5, 0.25])),
        (MATCHING_PENNIES, np.array([0.5, 0.5])),
    ],
)
def test_a_known_nash_equilibrium_has_exploitability_zero(game: TwoPlayerGame, nash) -> None:
    np.testing.assert_allclose(exploitability(game, nash, nash), 0.0, atol=1e-7)
    # and a step away from it is exploitable
    off = nash + 0.05 * (np.eye(len(nash))[0] - nash)
    assert exploitability(game, off, nash) > 1e-3


def test_pure_rock_against_rock_by_hand() -> None:
    # Either player switches to paper and wins 1 instead of the tie's 0: NashConv 2.
    np.testing.assert_allclose(best_response_gains(ROCK_PAPER_SCISSORS, ROCK, ROCK), [1, 1])
    np.testing.assert_allclose(exploitability(ROCK_PAPER_SCISSORS, ROCK, ROCK), 1.0)
    # Rock against scissors: the row player already wins 1 and can do no better; the
    # column player loses 1 and would win 1 with paper, a gain of 2.
    np.testing.assert_allclose(best_response_gains(ROCK_PAPER_SCISSORS, ROCK, SCISSORS), [0, 2])
    # Biased: rock against scissors pays 2; the column player's paper pays it 1: gain 3.
    np.testing.assert_allclose(nash_conv(BIASED_RPS, ROCK, SCISSORS), 3.0)


def test_a_general_sum_game_by_hand() -> None:
    coop, defect = np.eye(2)
    np.testing.assert_allclose(nash_conv(PRISONERS, defect, defect), 0.0)
    # From mutual cooperation (3 each) either player gains 5 − 3 = 2 by defecting.
    np.testing.assert_allclose(best_response_gains(PRISONERS, coop, coop), [2, 2])
    mixed = np.array([0.5, 0.5])  # against a coin flip, defecting earns 3 vs 2.25
    np.testing.assert_allclose(best_response_gains(PRISONERS, mixed, mixed), [0.75, 0.75])


def test_exploitability_is_half_the_zero_sum_duality_gap() -> None:
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    x, y = (np.asarray(jax.random.dirichlet(k, np.ones(3))) for k in keys)
    r = BIASED_RPS.row
    gap = (r @ y).max() - (x @ r).min()
    np.testing.assert_allclose(exploitability(BIASED_RPS, x, y), gap / 2, rtol=1e-6)


def test_tables_of_different_shapes_are_refused() -> None:
    with pytest.raises(ConfigError, match="2-D and of one shape"):
        TwoPlayerGame(np.zeros((2, 2)), np.zeros((2, 3))).check()
    with pytest.raises(ConfigError, match="finite"):
        TwoPlayerGame.zero_sum([[0.0, np.inf]]).check()


@pytest.mark.parametrize("opponent", ["latest", "pool"])
def test_self_play_reports_the_exploitability_of_its_policies(opponent: str) -> None:
    from ascent.theory.games import self_play

    curves = self_play(BIASED_RPS, jax.random.PRNGKey(0), iterations=30, batch=8,
                       opponent=opponent, pool_size=4, pool_every=5)  # fmt: skip
    assert curves.current.shape == curves.average.shape == (30,)
    last, average = curves.final_policy, curves.final_average
    np.testing.assert_allclose(last.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(curves.current[-1], exploitability(BIASED_RPS, last, last),
                               rtol=1e-5)  # fmt: skip
    np.testing.assert_allclose(curves.average[-1], exploitability(BIASED_RPS, average, average),
                               rtol=1e-5)  # fmt: skip
    assert float(curves.current[0]) > 0.0  # θ_0 is drawn away from the equilibrium


def test_self_play_needs_a_symmetric_game_and_a_known_opponent() -> None:
    from ascent.theory.games import self_play

    with pytest.raises(ConfigError, match="symmetric"):
        self_play(MATCHING_PENNIES, jax.random.PRNGKey(0), iterations=2)
    with pytest.raises(ConfigError, match="opponent must be one of latest, pool"):
        self_play(ROCK_PAPER_SCISSORS, jax.random.PRNGKey(0), opponent="best")
