"""Twin Delayed Deep Deterministic policy gradient (Fujimoto et al. 2018, "Addressing
function approximation error in actor-critic methods", Algorithm 1).

DDPG's deterministic actor with three changes against over-estimation:

    ã = clip(μ'(s') + clip(ε, −c, c), −1, 1), ε ~ N(0, σ̃²)   target policy smoothing (§5.3)
    y = r + γ(1 − terminated) min_{i=1,2} Q'_i(s', ã)          clipped double Q-learning (eq. 10)
    critics: minimise Σ_i (Q_i(s, a) − y)²
    every `policy_delay` updates: actor maximises Q_1(s, μ(s)), then
        θ' ← τθ + (1 − τ)θ' for actor and critics             delayed updates (§5.2)

Each change can be switched off for the paper's ablations (table 2): `clipped_double_q`,
`target_policy_noise = 0`, `policy_delay = 1`.

Actions are in the unit box [−1, 1]^D inside the networks (σ̃ and c in those units),
rescaled to the space's bounds for the environment. Exploration (Gaussian noise
σ = 0.1, §6.1) is the loop's. Defaults follow Stable-Baselines3 and the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import ScheduleLike, nonnegative, positive
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
from ascent.nn import DeterministicActor, TwinQ, apply_one_critic, rescale_action, unit_action
from ascent.nn.encoders import ObsSpec


@dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    """TD3 settings; defaults are Stable-Baselines3's and the paper's."""

    lr: ScheduleLike = 1e-3
    """Learning rate of actor and critics (a number or a schedule)."""
    hidden: tuple[int, ...] = (400, 300)
    """Hidden layer widths of actor and critics (§6.1)."""
    action_noise: str = "normal"
    """Exploration noise added to μ(s): none, normal or ou (Ornstein–Uhlenbeck)."""
    policy_delay: int = 2
    """Critic updates per actor and target update, d (§5.2)."""
    target_policy_noise: float = 0.2
    """σ̃ of the smoothing noise on target actions, in unit-box units (§5.3)."""
    target_noise_clip: float = 0.5
    """c: the smoothing noise is clipped to [−c, c]."""
    clipped_double_q: bool = True
    """Bootstrap from the smaller of the two target critics (eq. 10); off, from Q'_1
    alone, as DDPG does: the ablation "TD3 − CDQ" of the paper's table 2."""

    def validate(self) -> None:
        super().validate()
        positive(self, "policy_delay")
        nonnegative(self, "target_policy_noise", "target_noise_clip")


class TD3State(NamedTuple):
    actor: Any
    critic: Any  # two critics, stacked on a leading axis
    actor_target: Any
    critic_target: Any
    actor_opt: Any
    critic_opt: Any
    updates: jax.Array  # critic updates so far: the delay's and the schedule's clock
    actor_loss: jax.Array  # of the latest actor update (0 before the first), reported


