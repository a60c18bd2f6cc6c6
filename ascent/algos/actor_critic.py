"""One-step actor-critic (Sutton & Barto 2018, §13.5), with a V or a Q critic.

critic = "v": δ = r + γV(s') − V(s); the actor follows ∇log π(a|s)·δ and the critic
regresses V(s) on r + γV(s').
critic = "q": SARSA, δ = r + γQ(s', a') − Q(s, a) with a' ~ π(·|s'); the actor
follows ∇log π(a|s)·Q(s, a) (Q actor-critic) and the critic regresses Q(s, a) on
r + γQ(s', a').
Actor and critic have their own networks, optimisers and learning rates. A
terminated step does not bootstrap; a truncated one bootstraps from its true final
observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import OnPolicyConfig, ScheduleLike, positive_schedule
from ascent.algos.networks import check_on_policy_spaces, policy_net, sample_action
from ascent.algos.optim import make_optimizer, schedule_fn, step_parts
from ascent.algos.protocol import Algorithm
from ascent.buffers import Rollout
from ascent.core.losses import masked_mean, policy_gradient_loss, value_loss
from ascent.core.returns import td_errors
from ascent.errors import ConfigError
from ascent.nn import ActionSpec, QNet, ValueNet
from ascent.nn.encoders import ObsSpec


@dataclass(frozen=True)
class ActorCriticConfig(OnPolicyConfig):
    """One-step actor-critic settings."""

    n_envs: int = 16
    """Parallel environments N; each update averages N one-step errors."""
    n_steps: int = 1
    """Steps T per environment between updates (1: update after every step)."""
    critic: str = "v"
    """v (state values, TD(0) error) or q (action values, SARSA error)."""
    lr: ScheduleLike = 2.5e-4
    """Actor learning rate (a number or a schedule)."""
    critic_lr: ScheduleLike = 2e-3
    """Critic learning rate (a number or a schedule)."""

    def validate(self) -> None:
        super().validate()
        if self.critic not in ("v", "q"):
            raise ConfigError(f"critic must be 'v' or 'q', got {self.critic!r}")
        positive_schedule(self, "critic_lr")


class ActorCriticState(NamedTuple):
    params: Any  # {"actor": ..., "critic": ...}
    opt_state: Any  # {"actor": ..., "critic": ...}
    updates: jax.Array


class ActorCritic(Algorithm):
    """One-step TD actor-critic with a V or a Q critic and separate learning rates."""

    name = "actor-critic"
    Config = ActorCriticConfig

    def __init__(
        self, config: ActorCriticConfig, observation_space: gym.Space, action_space: gym.Space
    ):
        check_on_policy_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_spec = ObsSpec.of(observation_space, config.torso)
        self.action_space = action_space
        self.action = ActionSpec.of(action_space)
        self.actor = policy_net(config, observation_space, action_space)
        if config.critic == "v":
            self.critic = ValueNet(
                self.obs_spec, config.hidden, config.activation, config.hidden_gain
            )
        else:  # Q(s, ·) over a Discrete's actions; else Q(s, a), a read as numbers
            n_actions = self.action.sizes[0] if self.action.kind == "discrete" else None
            self.critic = QNet(
                n_actions, self.obs_spec, config.hidden, config.activation, config.hidden_gain
            )
        self.optimizer = make_optimizer(config.max_grad_norm)
        total = config.total_updates
        self.lr = {
            "actor": schedule_fn(config.lr, total),
            "critic": schedule_fn(config.critic_lr, total),
        }
        self.ent_coef = schedule_fn(config.ent_coef, total)

    def init(self, key: jax.Array) -> ActorCriticState:
        actor_key, critic_key = jax.random.split(key)
        obs = self.obs_spec.zeros((1,), jnp)
        action = jnp.zeros((1, *self.action.stored_shape))
        critic_args = (obs,) if self.config.critic == "v" else (obs, action)
        params = {
            "actor": self.actor.init(actor_key, obs),
            "critic": self.critic.init(critic_key, *critic_args),
        }
        opt_state = {k: self.optimizer.init(p) for k, p in params.items()}
        return ActorCriticState(params, opt_state, jnp.zeros((), jnp.int32))

    def act(
        self, state: ActorCriticState, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        return sample_action(self.actor.apply(state.params["actor"], obs), key, deterministic)

    def _critic(self, params: Any, obs: jax.Array, actions: jax.Array) -> jax.Array:
        if self.config.critic == "v":
            return self.critic.apply(params, obs)
        return self.critic.apply(params, obs, actions)

    def update(
        self, state: ActorCriticState, rollout: Rollout, key: jax.Array
    ) -> tuple[ActorCriticState, dict]:
        cfg = self.config
        critic_params = state.params["critic"]
        # a' ~ π(·|s') for the SARSA target (unused by the V critic)
        next_actions = self.actor.apply(state.params["actor"], rollout.next_obs).sample(key)
        next_values = self._critic(critic_params, rollout.next_obs, next_actions)
        ent_coef = self.ent_coef(state.updates)

        def loss_fn(params: dict) -> tuple[jax.Array, dict]:
            values = self._critic(params["critic"], rollout.obs, rollout.actions)
            delta = td_errors(
                rewards=rollout.rewards,
                values=values,
                next_values=next_values,
                terminated=rollout.terminated,
                gamma=cfg.gamma,
            )
            # the actor's weight: δ for a V critic, Q(s, a) for a Q critic (no gradient either way)
            weight = delta if cfg.critic == "v" else values
            dist = self.actor.apply(params["actor"], rollout.obs)
            pg_loss, _ = policy_gradient_loss(dist.log_prob(rollout.actions), weight)
            targets = jax.lax.stop_gradient(values + delta)  # r + γ(1 − terminated)·next value
            v_loss, v_stats = value_loss(values, targets)
            entropy = masked_mean(dist.entropy())
            loss = pg_loss - ent_coef * entropy + v_loss
            stats = {
                "policy_loss": pg_loss,
                "value_loss": v_loss,
                "entropy": entropy,
                "td_error": delta.mean(),
            }
            return loss, {**stats, **v_stats}

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        params, opt_state = step_parts(
            self.optimizer, self.lr, state.opt_state, state.params, grads, state.updates
        )
        metrics = {
            "loss": loss,
            **stats,
            "lr": self.lr["actor"](state.updates),
            "ent_coef": ent_coef,
        }
        return ActorCriticState(params, opt_state, optax.safe_increment(state.updates)), metrics
