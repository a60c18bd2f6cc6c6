"""TabularMDP: its constructors build what they say, and bad arrays are refused."""

from __future__ import annotations

import numpy as np
import pytest

from ascent.errors import ConfigError
from ascent.theory import TabularMDP


def test_random_mdp_ends_each_step_with_p_end_and_is_reproducible() -> None:
    mdp = TabularMDP.random(6, 3, seed=4, gamma=0.8, p_end=0.1)
    assert mdp.P.shape == (6, 3, 6) and mdp.R.shape == (6, 3) and mdp.p0.shape == (6,)
    np.testing.assert_allclose(mdp.terminate, 0.1)
    np.testing.assert_array_equal(mdp.P, TabularMDP.random(6, 3, seed=4, p_end=0.1).P)
    assert not np.array_equal(mdp.P, TabularMDP.random(6, 3, seed=5, p_end=0.1).P)


def test_chain_moves_with_slip_and_ends_at_the_goal() -> None:
    mdp = TabularMDP.chain(4, slip=0.1, lure=0.5)
    assert mdp.P[1, 1, 2] == pytest.approx(0.9) and mdp.P[1, 1, 0] == pytest.approx(0.1)
    assert mdp.P[0, 0, 0] == pytest.approx(0.9)  # the wall keeps a left move in cell 0
    np.testing.assert_array_equal(mdp.terminate[3], [1.0, 1.0])
    np.testing.assert_array_equal(mdp.terminate[:3], 0.0)
    np.testing.assert_array_equal(mdp.R[3], [1.0, 1.0])
    assert mdp.R[0, 0] == pytest.approx(0.45) and mdp.p0[0] == 1.0


def test_grid_walls_and_goal() -> None:
    mdp = TabularMDP.grid(3, slip=0.0)
    up, right, down, left = range(4)
    assert mdp.P[0, up, 0] == 1.0 and mdp.P[0, left, 0] == 1.0  # walls
    assert mdp.P[0, right, 1] == 1.0 and mdp.P[0, down, 3] == 1.0
    assert mdp.terminate[8].tolist() == [1.0] * 4 and mdp.R[8].tolist() == [1.0] * 4


def test_horizon_makes_the_discounted_tail_negligible() -> None:
    mdp = TabularMDP.random(3, 2, seed=0, gamma=0.9, p_end=0.1)
    h = mdp.horizon(1e-10)
    assert (0.9 * 0.9) ** h <= 1e-10 < (0.9 * 0.9) ** (h - 1)


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"P": np.full((2, 1, 2), 0.6)}, "P"),
        ({"R": np.zeros((2, 2))}, "R"),
        ({"p0": np.array([0.5, 0.4])}, "p0"),
        ({"gamma": 1.0}, "gamma"),
    ],
)
def test_bad_arrays_are_a_config_error_naming_them(change: dict, word: str) -> None:
    good = {"P": np.full((2, 1, 2), 0.5), "R": np.zeros((2, 1)), "gamma": 0.9, "p0": [1.0, 0.0]}
    with pytest.raises(ConfigError, match=word):
        TabularMDP(**{**good, **change})
