"""Credit assignment for a team sharing one reward: which agent's action made the
difference.

COMA's counterfactual baseline (Foerster et al. 2018, eq. 4): agent a's advantage
compares the joint action's value with the value expected had a alone drawn its action
again from its own policy, the others' actions held fixed,

    A^a(s, u) = Q(s, u) − Σ_{u'^a} π^a(u'^a | τ^a) Q(s, (u^{-a}, u'^a)).

The baseline does not depend on u^a, so it leaves the policy gradient unbiased; it
removes the part of the team's return that the other agents' actions explain.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike


def counterfactual_advantage(q: ArrayLike, probs: ArrayLike, actions: ArrayLike) -> Array:
    """COMA's A^a(s, u) for every agent a.

    q [..., A, n]: q[..., a, c] = Q(s, (u^{-a}, c)), the joint value when agent a takes
    c and every other agent the action it took (what COMA's critic outputs for agent a);
    probs [..., A, n]: π^a(c | τ^a); actions [..., A] int: u^a. Returns [..., A]:
    q[..., a, u^a] − Σ_c probs[..., a, c] q[..., a, c]. (Foerster et al. 2018, eq. 4.)
    """
    q, probs = jnp.asarray(q), jnp.asarray(probs)
    taken = jnp.take_along_axis(q, jnp.asarray(actions)[..., None], axis=-1)[..., 0]  # [..., A]
    baseline = jnp.sum(probs * q, axis=-1)  # [..., A]
    return taken - baseline
