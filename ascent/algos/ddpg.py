"""Deep Deterministic Policy Gradient (Lillicrap et al. 2016, "Continuous control
with deep reinforcement learning", Algorithm 1).

A deterministic actor μ(s) and a critic Q(s, a), each with a slowly trailing target
copy. One update on a minibatch from the replay buffer:

    y = r + γ(1 − terminated) Q'(s', μ'(s'))          (target networks; truncated steps bootstrap)
    critic: minimise (Q(s, a) − y)²
    actor:  maximise Q(s, μ(s))                         (the deterministic policy gradient,
                                                          Silver et al. 2014, Theorem 1)
    targets: θ' ← τθ + (1 − τ)θ'

Exploration is the loop's: Gaussian or Ornstein–Uhlenbeck noise added to μ(s).
Defaults follow Stable-Baselines3 and RL-Zoo (one learning rate 1e-3, 400-300 ReLU
networks, Gaussian noise σ = 0.1 as in Fujimoto et al. 2018's re-tuned DDPG).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

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
from ascent.core.targets import polyak_update, td_target
from ascent.nn import DeterministicActor, TwinQ, rescale_action, unit_action
from ascent.nn.encoders import ObsSpec


@dataclass(frozen=True)
class DDPGConfig(OffPolicyConfig):
    """DDPG settings; defaults are Stable-Baselines3's."""

    lr: ScheduleLike = 1e-3
    """Learning rate of actor and critic (a number or a schedule)."""
    hidden: tuple[int, ...] = (400, 300)
    """Hidden layer widths of actor and critic (Lillicrap et al. 2016, §7)."""
    action_noise: str = "normal"
    """Exploration noise added to μ(s): none, normal or ou (Ornstein–Uhlenbeck)."""


class DDPGState(NamedTuple):
    actor: Any
    critic: Any
    actor_target: Any
    critic_target: Any
    actor_opt: Any
    critic_opt: Any
    updates: jax.Array  # gradient steps so far: the clock of the learning-rate schedule


class DDPG(Algorithm):
    """Deterministic actor, one critic, target networks, exploration noise."""

    name = "ddpg"
    kind = "off-policy"
    action_spaces = ("Box",)
    Config = DDPGConfig

    def __init__(self, config: DDPGConfig, observation_space: gym.Space, action_space: gym.Space):
        check_continuous_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_spec = ObsSpec.of(observation_space, config.torso)
        self.low, self.high = action_bounds(action_space)
        action_dim = int(self.low.size)
        self.actor = DeterministicActor(action_dim, self.obs_spec, config.hidden, config.activation)
        self.critic = TwinQ(1, self.obs_spec, config.hidden, config.activation)
        self.optimizer = adam()
        self.lr = schedule_fn(config.lr, config.total_updates)

    def init(self, key: jax.Array) -> DDPGState:
        k_actor, k_critic = jax.random.split(key)
        obs = self.obs_spec.zeros((1,), jnp)
        actor = self.actor.init(k_actor, obs)
        critic = self.critic.init(k_critic, obs, jnp.zeros((1, self.low.size), jnp.float32))
        return DDPGState(
            actor,
            critic,
            actor,
            critic,
            self.optimizer.init(actor),
            self.optimizer.init(critic),
            jnp.zeros((), jnp.int32),
        )

    def act(
        self, state: DDPGState, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        """(μ(s) in the action space's bounds [N, D], zeros [N]); noise is the loop's."""
        action = rescale_action(self.actor.apply(state.actor, obs), self.low, self.high)
        return action, jnp.zeros(action.shape[:-1])

    def targets(self, state: DDPGState, batch: Transitions, key: jax.Array) -> jax.Array:
        """y = r + γ(1 − terminated) Q'(s', μ'(s')) [B]."""
        next_actions = self.actor.apply(state.actor_target, batch.next_obs)
        next_q = self.critic.apply(state.critic_target, batch.next_obs, next_actions)[0]
        return td_target(batch.rewards, batch.terminated, next_q, gamma=self.config.gamma)

    def update(
        self, state: DDPGState, batch: Transitions, key: jax.Array
    ) -> tuple[DDPGState, dict[str, jax.Array]]:
        cfg = self.config
        lr = self.lr(state.updates)
        y = self.targets(state, batch, key)
        actions = unit_action(batch.actions, self.low, self.high)

        def critic_loss_fn(critic: Any) -> tuple[jax.Array, jax.Array]:
            q = self.critic.apply(critic, batch.obs, actions)[0]
            loss, _ = value_loss(q, y)
            return loss, q.mean()

        (critic_loss, q), grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(state.critic)
        critic, critic_opt = optimizer_step(
            self.optimizer, state.critic, state.critic_opt, grads, lr
        )

        def actor_loss_fn(actor: Any) -> jax.Array:
            return -self.critic.apply(critic, batch.obs, self.actor.apply(actor, batch.obs))[
                0
            ].mean()

        actor_loss, grads = jax.value_and_grad(actor_loss_fn)(state.actor)
        actor, actor_opt = optimizer_step(self.optimizer, state.actor, state.actor_opt, grads, lr)
        state = DDPGState(
            actor,
            critic,
            polyak_update(state.actor_target, actor, tau=cfg.tau),
            polyak_update(state.critic_target, critic, tau=cfg.tau),
            actor_opt,
            critic_opt,
            optax.safe_increment(state.updates),
        )
        metrics = {"critic_loss": critic_loss, "actor_loss": actor_loss, "q": q, "lr": lr}
        return state, metrics