class TD3(Algorithm):
    """Deterministic actor, twin critics, clipped double-Q target, smoothing, delay."""

    name = "td3"
    kind = "off-policy"
    action_spaces = ("Box",)
    Config = TD3Config

    def __init__(self, config: TD3Config, observation_space: gym.Space, action_space: gym.Space):
        check_continuous_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_spec = ObsSpec.of(observation_space, config.torso)
        self.low, self.high = action_bounds(action_space)
        action_dim = int(self.low.size)
        self.actor = DeterministicActor(action_dim, self.obs_spec, config.hidden, config.activation)
        self.critic = TwinQ(2, self.obs_spec, config.hidden, config.activation)
        self.optimizer = adam()
        self.lr = schedule_fn(config.lr, config.total_updates)

    def init(self, key: jax.Array) -> TD3State:
        k_actor, k_critic = jax.random.split(key)
        obs = self.obs_spec.zeros((1,), jnp)
        actor = self.actor.init(k_actor, obs)
        critic = self.critic.init(k_critic, obs, jnp.zeros((1, self.low.size), jnp.float32))
        return TD3State(
            actor,
            critic,
            actor,
            critic,
            self.optimizer.init(actor),
            self.optimizer.init(critic),
            jnp.zeros((), jnp.int32),
            jnp.zeros((), jnp.float32),
        )

    def act(
        self, state: TD3State, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        """(μ(s) in the action space's bounds [N, D], zeros [N]); noise is the loop's."""
        action = rescale_action(self.actor.apply(state.actor, obs), self.low, self.high)
        return action, jnp.zeros(action.shape[:-1])

    def smoothed_target_actions(
        self, state: TD3State, next_obs: jax.Array, key: jax.Array
    ) -> jax.Array:
        """ã = clip(μ'(s') + clip(ε, −c, c), −1, 1) in the unit box [B, D]."""
        cfg = self.config
        mu = self.actor.apply(state.actor_target, next_obs)
        noise = cfg.target_policy_noise * jax.random.normal(key, mu.shape)
        noise = jnp.clip(noise, -cfg.target_noise_clip, cfg.target_noise_clip)
        return jnp.clip(mu + noise, -1.0, 1.0)

    def targets(self, state: TD3State, batch: Transitions, key: jax.Array) -> jax.Array:
        """y = r + γ(1 − terminated) min_i Q'_i(s', ã) [B] (Q'_1(s', ã) without
        `clipped_double_q`)."""
        next_actions = self.smoothed_target_actions(state, batch.next_obs, key)
        next_qs = self.critic.apply(state.critic_target, batch.next_obs, next_actions)  # [2, B]
        next_q = next_qs.min(axis=0) if self.config.clipped_double_q else next_qs[0]
        return td_target(batch.rewards, batch.terminated, next_q, gamma=self.config.gamma)

    def update(
        self, state: TD3State, batch: Transitions, key: jax.Array
    ) -> tuple[TD3State, dict[str, jax.Array]]:
        cfg = self.config
        lr = self.lr(state.updates)
        y = self.targets(state, batch, key)
        actions = unit_action(batch.actions, self.low, self.high)

        def critic_loss_fn(critic: Any) -> tuple[jax.Array, jax.Array]:
            q = self.critic.apply(critic, batch.obs, actions)  # [2, B]
            loss = value_loss(q[0], y)[0] + value_loss(q[1], y)[0]
            return loss, q.mean()

        (critic_loss, q), grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(state.critic)
        critic, critic_opt = optimizer_step(
            self.optimizer, state.critic, state.critic_opt, grads, lr
        )

        def actor_loss_fn(actor: Any) -> jax.Array:
            new_actions = self.actor.apply(actor, batch.obs)
            return -apply_one_critic(self.critic, critic, batch.obs, new_actions).mean()

        def delayed(_: None) -> tuple[Any, Any, Any, Any, jax.Array]:
            loss, grads = jax.value_and_grad(actor_loss_fn)(state.actor)
            actor, actor_opt = optimizer_step(
                self.optimizer, state.actor, state.actor_opt, grads, lr
            )
            return (
                actor,
                actor_opt,
                polyak_update(state.actor_target, actor, tau=cfg.tau),
                polyak_update(state.critic_target, critic, tau=cfg.tau),
                loss,
            )

        def skipped(_: None) -> tuple[Any, Any, Any, Any, jax.Array]:
            targets = state.actor_target, state.critic_target
            return state.actor, state.actor_opt, *targets, state.actor_loss

        updates = optax.safe_increment(state.updates)
        actor, actor_opt, actor_target, critic_target, actor_loss = jax.lax.cond(
            updates % cfg.policy_delay == 0, delayed, skipped, None
        )
        state = TD3State(
            actor, critic, actor_target, critic_target, actor_opt, critic_opt, updates, actor_loss
        )
        metrics = {"critic_loss": critic_loss, "actor_loss": actor_loss, "q": q, "lr": lr}
        return state, metrics
