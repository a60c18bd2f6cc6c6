"""Soft Actor-Critic (Haarnoja et al. 2018, "Soft actor-critic algorithms and
applications", Algorithm 1), with automatic temperature.

Maximum-entropy RL: maximise E[Σ γ^t (r_t + α H(π(·|s_t)))]. A tanh-squashed Gaussian
actor, twin critics with target copies, and a temperature α. One update on a
minibatch from the replay buffer:

    a' ~ π(·|s'):  y = r + γ(1 − terminated)(min_i Q'_i(s', a') − α log π(a'|s'))   (eqs. 3, 5)
    critics: minimise Σ_i (Q_i(s, a) − y)²
    ã ~ π(·|s) (reparameterised): actor minimises α log π(ã|s) − min_i Q_i(s, ã)      (eq. 7)
    α: minimise −log α · (log π(ã|s) + H̄), H̄ = −|A| by default                       (eq. 18)
    targets: θ' ← τθ + (1 − τ)θ'

log π includes the tanh correction (`ascent.core.squashed`). The α used in one
update is the one it started with, as in Stable-Baselines3. Defaults are
Stable-Baselines3's (which follow the paper's Table 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import positive
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
from ascent.core.losses import temperature_loss, value_loss
from ascent.core.targets import polyak_update, td_target
from ascent.nn import SquashedGaussianActor, TwinQ, rescale_action, unit_action
from ascent.nn.encoders import ObsSpec


@dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """SAC settings; defaults are Stable-Baselines3's."""

    alpha: float = 1.0
    """Temperature α: fixed when autotune is off, the starting value when it is on."""
    autotune: bool = True
    """Tune α by gradient descent towards the target entropy (eq. 18)."""
    target_entropy: float | None = None
    """Target entropy H̄ of the automatic temperature; none: −|A| (−dim of the actions)."""

    def validate(self) -> None:
        super().validate()
        positive(self, "alpha")


class SACState(NamedTuple):
    actor: Any
    critic: Any  # two critics, stacked on a leading axis
    critic_target: Any
    log_alpha: jax.Array
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any
    updates: jax.Array  # gradient steps so far: the clock of the learning-rate schedule


class SAC(Algorithm):
    """Squashed-Gaussian actor, twin critics, automatic or fixed temperature."""

    name = "sac"
    kind = "off-policy"
    action_spaces = ("Box",)
    Config = SACConfig

    def __init__(self, config: SACConfig, observation_space: gym.Space, action_space: gym.Space):
        check_continuous_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_spec = ObsSpec.of(observation_space, config.torso)
        self.low, self.high = action_bounds(action_space)
        action_dim = int(self.low.size)
        self.actor = SquashedGaussianActor(
            action_dim, self.obs_spec, config.hidden, config.activation
        )
        self.critic = TwinQ(2, self.obs_spec, config.hidden, config.activation)
        self.optimizer = adam()
        self.lr = schedule_fn(config.lr, config.total_updates)
        self.target_entropy = (
            -float(action_dim) if config.target_entropy is None else config.target_entropy
        )

    def init(self, key: jax.Array) -> SACState:
        k_actor, k_critic = jax.random.split(key)
        obs = self.obs_spec.zeros((1,), jnp)
        actor = self.actor.init(k_actor, obs)
        critic = self.critic.init(k_critic, obs, jnp.zeros((1, self.low.size), jnp.float32))
        log_alpha = jnp.asarray(math.log(self.config.alpha), jnp.float32)
        return SACState(
            actor,
            critic,
            critic,
            log_alpha,
            self.optimizer.init(actor),
            self.optimizer.init(critic),
            self.optimizer.init(log_alpha),
            jnp.zeros((), jnp.int32),
        )

    def act(
        self, state: SACState, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        """(action in the space's bounds [N, D], log π [N]); the mode tanh(μ) when
        deterministic (its log-probability is not needed there and is returned as 0)."""
        dist = self.actor.apply(state.actor, obs)
        if deterministic:
            unit, log_prob = dist.mode(), jnp.zeros(dist.mean.shape[:-1])
        else:
            unit, log_prob = dist.sample_and_log_prob(key)
        return rescale_action(unit, self.low, self.high), log_prob

    def targets(
        self, state: SACState, batch: Transitions, key: jax.Array, alpha: jax.Array
    ) -> jax.Array:
        """y = r + γ(1 − terminated)(min_i Q'_i(s', a') − α log π(a'|s')), a' ~ π(·|s') [B]."""
        next_actions, next_log_probs = self.actor.apply(
            state.actor, batch.next_obs
        ).sample_and_log_prob(key)
        next_q = self.critic.apply(state.critic_target, batch.next_obs, next_actions).min(axis=0)
        soft_value = next_q - alpha * next_log_probs
        return td_target(batch.rewards, batch.terminated, soft_value, gamma=self.config.gamma)

    def update(
        self, state: SACState, batch: Transitions, key: jax.Array
    ) -> tuple[SACState, dict[str, jax.Array]]:
        cfg = self.config
        lr = self.lr(state.updates)
        k_target, k_actor = jax.random.split(key)
        alpha = jnp.exp(state.log_alpha)
        y = self.targets(state, batch, k_target, alpha)
        actions = unit_action(batch.actions, self.low, self.high)

        def critic_loss_fn(critic: Any) -> tuple[jax.Array, jax.Array]:
            q = self.critic.apply(critic, batch.obs, actions)  # [2, B]
            loss = value_loss(q[0], y)[0] + value_loss(q[1], y)[0]
            return loss, q.mean()

        (critic_loss, q), grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(state.critic)
        critic, critic_opt = optimizer_step(
            self.optimizer, state.critic, state.critic_opt, grads, lr
        )

        def actor_loss_fn(actor: Any) -> tuple[jax.Array, jax.Array]:
            new_actions, log_probs = self.actor.apply(actor, batch.obs).sample_and_log_prob(k_actor)
            q_new = self.critic.apply(critic, batch.obs, new_actions).min(axis=0)
            return jnp.mean(alpha * log_probs - q_new), log_probs

        (actor_loss, log_probs), grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(
            state.actor
        )
        actor, actor_opt = optimizer_step(self.optimizer, state.actor, state.actor_opt, grads, lr)

        (alpha_loss, stats), grad = jax.value_and_grad(temperature_loss, has_aux=True)(
            state.log_alpha, log_probs, target_entropy=self.target_entropy
        )
        log_alpha, alpha_opt = state.log_alpha, state.alpha_opt
        if cfg.autotune:
            log_alpha, alpha_opt = optimizer_step(
                self.optimizer, state.log_alpha, state.alpha_opt, grad, lr
            )
        state = SACState(
            actor,
            critic,
            polyak_update(state.critic_target, critic, tau=cfg.tau),
            log_alpha,
            actor_opt,
            critic_opt,
            alpha_opt,
            optax.safe_increment(state.updates),
        )
        metrics = {
            "critic_loss": critic_loss,
            "actor_loss": actor_loss,
            "alpha_loss": alpha_loss,
            "alpha": alpha,
            "entropy": stats["entropy"],
            "q": q,
            "lr": lr,
        }
        return state, metrics
