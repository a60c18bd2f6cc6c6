"""Value decomposition: the team's Q_tot from each agent's own Q_a, so that agents act
greedily on their own Q_a and still climb the team's value.

Both mixers share one signature, `(q [..., A], state [..., state_dim]) -> q_tot [...]`:

- `VDNMixer`: Q_tot = Σ_a Q_a (Sunehag et al. 2018).
- `QMixer`: Q_tot = w2(s)ᵀ elu(W1(s)ᵀ q + b1(s)) + b2(s), the mixing weights produced
  from the global state by hypernetworks and made non-negative by an absolute value, so
  ∂Q_tot/∂Q_a ≥ 0 for every agent: the argmax of Q_tot is each agent's own argmax
  (Rashid et al. 2018, §4, eq. 5). The hypernetworks are one linear layer each, except
  b2(s), which has a ReLU hidden layer (§4, figure 2).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ascent.nn.torso import dense

Array = jax.Array

HYPER_GAIN = 0.1
"""Orthogonal gain of the hypernetworks that make QMIX's weights. With gain 1 the mixer
started out multiplying the agents' values by about 20 on MPE's states, and bootstrapping
on its own greedy value (no target network here) diverged; 0.1 starts it near a sum."""


class VDNMixer(nn.Module):
    """Q_tot = Σ_a Q_a; the state is unused."""

    @nn.compact
    def __call__(self, q: Array, state: Array) -> Array:
        del state
        return q.sum(axis=-1)


class QMixer(nn.Module):
    """QMIX's monotonic mixing network (Rashid et al. 2018, eq. 5)."""

    n_agents: int
    embed_dim: int = 32

    @nn.compact
    def __call__(self, q: Array, state: Array) -> Array:
        batch = q.shape[:-1]
        state = jnp.asarray(state, jnp.float32)
        w1 = jnp.abs(dense(self.n_agents * self.embed_dim, HYPER_GAIN)(state))
        w1 = w1.reshape(*batch, self.n_agents, self.embed_dim)  # [..., A, E], >= 0
        b1 = dense(self.embed_dim, 1.0)(state)  # [..., E]
        hidden = nn.elu(jnp.einsum("...a,...ae->...e", q, w1) + b1)  # [..., E]
        w2 = jnp.abs(dense(self.embed_dim, HYPER_GAIN)(state))  # [..., E], >= 0
        b2 = dense(1, 1.0)(nn.relu(dense(self.embed_dim)(state)))[..., 0]  # [...]
        return jnp.sum(hidden * w2, axis=-1) + b2


def make_mixer(kind: str, n_agents: int, embed_dim: int = 32) -> nn.Module:
    """The mixer by name: "vdn" or "qmix"."""
    if kind == "vdn":
        return VDNMixer()
    if kind == "qmix":
        return QMixer(n_agents, embed_dim)
    raise ValueError(f"unknown mixer {kind!r}; known: {', '.join(MIXERS)}")


MIXERS = ("vdn", "qmix")
