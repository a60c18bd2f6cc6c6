"""Proximal Policy Optimization with the clipped surrogate (Schulman et al. 2017).

One update: values of the rollout's observations and true next observations with
the rollout's parameters → GAE(λ) advantages and returns (Schulman et al. 2016) →
`n_epochs` passes over shuffled minibatches, each step minimising
L = −L^CLIP + vf_coef · L^VF − ent_coef · H (Schulman et al. 2017, eq. 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.algos.base import (
    OnPolicyConfig,
    ScheduleLike,
    _in_unit_interval,
    _nonnegative,
    _positive,
    _positive_schedule,
    actor_critic_net,
    check_on_policy_spaces,
    flatten_time,
    make_optimizer,
    sample_action,
    schedule_fn,
    set_lr,
)
from ascent.buffers import Rollout
from ascent.core.losses import clipped_surrogate_loss, masked_mean, value_loss
from ascent.core.returns import gae
from ascent.errors import ConfigError
from ascent.nn import ActorCriticNet


@dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    """PPO settings; defaults follow Stable-Baselines3's except where noted."""

    n_steps: int = 128
    """Steps T per environment in each rollout."""
    n_epochs: int = 10
    """Passes over the rollout per update."""
    minibatch_size: int = 64
    """Transitions per gradient step; at most n_steps × n_envs."""
    gae_lambda: float = 0.95
    """GAE's λ in [0, 1]: 0 is the one-step TD advantage, 1 the Monte-Carlo one."""
    clip_eps: ScheduleLike = 0.2
    """Clip range ε of the probability ratio (a number or a schedule)."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    normalize_advantages: bool = True
    """Normalise advantages to zero mean, unit variance within each minibatch."""
    shared_trunk: bool = False
    """One MLP for policy and value instead of two."""

    def validate(self) -> None:
        super().validate()
        _positive(self, "n_epochs", "minibatch_size")
        _in_unit_interval(self, "gae_lambda")
        _positive_schedule(self, "clip_eps")
        _nonnegative(self, "vf_coef")
        if self.minibatch_size > self.batch_size:
            raise ConfigError(
                f"minibatch_size ({self.minibatch_size}) must be at most n_steps × n_envs "
                f"({self.n_steps} × {self.n_envs} = {self.batch_size})"
            )


class PPOState(NamedTuple):
    params: Any
    opt_state: Any
    updates: jax.Array  # completed updates: the clock of every schedule


class PPO:
    """Proximal policy optimisation: clipped surrogate, minibatch epochs, GAE."""

    name = "ppo"
    Config = PPOConfig

    def __init__(self, config: PPOConfig, observation_space: gym.Space, action_space: gym.Space):
        check_on_policy_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_shape = tuple(observation_space.shape)
        self.net = actor_critic_net(config, observation_space, action_space)
        self.optimizer = make_optimizer(config.max_grad_norm)
        total = config.total_updates
        self.lr = schedule_fn(config.lr, total)
        self.clip_eps = schedule_fn(config.clip_eps, total)
        self.ent_coef = schedule_fn(config.ent_coef, total)

    def init(self, key: jax.Array) -> PPOState:
        params = self.net.init(key, jnp.zeros((1, *self.obs_shape), jnp.float32))
        return PPOState(params, self.optimizer.init(params), jnp.zeros((), jnp.int32))

    def act(
        self, state: PPOState, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        dist = self.net.apply(state.params, obs, method=ActorCriticNet.dist)
        return sample_action(dist, key, deterministic)

    def update(self, state: PPOState, rollout: Rollout, key: jax.Array) -> tuple[PPOState, dict]:
        cfg = self.config
        values = self.net.apply(state.params, rollout.obs, method=ActorCriticNet.value)
        next_values = self.net.apply(state.params, rollout.next_obs, method=ActorCriticNet.value)
        advantages = gae(
            rollout.rewards,
            values,
            next_values,
            rollout.terminated,
            rollout.truncated,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
        )
        returns = advantages + values  # λ-returns, the value targets
        batch = {
            "obs": flatten_time(rollout.obs),
            "actions": flatten_time(rollout.actions),
            "old_log_probs": flatten_time(rollout.log_probs),
            "advantages": flatten_time(advantages),
            "returns": flatten_time(returns),
        }
        clip_eps = self.clip_eps(state.updates)
        ent_coef = self.ent_coef(state.updates)
        opt_state = set_lr(state.opt_state, self.lr(state.updates))
        n_minibatches = cfg.batch_size // cfg.minibatch_size

        def loss_fn(params: Any, mb: dict) -> tuple[jax.Array, dict]:
            dist, v = self.net.apply(params, mb["obs"])
            adv = mb["advantages"]
            if cfg.normalize_advantages:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            log_probs = dist.log_prob(mb["actions"])
            pg_loss, pg_stats = clipped_surrogate_loss(
                log_probs, mb["old_log_probs"], adv, clip_eps=clip_eps
            )
            v_loss, v_stats = value_loss(v, mb["returns"])
            entropy = masked_mean(dist.entropy())
            loss = pg_loss + cfg.vf_coef * v_loss - ent_coef * entropy
            stats = {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy}
            return loss, {**stats, **pg_stats, **v_stats}

        def minibatch_step(carry: tuple, mb: dict) -> tuple[tuple, dict]:
            params, opt_state = carry
            (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return (params, opt_state), {"loss": loss, **stats}

        def epoch(carry: tuple, epoch_key: jax.Array) -> tuple[tuple, dict]:
            order = jax.random.permutation(epoch_key, cfg.batch_size)
            order = order[: n_minibatches * cfg.minibatch_size]
            minibatches = jax.tree.map(
                lambda x: x[order].reshape(n_minibatches, cfg.minibatch_size, *x.shape[1:]), batch
            )
            return jax.lax.scan(minibatch_step, carry, minibatches)

        (params, opt_state), stats = jax.lax.scan(
            epoch, (state.params, opt_state), jax.random.split(key, cfg.n_epochs)
        )
        metrics = jax.tree.map(jnp.mean, stats)
        metrics.update(lr=self.lr(state.updates), clip_eps=clip_eps, ent_coef=ent_coef)
        return PPOState(params, opt_state, state.updates + 1), metrics
