"""Proximal Policy Optimization (Schulman et al. 2017), both objectives.

One update: values of the rollout's observations and true next observations with
the rollout's parameters (V(obs) recorded while acting, by the call that chose each
action; a pass over the rollout where the update needs π_old's distribution or a memory
policy's states) → GAE(λ) advantages and returns (Schulman et al. 2016) →
`n_epochs` passes over shuffled minibatches, each step minimising
L = −L^π + vf_coef · L^VF − ent_coef · H (eq. 9), where L^π is either
- the clipped surrogate E[min(ρÂ, clip(ρ, 1−ε, 1+ε)Â)] (eq. 7; objective "clip"), or
- the KL-penalised surrogate E[ρÂ − β·KL[π_old ‖ π_θ]] (eq. 8; objective
  "kl_penalty"), with β doubled or halved after each update when the measured KL
  strays from target_kl by more than a factor 1.5 (§4).
With the clipped objective, `target_kl` optionally stops the epochs early once the
approximate KL passes 1.5 × target_kl (as Stable-Baselines3 does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import (
    OnPolicyConfig,
    ScheduleLike,
    in_unit_interval,
    nonnegative,
    positive,
    positive_schedule,
)
from ascent.algos.networks import actor_critic_net, check_on_policy_spaces
from ascent.algos.optim import make_optimizer, schedule_fn, set_lr
from ascent.algos.protocol import Algorithm
from ascent.algos.sequence import ActsThroughModel, SequenceModel, shuffled_minibatches
from ascent.buffers import Rollout
from ascent.core.losses import (
    adapt_kl_coef,
    clipped_surrogate_loss,
    kl_penalty_loss,
    masked_mean,
    normalize_advantages,
    value_loss,
)
from ascent.core.returns import gae
from ascent.errors import ConfigError
from ascent.nn.encoders import ObsSpec


@dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    """PPO settings; defaults follow Stable-Baselines3's except where noted."""

    n_steps: int = 128
    """Steps T per environment in each rollout."""
    n_epochs: int = 10
    """Passes over the rollout per update."""
    minibatch_size: int = 64
    """Transitions per gradient step; at most n_steps × n_envs. Memory policies take
    whole environment sequences instead, minibatch_size // n_steps of them (at least 1)."""
    gae_lambda: float = 0.95
    """GAE's λ in [0, 1]: 0 is the one-step TD advantage, 1 the Monte-Carlo one."""
    objective: str = "clip"
    """clip (the clipped surrogate) or kl_penalty (the adaptive KL penalty)."""
    clip_eps: ScheduleLike = 0.2
    """Clip range ε of the probability ratio (a number or a schedule)."""
    target_kl: float | None = None
    """kl_penalty: the KL target d_targ (0.01 if unset); clip: stop an update's epochs
    once the approximate KL exceeds 1.5 × target_kl (unset: never)."""
    kl_coef: float = 1.0
    """kl_penalty: the initial penalty coefficient β."""
    clip_vf: float | None = None
    """Clip the value prediction to within this distance of its old value (unset: no)."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    normalize_advantages: bool = True
    """Normalise advantages to zero mean, unit variance within each minibatch."""
    shared_trunk: bool = False
    """One torso (core and MLP) for policy and value instead of two."""
    bootstrap_truncation: bool = True
    """A step cut by the time limit (truncated) bootstraps from V(its true next
    observation), since the task would have gone on (Pardo et al. 2018). False: it is
    the task's end, as a termination (CleanRL's, PureJaxRL's and JaxMARL's PPOs), which
    fits tasks whose episodes always last the same number of steps (MPE)."""
    clip_per_network: bool = False
    """Clip the policy's and the value network's gradients each to `max_grad_norm`, as
    if each had its own optimiser (MAPPO's reference implementation, Yu et al. 2022, and
    JaxMARL's recurrent MAPPO), instead of one norm over both (Stable-Baselines3,
    CleanRL). Not with `shared_trunk`."""

    memory_policies: ClassVar[bool] = True

    def validate(self) -> None:
        super().validate()
        positive(self, "n_epochs", "minibatch_size")
        in_unit_interval(self, "gae_lambda")
        positive_schedule(self, "clip_eps")
        nonnegative(self, "vf_coef")
        positive(self, "kl_coef")
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"objective must be one of {', '.join(OBJECTIVES)}; got {self.objective!r}"
            )
        if self.target_kl is not None and not self.target_kl > 0:
            raise ConfigError(f"target_kl must be > 0 (or unset), got {self.target_kl}")
        if self.clip_per_network and self.shared_trunk:
            raise ConfigError(
                "clip_per_network needs two networks; shared_trunk=true makes one torso for "
                "both: set one of them false"
            )
        if self.clip_vf is not None and not self.clip_vf > 0:
            raise ConfigError(f"clip_vf must be > 0 (or unset), got {self.clip_vf}")
        if self.minibatch_size > self.batch_size:
            raise ConfigError(
                f"minibatch_size ({self.minibatch_size}) must be at most n_steps × n_envs "
                f"({self.n_steps} × {self.n_envs} = {self.batch_size})"
            )

    @property
    def kl_target(self) -> float:
        """d_targ of the KL penalty."""
        return 0.01 if self.target_kl is None else self.target_kl


OBJECTIVES = ("clip", "kl_penalty")


class PPOState(NamedTuple):
    params: Any
    opt_state: Any
    kl_coef: jax.Array  # β of the KL penalty, adapted after each update
    updates: jax.Array  # completed updates: the clock of every schedule


class PPO(ActsThroughModel, Algorithm):
    """Proximal policy optimisation: clipped surrogate, minibatch epochs, GAE."""

    name = "ppo"
    Config = PPOConfig

    def __init__(self, config: PPOConfig, observation_space: gym.Space, action_space: gym.Space):
        check_on_policy_spaces(self.name, observation_space, action_space)
        net = actor_critic_net(config, observation_space, action_space)
        example_obs = ObsSpec.of(observation_space, config.torso).zeros((1, 1), jnp)
        self.setup(config, net, SequenceModel(net.apply, net.initial_state), example_obs)

    def setup(self, config: PPOConfig, net: Any, model: SequenceModel, example_obs: Any) -> None:
        """What a PPO is made of: its config, network, the network seen as a
        `SequenceModel`, and an observation [1, 1, ...] to initialise it with (the
        multi-agent PPOs of `ascent.marl` give their own network and observations)."""
        self.config = config
        self.net = net
        self.model = model
        self.example_obs = example_obs
        self.optimizer = make_optimizer(config.max_grad_norm, per_network=config.clip_per_network)
        total = config.total_updates
        self.lr = schedule_fn(config.lr, total)
        self.clip_eps = schedule_fn(config.clip_eps, total)
        self.ent_coef = schedule_fn(config.ent_coef, total)
        # V(obs) recorded while acting stands in for a pass over the rollout, unless the
        # update needs π_old's whole distribution (the KL penalty, target_kl's exact KL)
        # or a memory policy's states (its unroll reruns them)
        self.values_while_acting = (
            not model.stateful and config.objective == "clip" and config.target_kl is None
        )

    def init(self, key: jax.Array) -> PPOState:
        starts = jnp.ones((1, 1), bool)
        params = self.net.init(key, self.initial_policy_state(1), self.example_obs, starts)
        beta = jnp.asarray(self.config.kl_coef, jnp.float32)
        return PPOState(params, self.optimizer.init(params), beta, jnp.zeros((), jnp.int32))

    def update(self, state: PPOState, rollout: Rollout, key: jax.Array) -> tuple[PPOState, dict]:
        """`n_epochs` passes over the rollout in shuffled minibatches, each an
        `apply(state, grads(state, minibatch))`; then the KL penalty's β adapts."""
        cfg = self.config
        old_dist, batch, per_minibatch = self.minibatch_units(state, rollout)
        n_minibatches = batch["actions"].shape[0] // per_minibatch
        early_stop = cfg.objective == "clip" and cfg.target_kl is not None

        def minibatch_step(carry: tuple, mb: dict) -> tuple[tuple, dict]:
            inner, stopped = carry
            grads, stats = self.grads(inner, mb, key)
            if early_stop:  # skip this and every later step once the policy moved too far
                stopped = stopped | (stats["approx_kl"] > 1.5 * cfg.target_kl)
            stepped = self.apply(inner, grads)
            if early_stop:
                stepped = jax.tree.map(
                    lambda old, new: jnp.where(stopped, old, new), inner, stepped
                )
            return (stepped, stopped), {**stats, "minibatches_applied": ~stopped}

        def epoch(carry: tuple, epoch_key: jax.Array) -> tuple[tuple, dict]:
            minibatches = shuffled_minibatches(batch, epoch_key, n_minibatches, per_minibatch)
            return jax.lax.scan(minibatch_step, carry, minibatches)

        (inner, _), stats = jax.lax.scan(
            epoch, (state, jnp.bool_(False)), jax.random.split(key, cfg.n_epochs)
        )
        params = inner.params
        kl_coef = state.kl_coef
        metrics = jax.tree.map(jnp.mean, stats)
        if cfg.objective == "kl_penalty" or cfg.target_kl is not None:
            # the exact mean KL the whole update moved the policy by: β adapts to it, and
            # early stopping is judged by it; a forward pass over the rollout, so the
            # plain clipped objective reports the minibatches' approx_kl alone
            kl = masked_mean(
                old_dist.kl(self.model.unroll(params, rollout, cfg.minibatch_size)[0]),
                self.model.sample_mask(rollout.obs),
            )
            metrics["kl"] = kl
            if cfg.objective == "kl_penalty":
                kl_coef = adapt_kl_coef(kl_coef, kl, cfg.kl_target)
        metrics.update(
            kl_coef=state.kl_coef,
            lr=self.lr(state.updates),
            clip_eps=self.clip_eps(state.updates),
            ent_coef=self.ent_coef(state.updates),
        )
        updates = optax.safe_increment(state.updates)
        return PPOState(params, inner.opt_state, kl_coef, updates), metrics

    def minibatch_units(self, state: PPOState, rollout: Rollout) -> tuple[Any, dict, int]:
        """(π_old, the units minibatches are drawn from, units per minibatch): the
        rollout's transitions (a feed-forward policy) or whole environment sequences
        with their start states and episode starts (a memory policy), with GAE
        advantages and λ-return targets."""
        cfg = self.config
        if rollout.values is not None:  # from acting: the same parameters and inputs
            old_dist, values = None, rollout.values
        else:
            old_dist, values = self.model.unroll(state.params, rollout, cfg.minibatch_size)
        terminated = rollout.terminated
        if not cfg.bootstrap_truncation:  # a cut is the task's end: nothing after it to value
            terminated = terminated | rollout.truncated
            rollout = rollout._replace(truncated=jnp.zeros_like(rollout.truncated))
        next_values = self.model.bootstrap_values(state.params, rollout, values)
        advantages = gae(
            rewards=rollout.rewards,
            values=values,
            next_values=next_values,
            terminated=terminated,
            truncated=rollout.truncated,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
        )
        returns = advantages + values  # λ-returns, the value targets
        units = {
            "obs": rollout.obs,
            "actions": rollout.actions,
            "old_log_probs": rollout.log_probs,
            "old_values": values,
            "advantages": advantages,
            "returns": returns,
        }
        if cfg.objective == "kl_penalty":  # the only loss that reads π_old's distribution
            units["old_dist"] = old_dist
        batch, per_minibatch = self.model.minibatch_units(units, rollout, cfg.minibatch_size)
        return old_dist, batch, per_minibatch

    def grads(self, state: PPOState, minibatch: dict, key: jax.Array) -> tuple[Any, dict]:
        """The gradient of PPO's loss on one minibatch (the units `update` shuffles: the
        rollout's arrays with its advantages, returns and old log-probs) at
        `state.params`, and the loss's statistics."""
        del key  # the loss is deterministic
        cfg = self.config
        clip_eps = self.clip_eps(state.updates)
        ent_coef = self.ent_coef(state.updates)

        def loss_fn(params: Any) -> tuple[jax.Array, dict]:
            mb = minibatch
            _, dist, v = self.model.forward(
                params, mb["policy_state"], mb["obs"], mb["episode_starts"]
            )
            mask = self.model.sample_mask(mb["obs"])  # None: every sample counts
            adv = mb["advantages"]
            if cfg.normalize_advantages:
                adv = normalize_advantages(adv, mask)
            log_probs = dist.log_prob(mb["actions"])
            if cfg.objective == "clip":
                pg_loss, pg_stats = clipped_surrogate_loss(
                    log_probs, mb["old_log_probs"], adv, clip_eps=clip_eps, mask=mask
                )
            else:
                kl = mb["old_dist"].kl(dist)  # KL[π_old(·|s) ‖ π_θ(·|s)] per state
                pg_loss, pg_stats = kl_penalty_loss(
                    log_probs, mb["old_log_probs"], adv, kl, kl_coef=state.kl_coef, mask=mask
                )
            v_loss, v_stats = value_loss(
                v,
                mb["returns"],
                old_values=None if cfg.clip_vf is None else mb["old_values"],
                clip_eps=cfg.clip_vf,
                mask=mask,
            )
            entropy = masked_mean(dist.entropy(), mask)
            loss = pg_loss + cfg.vf_coef * v_loss - ent_coef * entropy
            stats = {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy}
            return loss, {**stats, **pg_stats, **v_stats}

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        return grads, {"loss": loss, **stats}

    def apply(self, state: PPOState, grads: Any) -> PPOState:
        """One optimiser step with a minibatch's `grads`; the update count (the
        schedules' clock) moves once per `update`, not here."""
        opt_state = set_lr(state.opt_state, self.lr(state.updates))
        updates, opt_state = self.optimizer.update(grads, opt_state, state.params)
        return state._replace(
            params=optax.apply_updates(state.params, updates), opt_state=opt_state
        )
