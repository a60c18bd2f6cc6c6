"""Small tabular MDPs whose every quantity can be computed exactly.

An episode starts in s_0 ~ p0; in state s the action a earns R[s, a] and leads to s'
with probability P[s, a, s']. The rows of P may sum to less than one: the missing mass
1 − Σ_s' P[s, a, s'] is the probability that the episode terminates after (s, a). The
objective is the expected discounted return J = E[Σ_t γ^t r_t].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ascent.errors import ConfigError

_TOL = 1e-9  # slack for rows of P and p0 that sum to one up to rounding


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """P[s, a, s'] (sub-stochastic rows: the rest terminates), R[s, a], gamma, p0[s].

    Arrays are float64 numpy; the exact functions of `ascent.theory.exact` read them
    with jnp, in float64 when `jax.enable_x64` is on.
    """

    P: np.ndarray
    """Transition probabilities [S, A, S]; 1 − Σ_s' P[s, a, s'] is the termination probability."""
    R: np.ndarray
    """Expected reward of taking a in s, [S, A]."""
    gamma: float
    """Discount factor γ in [0, 1)."""
    p0: np.ndarray
    """Start-state distribution [S]."""
    name: str = "custom"
    """A label for tables and plots."""

    def __post_init__(self) -> None:
        P, R, p0 = (np.asarray(x, np.float64) for x in (self.P, self.R, self.p0))
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "p0", p0)
        if P.ndim != 3 or P.shape[0] != P.shape[2] or P.shape[0] < 1 or P.shape[1] < 1:
            raise ConfigError(f"TabularMDP: P must have shape [S, A, S], got {P.shape}")
        n_states, n_actions = P.shape[:2]
        if R.shape != (n_states, n_actions):
            raise ConfigError(
                f"TabularMDP: R must have shape {(n_states, n_actions)}, got {R.shape}"
            )
        if p0.shape != (n_states,):
            raise ConfigError(f"TabularMDP: p0 must have shape {(n_states,)}, got {p0.shape}")
        if (P < 0).any() or (P.sum(-1) > 1 + _TOL).any():
            raise ConfigError("TabularMDP: P must be >= 0 with rows summing to at most 1")
        if (p0 < 0).any() or abs(p0.sum() - 1) > _TOL:
            raise ConfigError("TabularMDP: p0 must be a probability distribution over states")
        if not np.isfinite(R).all():
            raise ConfigError("TabularMDP: R must be finite")
        if not 0.0 <= self.gamma < 1.0:
            raise ConfigError(f"TabularMDP: gamma must be in [0, 1), got {self.gamma}")

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]

    @property
    def terminate(self) -> np.ndarray:
        """Probability that the episode ends after (s, a), [S, A]."""
        return np.clip(1.0 - self.P.sum(-1), 0.0, 1.0)

    def horizon(self, tol: float = 1e-10) -> int:
        """Steps H after which γ^t·Pr(episode still running) ≤ tol for every policy.

        Per step an episode continues with probability at most c = max_{s,a} Σ_s' P[s,a,s'],
        so anything weighted by γ^t beyond H is at most (γc)^H ≤ tol times its size.
        """
        rate = self.gamma * float(self.P.sum(-1).max())
        if rate <= 0.0:
            return 1
        return max(1, math.ceil(math.log(tol) / math.log(rate)))

    @classmethod
    def random(
        cls,
        n_states: int = 5,
        n_actions: int = 3,
        seed: int = 0,
        *,
        gamma: float = 0.9,
        p_end: float = 0.05,
    ) -> TabularMDP:
        """A random MDP: P[s, a] ~ (1 − p_end)·Dirichlet(1), R ~ U[0, 1), p0 ~ Dirichlet(1).

        Every step ends the episode with probability `p_end`, so episodes are finite and
        an estimator without the γ^t weighting still has a finite expectation.
        (Dense "Garnet" MDPs: Archibald, McKinnon & Thomas 1995; Bhatnagar et al. 2009.)
        """
        if n_states < 1 or n_actions < 1:
            raise ConfigError(
                f"random MDP needs n_states >= 1 and n_actions >= 1, got {n_states}, {n_actions}"
            )
        if not 0.0 <= p_end < 1.0:
            raise ConfigError(f"random MDP: p_end must be in [0, 1), got {p_end}")
        rng = np.random.default_rng(seed)
        P = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions)) * (1.0 - p_end)
        R = rng.uniform(0.0, 1.0, (n_states, n_actions))
        p0 = rng.dirichlet(np.ones(n_states))
        return cls(P, R, gamma, p0, name=f"random({n_states}x{n_actions}, seed {seed})")

    @classmethod
    def chain(
        cls, n_states: int = 5, *, gamma: float = 0.9, slip: float = 0.1, lure: float = 0.02
    ) -> TabularMDP:
        """A corridor of `n_states` cells; 0 = left, 1 = right; start in cell 0.

        A move goes the other way with probability `slip`; walls stop it. Any action in
        the last cell earns 1 and ends the episode; moving left in cell 0 earns `lure`,
        a small reward that tempts the policy away from the goal. (After Strens 2000's
        chain.)
        """
        if n_states < 2 or not 0.0 <= slip <= 1.0:
            raise ConfigError(
                f"chain needs n_states >= 2 and slip in [0, 1], got {n_states}, {slip}"
            )
        goal = n_states - 1
        P = np.zeros((n_states, 2, n_states))
        R = np.zeros((n_states, 2))
        for s in range(goal):
            left, right = max(s - 1, 0), s + 1
            P[s, 0, left] += 1 - slip
            P[s, 0, right] += slip
            P[s, 1, right] += 1 - slip
            P[s, 1, left] += slip
        R[goal, :] = 1.0  # P[goal] stays 0: the episode ends after the goal's reward
        R[0, 0] = lure * (1 - slip)  # the lure is paid when the left move really happens
        p0 = np.eye(n_states)[0]
        return cls(P, R, gamma, p0, name=f"chain({n_states})")

    @classmethod
    def grid(cls, side: int = 3, *, gamma: float = 0.9, slip: float = 0.1) -> TabularMDP:
        """A side × side gridworld from the top-left cell to the bottom-right goal.

        Actions up, right, down, left; with probability `slip` a uniformly random move is
        made instead; walls stop a move. Any action in the goal earns 1 and ends the
        episode. State s = row·side + column. (Sutton & Barto 2018, Example 3.5, smaller.)
        """
        if side < 2 or not 0.0 <= slip <= 1.0:
            raise ConfigError(f"grid needs side >= 2 and slip in [0, 1], got {side}, {slip}")
        n_states = side * side
        goal = n_states - 1
        moves = [(-1, 0), (0, 1), (1, 0), (0, -1)]
        P = np.zeros((n_states, 4, n_states))
        R = np.zeros((n_states, 4))
        for s in range(goal):
            row, column = divmod(s, side)
            landing = []
            for dr, dc in moves:
                r, c = row + dr, column + dc
                landing.append(r * side + c if 0 <= r < side and 0 <= c < side else s)
            for a in range(4):
                P[s, a, landing[a]] += 1 - slip
                for b in range(4):
                    P[s, a, landing[b]] += slip / 4
        R[goal, :] = 1.0
        p0 = np.eye(n_states)[0]
        return cls(P, R, gamma, p0, name=f"grid({side}x{side})")
