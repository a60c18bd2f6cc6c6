"""The true value of a policy at the states it visits, estimated from recorded episodes:
the yardstick a critic's estimate is measured against (Fujimoto et al. 2018, fig. 1).

A recorded rollout ends its episodes in two ways. A terminal step ends the return: what
follows is zero. A truncation (a time limit, or the end of the recording) only stops the
recording: the return goes on unseen. Counting that unseen tail as zero, as a terminal
step would, makes every state near a time limit look worse than it is. So the estimate
comes with the weight of what it misses:

    V^π(s_t) = G_t + u_t · V^π(s_cut)   (s_cut: the state after the cut, deterministic π)
    G_t = Σ_{k=0}^{K−1} γ^k r_{t+k}      (K steps to the episode's terminal step or its cut)
    u_t = γ^K after a cut, 0 after a terminal step

Both are `ascent.core.returns.discounted_returns`: G_t with nothing bootstrapped, u_t
with zero rewards and a value of one behind every cut. A state whose u_t is below a
tolerance ε has |V^π(s_t) − G_t| ≤ ε · max|V^π|; `horizon` says how many steps past the
last state used a recording needs for that.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ascent.core.returns import discounted_returns


class MonteCarloValues(NamedTuple):
    returns: Array  # [T, N] G_t, the discounted rewards seen from t to the episode's end
    unseen: Array  # [T, N] u_t, the discount of the first step not seen (0: nothing missed)


def monte_carlo_values(
    *, rewards: ArrayLike, terminated: ArrayLike, truncated: ArrayLike, gamma: float
) -> MonteCarloValues:
    """G_t and u_t of recorded episodes (module docstring), rewards, terminated,
    truncated: [T, N]; the recording's last step counts as a cut unless it is terminal.
    A step both terminated and truncated is terminal. (Sutton & Barto 2018, eq. 3.8.)
    """
    returns = discounted_returns(
        rewards=rewards, terminated=terminated, truncated=truncated, gamma=gamma
    )
    ones = jnp.ones_like(returns)
    unseen = discounted_returns(
        rewards=jnp.zeros_like(returns),
        terminated=terminated,
        truncated=truncated,
        next_values=ones,
        gamma=gamma,
    )
    return MonteCarloValues(returns, unseen)


def horizon(gamma: float, tolerance: float) -> int:
    """The fewest steps k with γ^k ≤ `tolerance`: a state whose recording goes on for k
    steps from it, its own step included, has u_t ≤ γ^k ≤ tolerance."""
    if not 0.0 < tolerance < 1.0:
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")
    if gamma <= 0.0:
        return 1
    if gamma >= 1.0:
        raise ValueError("an undiscounted return (γ = 1) has no finite horizon")
    return math.ceil(math.log(tolerance) / math.log(gamma))
