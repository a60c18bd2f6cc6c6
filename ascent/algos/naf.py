"""Normalized Advantage Functions (Gu et al. 2016, "Continuous deep Q-learning with
model-based acceleration", Algorithm 1): Q-learning with continuous actions.

One network gives V(s), μ(s) and the entries of a lower-triangular L(s), and

    Q(s, a) = V(s) + A(s, a),  A(s, a) = −½ (a − μ(s))ᵀ L(s)L(s)ᵀ (a − μ(s))   (eqs. 3–5)

so argmax_a Q(s, a) = μ(s) in closed form and max_a Q(s, a) = V(s). One update:

    y = r + γ(1 − terminated) V'(s')     (target network; truncated steps bootstrap)
    minimise (Q(s, a) − y)²;  θ' ← τθ + (1 − τ)θ'

L's diagonal is exponentiated, so P = LLᵀ is positive definite (`ascent.core.naf`).
Actions are in the unit box inside the network. Exploration is the loop's noise
added to μ(s). Defaults follow the paper where it gives them (2 × 200 ReLU units,
τ = 0.001, Adam at 1e-3); no maintained library ships NAF to compare with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import flax.linen as nn
import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import ScheduleLike
from ascent.algos.offpolicy import (
    OffPolicyConfig,
    action_bounds,
    adam,
    check_continuous_spaces,
    optimizer_step,
)
from ascent.algos.optim import schedule_fn
from ascent.algos.protocol import Algorithm
from ascent.buffers import Transitions
from ascent.core.losses import value_loss
from ascent.core.naf import lower_triangular, n_triangular, quadratic_advantage
from ascent.core.targets import polyak_update, td_target
from ascent.nn import MLP, dense, rescale_action, unit_action
from ascent.nn.encoders import ObsSpec, encode


@dataclass(frozen=True)
class NAFConfig(OffPolicyConfig):
    """NAF settings; defaults from Gu et al. 2016 (§6) where given."""

    lr: ScheduleLike = 1e-3
    """Learning rate (a number or a schedule)."""
    hidden: tuple[int, ...] = (200, 200)
    """Hidden layer widths of the shared torso."""
    tau: float = 0.001
    """Polyak averaging rate of the target network."""
    action_noise: str = "normal"
    """Exploration noise added to μ(s): none, normal or ou (Ornstein–Uhlenbeck)."""


class NAFNet(nn.Module):
    """obs -> (V(s) [...], μ(s) [..., D] in the unit box, L(s) [..., D, D])."""

    action_dim: int
    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (200, 200)
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        features = MLP(self.hidden, self.activation)(encode(self.obs_spec, obs))
        value = dense(1, scale=1.0)(features)[..., 0]
        mu = jnp.tanh(dense(self.action_dim, scale=1.0)(features))
        entries = dense(n_triangular(self.action_dim), scale=0.01)(features)
        return value, mu, lower_triangular(entries, self.action_dim)

    def q(self, obs: jax.Array, actions: jax.Array) -> jax.Array:
        """Q(s, a) = V(s) + A(s, a) for unit-box actions [..., D]. Returns [...]."""
        value, mu, L = self(obs)
        return value + quadratic_advantage(actions, mu, L)


class NAFState(NamedTuple):
    params: Any
    target: Any
    opt_state: Any
    updates: jax.Array  # gradient steps so far: the clock of the learning-rate schedule


class NAF(Algorithm):
    """Q-learning with a quadratic advantage: greedy action μ(s), target network, noise."""

    name = "naf"
    kind = "off-policy"
    action_spaces = ("Box",)
    Config = NAFConfig

    def __init__(self, config: NAFConfig, observation_space: gym.Space, action_space: gym.Space):
        check_continuous_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_spec = ObsSpec.of(observation_space, config.torso)
        self.low, self.high = action_bounds(action_space)
        self.net = NAFNet(int(self.low.size), self.obs_spec, config.hidden, config.activation)
        self.optimizer = adam()
        self.lr = schedule_fn(config.lr, config.total_updates)

    def init(self, key: jax.Array) -> NAFState:
        params = self.net.init(key, self.obs_spec.zeros((1,), jnp))
        return NAFState(params, params, self.optimizer.init(params), jnp.zeros((), jnp.int32))

    def act(
        self, state: NAFState, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        """(μ(s) in the action space's bounds [N, D], zeros [N]); noise is the loop's."""
        _, mu, _ = self.net.apply(state.params, obs)
        return rescale_action(mu, self.low, self.high), jnp.zeros(mu.shape[:-1])

    def targets(self, state: NAFState, batch: Transitions, key: jax.Array) -> jax.Array:
        """y = r + γ(1 − terminated) V'(s') [B]: max_a Q'(s', a) is V'(s')."""
        next_value, _, _ = self.net.apply(state.target, batch.next_obs)
        return td_target(batch.rewards, batch.terminated, next_value, gamma=self.config.gamma)

    def update(
        self, state: NAFState, batch: Transitions, key: jax.Array
    ) -> tuple[NAFState, dict[str, jax.Array]]:
        lr = self.lr(state.updates)
        y = self.targets(state, batch, key)
        actions = unit_action(batch.actions, self.low, self.high)

        def loss_fn(params: Any) -> tuple[jax.Array, jax.Array]:
            q = self.net.apply(params, batch.obs, actions, method=NAFNet.q)
            return value_loss(q, y)[0], q.mean()

        (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        params, opt_state = optimizer_step(self.optimizer, state.params, state.opt_state, grads, lr)
        target = polyak_update(state.target, params, tau=self.config.tau)
        metrics = {"critic_loss": loss, "q": q, "lr": lr}
        return NAFState(params, target, opt_state, optax.safe_increment(state.updates)), metrics
