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

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from ascent.errors import ConfigError


class TwoPlayerGame(NamedTuple):
    """Payoff tables `row [n, m]` (the row player's) and `column [n, m]` (the column
    player's), for the row player's action i and the column player's j."""

    row: np.ndarray
    column: np.ndarray
    name: str = "game"

    @classmethod
    def zero_sum(cls, payoff: ArrayLike, name: str = "game") -> TwoPlayerGame:
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


ROCK_PAPER_SCISSORS = TwoPlayerGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], "rps")
"""Rock, paper, scissors: the unique Nash equilibrium is uniform for both players."""

BIASED_RPS = TwoPlayerGame.zero_sum([[0, -1, 2], [1, 0, -1], [-2, 1, 0]], "biased-rps")
"""Rock-paper-scissors where rock beats scissors by 2: the Nash equilibrium is
(1/4, 1/2, 1/4) for both players (the game is symmetric: R^T = −R)."""

MATCHING_PENNIES = TwoPlayerGame.zero_sum([[1, -1], [-1, 1]], "matching-pennies")
"""The row player wins when the coins match: Nash is (1/2, 1/2) for both."""


def best_response_gains(game: TwoPlayerGame, x: ArrayLike, y: ArrayLike) -> Array:
    """[gain of the row player, gain of the column player]: what each earns by switching
    alone to a best response, max_i (R1 y)_i − x^T R1 y and max_j (x^T R2)_j − x^T R2 y.
    x [n], y [m] are probability vectors; pure jnp, so it jits and differentiates."""
    x, y = jnp.asarray(x), jnp.asarray(y)
    r1, r2 = jnp.asarray(game.row, x.dtype), jnp.asarray(game.column, x.dtype)
    row_values = r1 @ y  # [n] the row player's value of each pure action against y
    column_values = x @ r2  # [m]
    return jnp.stack([row_values.max() - x @ row_values, column_values.max() - column_values @ y])


def nash_conv(game: TwoPlayerGame, x: ArrayLike, y: ArrayLike) -> Array:
    """NashConv(x, y): the sum of both players' best-response gains (0 at a Nash
    equilibrium, positive elsewhere)."""
    return best_response_gains(game, x, y).sum()


def exploitability(game: TwoPlayerGame, x: ArrayLike, y: ArrayLike) -> Array:
    """NashConv / 2: the mean best-response gain over the two players."""
    return nash_conv(game, x, y) / 2


OPPONENTS = ("latest", "pool")


class SelfPlayCurves(NamedTuple):
    """Exploitability over training, [iterations]: of the policy being trained (both seats
    playing it) and of the average of all its past policies."""

    current: Array
    average: Array
    final_policy: Array  # [n]
    final_average: Array  # [n]


def self_play(
    game: TwoPlayerGame,
    key: Array,
    *,
    iterations: int = 2000,
    batch: int = 64,
    lr: float = 0.1,
    opponent: str = "latest",
    pool_size: int = 50,
    pool_every: int = 10,
    ent_coef: float = 0.0,
) -> SelfPlayCurves:
    """Self-play by policy gradient on a symmetric two-player game: one softmax policy
    π = softmax(θ), θ_0 ~ N(0, I), plays both seats. Each iteration it plays `batch`
    games as the row player against an opponent — itself as it is now ("latest"), or a policy drawn
    uniformly from a pool of its past selves ("pool": a snapshot every `pool_every`
    iterations, the last `pool_size` kept; a sampled form of fictitious self-play,
    Heinrich et al. 2015) — and takes one REINFORCE step θ += lr · mean(∇log π(a) (r − r̄))
    (Williams 1992, with the batch's mean reward as baseline) plus `ent_coef` times the
    gradient of π's entropy (a softened best response: with it, the policy no longer
    freezes at a pure action, where the softmax gradient vanishes). Returns the
    exploitability of π and of its running average at every iteration.
    """
    game.check()
    row = np.asarray(game.row)
    if not np.allclose(np.asarray(game.column), row.T):
        raise ConfigError(f"{game.name}: self-play needs a symmetric game (column = row^T)")
    if opponent not in OPPONENTS:
        raise ConfigError(f"opponent must be one of {', '.join(OPPONENTS)}; got {opponent!r}")
    if min(iterations, batch, pool_size, pool_every) < 1 or not lr > 0:
        raise ConfigError("iterations, batch, pool_size, pool_every and lr must be positive")
    n = row.shape[0]
    payoff = jnp.asarray(row, jnp.float32)

    def step(carry: tuple, inputs: tuple) -> tuple[tuple, tuple]:
        theta, average, pool, written = carry  # written: snapshots so far, the first θ_0
        t, k = inputs
        k_me, k_them, k_pick = jax.random.split(k, 3)
        mine = jax.random.categorical(k_me, theta, shape=(batch,))
        if opponent == "latest":
            theirs = jax.random.categorical(k_them, theta, shape=(batch,))
        else:  # each game against a past self drawn from the filled part of the pool
            which = jax.random.randint(k_pick, (batch,), 0, jnp.minimum(written, pool_size))
            theirs = jax.random.categorical(k_them, pool[which])
        rewards = payoff[mine, theirs]  # [batch]

        def surrogate(th: Array) -> Array:
            log_pi = jax.nn.log_softmax(th)
            entropy = -jnp.sum(jnp.exp(log_pi) * log_pi)
            return jnp.mean(log_pi[mine] * (rewards - rewards.mean())) + ent_coef * entropy

        theta = theta + lr * jax.grad(surrogate)(theta)
        policy = jax.nn.softmax(theta)
        average = average + (policy - average) / (t + 1).astype(jnp.float32)
        snapshot = (t + 1) % pool_every == 0
        pool = jnp.where(snapshot, pool.at[written % pool_size].set(theta), pool)
        written = written + snapshot.astype(written.dtype)
        curves = (exploitability(game, policy, policy), exploitability(game, average, average))
        return (theta, average, pool, written), curves

    init_key, key = jax.random.split(key)
    theta = jax.random.normal(init_key, (n,), jnp.float32)  # θ_0 ~ N(0, I): not at Nash
    pool = jnp.zeros((pool_size, n), jnp.float32).at[0].set(theta)
    start = (theta, jax.nn.softmax(theta), pool, jnp.ones((), jnp.int32))
    inputs = (jnp.arange(iterations), jax.random.split(key, iterations))
    (theta, average, _, _), (current, averaged) = jax.lax.scan(step, start, inputs)
    return SelfPlayCurves(current, averaged, jax.nn.softmax(theta), average)
