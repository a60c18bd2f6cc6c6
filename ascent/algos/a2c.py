"""Advantage actor-critic, synchronous (A2C; Mnih et al. 2016, Algorithm S3).

N environments each take T steps; n-step returns bootstrapped from the value of
the last (or truncated) observation give the advantages — GAE with λ = 1 by
default, any λ allowed — and one gradient step minimises
−log π(a|s)·Â + vf_coef·(V − R)² − ent_coef·H on the whole rollout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import OnPolicyConfig, ScheduleLike, in_unit_interval, nonnegative
from ascent.algos.networks import actor_critic_net, check_on_policy_spaces
from ascent.algos.optim import make_optimizer, schedule_fn, set_lr
from ascent.algos.protocol import Algorithm
from ascent.algos.sequence import ActsThroughModel, SequenceModel
from ascent.buffers import Rollout
from ascent.core.losses import masked_mean, normalize_advantages, policy_gradient_loss, value_loss
from ascent.core.returns import gae
from ascent.errors import ConfigError
from ascent.nn.encoders import ObsSpec


@dataclass(frozen=True)
class A2CConfig(OnPolicyConfig):
    """A2C settings; defaults follow Stable-Baselines3's."""

    n_steps: int = 5
    """Steps T per environment in each rollout (the n of the n-step return)."""
    lr: ScheduleLike = 7e-4
    """Learning rate (a number or a schedule)."""
    gae_lambda: float = 1.0
    """GAE's λ: 1 gives the classic n-step advantage."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    optimizer: str = "rmsprop"
    """rmsprop (as in the A3C paper) or adam."""
    rms_decay: float = 0.99
    """RMSprop's decay of the squared-gradient average."""
    opt_eps: float = 1e-5
    """The optimiser's ε."""
    normalize_advantages: bool = False
    """Normalise advantages to zero mean, unit variance within each rollout."""
    shared_trunk: bool = False
    """One torso (core and MLP) for policy and value instead of two."""

    memory_policies: ClassVar[bool] = True

    def validate(self) -> None:
        super().validate()
        in_unit_interval(self, "gae_lambda", "rms_decay")
        nonnegative(self, "vf_coef")
        if self.optimizer not in ("rmsprop", "adam"):
            raise ConfigError(f"optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        if not self.opt_eps > 0:
            raise ConfigError(f"opt_eps must be > 0, got {self.opt_eps}")


class A2CState(NamedTuple):
    params: Any
    opt_state: Any
    updates: jax.Array


class A2C(ActsThroughModel, Algorithm):
    """Synchronous advantage actor-critic with n-step returns over N environments."""

    name = "a2c"
    Config = A2CConfig

    def __init__(self, config: A2CConfig, observation_space: gym.Space, action_space: gym.Space):
        check_on_policy_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_spec = ObsSpec.of(observation_space, config.torso)
        self.net = actor_critic_net(config, observation_space, action_space)
        self.model = SequenceModel(self.net.apply, self.net.initial_state)
        self.optimizer = make_optimizer(
            config.max_grad_norm, config.optimizer, eps=config.opt_eps, rms_decay=config.rms_decay
        )
        self.lr = schedule_fn(config.lr, config.total_updates)
        self.ent_coef = schedule_fn(config.ent_coef, config.total_updates)

    def init(self, key: jax.Array) -> A2CState:
        obs = self.obs_spec.zeros((1, 1), jnp)
        params = self.net.init(key, self.initial_policy_state(1), obs, jnp.ones((1, 1), bool))
        return A2CState(params, self.optimizer.init(params), jnp.zeros((), jnp.int32))

    def update(self, state: A2CState, rollout: Rollout, key: jax.Array) -> tuple[A2CState, dict]:
        """One gradient step on the whole rollout: `apply(state, grads(state, rollout))`."""
        grads, metrics = self.grads(state, rollout, key)
        return self.apply(state, grads), metrics

    def grads(self, state: A2CState, rollout: Rollout, key: jax.Array) -> tuple[Any, dict]:
        """The gradient of the A2C loss on `rollout` at `state.params`, and its metrics."""
        del key  # the loss is deterministic
        cfg = self.config
        next_values = self.model.bootstrap_values(state.params, rollout)
        ent_coef = self.ent_coef(state.updates)

        def loss_fn(params: Any) -> tuple[jax.Array, dict]:
            # a memory policy reruns each environment's T steps from the stored state
            dist, values = self.model.unroll(params, rollout)
            log_probs = dist.log_prob(rollout.actions)
            advantages, returns, extra = self.targets(
                rollout, jax.lax.stop_gradient(values), next_values, log_probs
            )
            if cfg.normalize_advantages:
                advantages = normalize_advantages(advantages)
            pg_loss, _ = policy_gradient_loss(log_probs, advantages)
            v_loss, v_stats = value_loss(values, returns)
            entropy = masked_mean(dist.entropy())
            loss = pg_loss + cfg.vf_coef * v_loss - ent_coef * entropy
            return loss, {
                "policy_loss": pg_loss,
                "value_loss": v_loss,
                "entropy": entropy,
                **extra,
                **v_stats,
            }

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        metrics = {"loss": loss, **stats, "lr": self.lr(state.updates), "ent_coef": ent_coef}
        return grads, metrics

    def targets(
        self, rollout: Rollout, values: jax.Array, next_values: jax.Array, log_probs: jax.Array
    ) -> tuple[jax.Array, jax.Array, dict]:
        """(advantages, value targets, extra metrics) of the loss: GAE (n-step returns
        with gae_lambda = 1) and GAE + V. `values` carry no gradient; `log_probs` are the
        current policy's, unused here (IMPALA's V-trace weighs by them)."""
        del log_probs
        advantages = gae(
            rewards=rollout.rewards,
            values=values,
            next_values=next_values,
            terminated=rollout.terminated,
            truncated=rollout.truncated,
            gamma=self.config.gamma,
            gae_lambda=self.config.gae_lambda,
        )
        return advantages, advantages + values, {}

    def apply(self, state: A2CState, grads: Any) -> A2CState:
        """One optimiser step with `grads` (at the learning rate of `state`'s clock)."""
        opt_state = set_lr(state.opt_state, self.lr(state.updates))
        updates, opt_state = self.optimizer.update(grads, opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return A2CState(params, opt_state, optax.safe_increment(state.updates))
