"""Two-player normal-form (matrix) games and how far a pair of strategies is from a Nash
equilibrium, computed exactly.

A game is two payoff tables `R1[i, j]`, `R2[i, j]`: the row player plays i with
probability x_i, the column player j with probability y_j, and they earn
x^T R1 y and x^T R2 y. A zero-sum game has R2 = −R1.

NashConv (Lanctot et al. 2017, §3.1) sums what each player gains by switching alone to
a best response:

    NashConv(x, y) = [max_i (R1 y)_i − x^T R1 y] + [max_j (x^T R2)_j − x^T R2 y] ≥ 0,

zero exactly at a Nash equilibrium. Exploitability is NashConv / 2, the mean over the
two players (OpenSpiel's convention for two-player games); in a zero-sum game it is
(max_i (R1 y)_i − min_j (x^T R1)_j) / 2, half the duality gap.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from ascent.errors import ConfigError


class MatrixGame(NamedTuple):
    """Payoff tables `row [n, m]` (the row player's) and `column [n, m]` (the column
    player's), for the row player's action i and the column player's j."""

    row: np.ndarray
    column: np.ndarray
    name: str = "game"

    @classmethod
    def zero_sum(cls, payoff: ArrayLike, name: str = "game") -> MatrixGame:
        """The game where the column player loses what the row player wins."""
        row = np.asarray(payoff, np.float64)
        return cls(row, -row, name)

    def check(self) -> None:
        """ConfigError unless both tables are finite and of one 2-D shape."""
        row, column = np.asarray(self.row), np.asarray(self.column)
        if row.ndim != 2 or row.shape != column.shape or 0 in row.shape:
            raise ConfigError(f"{self.name}: payoff tables must be 2-D and of one shape, got "
                              f"{row.shape} and {column.shape}")  # fmt: skip
        if not (np.isfinite(row).all() and np.isfinite(column).all()):
            raise ConfigError(f"{self.name}: payoffs must be finite")


ROCK_PAPER_SCISSORS = MatrixGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], "rps")
"""Rock, paper, scissors: the unique Nash equilibrium is uniform for both players."""

BIASED_RPS = MatrixGame.zero_sum([[0, -1, 2], [1, 0, -1], [-2, 1, 0]], "biased-rps")
"""Rock-paper-scissors where rock beats scissors by 2: the Nash equilibrium is
(1/4, 1/2, 1/4) for both players (the game is symmetric: R^T = −R)."""

MATCHING_PENNIES = MatrixGame.zero_sum([[1, -1], [-1, 1]], "matching-pennies")
"""The row player wins when the coins match: Nash is (1/2, 1/2) for both."""


def best_response_gains(game: MatrixGame, x: ArrayLike, y: ArrayLike) -> Array:
    """[gain of the row player, gain of the column player]: what each earns by switching
    alone to a best response, max_i (R1 y)_i − x^T R1 y and max_j (x^T R2)_j − x^T R2 y.
    x [n], y [m] are probability vectors; pure jnp, so it jits and differentiates."""
    x, y = jnp.asarray(x), jnp.asarray(y)
    r1, r2 = jnp.asarray(game.row, x.dtype), jnp.asarray(game.column, x.dtype)
    row_values = r1 @ y  # [n] the row player's value of each pure action against y
    column_values = x @ r2  # [m]
    return jnp.stack([row_values.max() - x @ row_values, column_values.max() - column_values @ y])


def nash_conv(game: MatrixGame, x: ArrayLike, y: ArrayLike) -> Array:
    """NashConv(x, y): the sum of both players' best-response gains (0 at a Nash
    equilibrium, positive elsewhere)."""
    return best_response_gains(game, x, y).sum()


def exploitability(game: MatrixGame, x: ArrayLike, y: ArrayLike) -> Array:
    """NashConv / 2: the mean best-response gain over the two players."""
    return nash_conv(game, x, y) / 2
