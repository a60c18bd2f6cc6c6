"""Trust Region Policy Optimization (Schulman et al. 2015), with a GAE critic.

One update, in time order:
1. V(s) and V(s') with the critic that the rollout was collected under → GAE(λ)
   advantages Â and returns (Schulman et al. 2016).
2. The actor takes one natural-gradient step inside a KL trust region:
   maximise L(θ) = mean(π_θ(a|s)/π_old(a|s)·Â) + ent_coef·H(π_θ)
   subject to mean_s KL(π_old(·|s) ‖ π_θ(·|s)) ≤ δ (`target_kl`):
   g = ∇L, s ≈ F⁻¹g by conjugate gradient on Fisher-vector products,
   β = sqrt(2δ / sᵀFs), then a backtracking line search on θ_old + f·βs,
   f = 1, c, c², …, that accepts the first step within the bound that improves L
   and otherwise keeps θ_old (Schulman et al. 2015, §6 and Appendix C).
3. The critic (a separate network) regresses V(s) on the returns with
   `n_critic_epochs` passes of Adam over shuffled minibatches.
Defaults follow sb3-contrib's TRPO; the actor and critic never share parameters,
so the critic's steps cannot move the policy out of the trust region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from ascent.algos.config import (
    OnPolicyConfig,
    ScheduleLike,
    in_unit_interval,
    positive,
    positive_schedule,
)
from ascent.algos.networks import check_on_policy_spaces, policy_net, sample_action
from ascent.algos.optim import make_optimizer, schedule_fn, set_lr
from ascent.algos.protocol import Algorithm
from ascent.algos.sequence import flatten_time, shuffled_minibatches
from ascent.buffers import Rollout
from ascent.core.losses import masked_mean, normalize_advantages, value_loss
from ascent.core.returns import gae
from ascent.core.trust_region import (
    backtracking_line_search,
    conjugate_gradient,
    fisher_vector_product,
    max_step,
)
from ascent.errors import ConfigError
from ascent.nn import ValueNet
from ascent.nn.encoders import ObsSpec

_UNUSED_LR = OnPolicyConfig.lr


@dataclass(frozen=True)
class TRPOConfig(OnPolicyConfig):
    """TRPO settings; defaults follow sb3-contrib's TRPO (a 2048-step rollout,
    δ = 0.01, 15 CG iterations, damping 0.1, line search 0.8ⁱ for i < 10, 10 critic
    epochs of minibatches of 128 at 1e-3)."""

    n_envs: int = 8
    """Parallel environments N."""
    n_steps: int = 256
    """Steps T per environment; T × N = 2048 transitions per update by default."""
    lr: ScheduleLike = _UNUSED_LR
    """Not used: the trust region (target_kl), not a learning rate, sets the actor's
    step. The critic's learning rate is critic_lr."""
    target_kl: float = 0.01
    """δ, the bound on the mean KL(π_old ‖ π_new) over the rollout's states."""
    cg_iters: int = 15
    """Conjugate-gradient iterations for the search direction s ≈ F⁻¹g."""
    cg_tol: float = 1e-10
    """Conjugate gradient stops early once its residual norm is at most this."""
    cg_damping: float = 0.1
    """Added to the Fisher matrix (F + damping·I) to keep CG well conditioned."""
    backtrack_iters: int = 10
    """Step fractions the line search tries before it keeps the old policy."""
    backtrack_coef: float = 0.8
    """Ratio c of successive step fractions 1, c, c², … (sb3-contrib 0.8; Spinning Up
    0.8; 0.5 halves the step each time)."""
    gae_lambda: float = 0.95
    """GAE's λ in [0, 1]: 0 is the one-step TD advantage, 1 the Monte-Carlo one."""
    critic_lr: ScheduleLike = 1e-3
    """Critic (Adam) learning rate: a number or a schedule."""
    n_critic_epochs: int = 10
    """Passes over the rollout that fit the critic per update."""
    critic_minibatch_size: int = 128
    """Transitions per critic gradient step; at most n_steps × n_envs."""
    normalize_advantages: bool = True
    """Normalise advantages to zero mean, unit variance over the rollout."""

    def validate(self) -> None:
        super().validate()
        if self.lr != _UNUSED_LR:
            raise ConfigError(
                f"lr: TRPO has no actor learning rate (target_kl bounds its step); "
                f"set critic_lr for the critic (got lr={self.lr})"
            )
        positive(self, "target_kl", "cg_iters", "cg_damping", "backtrack_iters")
        positive(self, "n_critic_epochs", "critic_minibatch_size")
        if not self.cg_tol >= 0:
            raise ConfigError(f"cg_tol must be >= 0, got {self.cg_tol}")
        if not 0 < self.backtrack_coef < 1:
            raise ConfigError(f"backtrack_coef must be in (0, 1), got {self.backtrack_coef}")
        in_unit_interval(self, "gae_lambda")
        positive_schedule(self, "critic_lr")
        if self.critic_minibatch_size > self.batch_size:
            raise ConfigError(
                f"critic_minibatch_size ({self.critic_minibatch_size}) must be at most "
                f"n_steps × n_envs ({self.n_steps} × {self.n_envs} = {self.batch_size})"
            )


class TRPOState(NamedTuple):
    params: Any  # {"actor": ..., "critic": ...}
    opt_state: Any  # the critic's Adam state (the actor has no optimiser)
    updates: jax.Array  # completed updates: the clock of every schedule


class TRPO(Algorithm):
    """Natural-gradient actor step under a KL trust region; minibatch-fitted V critic."""

    name = "trpo"
    Config = TRPOConfig

    def __init__(self, config: TRPOConfig, observation_space: gym.Space, action_space: gym.Space):
        check_on_policy_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_spec = ObsSpec.of(observation_space, config.torso)
        self.actor = policy_net(config, observation_space, action_space)
        self.critic = ValueNet(self.obs_spec, config.hidden, config.activation, config.hidden_gain)
        self.optimizer = make_optimizer(config.max_grad_norm)
        total = config.total_updates
        self.critic_lr = schedule_fn(config.critic_lr, total)
        self.ent_coef = schedule_fn(config.ent_coef, total)

    def init(self, key: jax.Array) -> TRPOState:
        actor_key, critic_key = jax.random.split(key)
        obs = self.obs_spec.zeros((1,), jnp)
        params = {
            "actor": self.actor.init(actor_key, obs),
            "critic": self.critic.init(critic_key, obs),
        }
        opt_state = self.optimizer.init(params["critic"])
        return TRPOState(params, opt_state, jnp.zeros((), jnp.int32))

    def act(
        self, state: TRPOState, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        return sample_action(self.actor.apply(state.params["actor"], obs), key, deterministic)

    def update(self, state: TRPOState, rollout: Rollout, key: jax.Array) -> tuple[TRPOState, dict]:
        cfg = self.config
        critic_params = state.params["critic"]
        values = self.critic.apply(critic_params, rollout.obs)
        next_values = self.critic.apply(critic_params, rollout.next_obs)
        advantages = gae(
            rewards=rollout.rewards,
            values=values,
            next_values=next_values,
            terminated=rollout.terminated,
            truncated=rollout.truncated,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
        )
        returns = advantages + values  # λ-returns, the critic's targets
        obs = jax.tree.map(flatten_time, rollout.obs)
        actions = flatten_time(rollout.actions)
        old_log_probs = flatten_time(rollout.log_probs)
        adv = flatten_time(advantages)
        if cfg.normalize_advantages:
            adv = normalize_advantages(adv)
        ent_coef = self.ent_coef(state.updates)

        actor, critic = self.actor, self.critic
        flat_old, unravel = ravel_pytree(state.params["actor"])
        old_dist = jax.lax.stop_gradient(actor.apply(state.params["actor"], obs))

        def surrogate(flat: jax.Array) -> tuple[jax.Array, jax.Array]:
            """(L(θ) with the entropy bonus, the plain importance-weighted surrogate)."""
            dist = actor.apply(unravel(flat), obs)
            ratio = jnp.exp(dist.log_prob(actions) - old_log_probs)
            plain = masked_mean(ratio * adv)
            return plain + ent_coef * masked_mean(dist.entropy()), plain

        def objective(flat: jax.Array) -> jax.Array:
            return surrogate(flat)[0]

        def mean_kl(flat: jax.Array) -> jax.Array:
            return masked_mean(old_dist.kl(actor.apply(unravel(flat), obs)))

        def fvp(v: jax.Array) -> jax.Array:
            return fisher_vector_product(mean_kl, flat_old, v, damping=cfg.cg_damping)

        g = jax.grad(objective)(flat_old)
        direction, cg_stats = conjugate_gradient(fvp, g, iters=cfg.cg_iters, tol=cfg.cg_tol)
        beta = max_step(direction, fvp(direction), cfg.target_kl)
        flat_new, ls_stats = backtracking_line_search(
            objective,
            mean_kl,
            flat_old,
            beta * direction,
            target_kl=cfg.target_kl,
            backtrack_iters=cfg.backtrack_iters,
            backtrack_coef=cfg.backtrack_coef,
        )
        objective_new, plain_new = surrogate(flat_new)

        # The critic: n_critic_epochs passes of shuffled minibatches toward the returns.
        batch = {"obs": obs, "returns": flatten_time(returns)}
        n_minibatches = cfg.batch_size // cfg.critic_minibatch_size
        size = cfg.critic_minibatch_size
        opt_state = set_lr(state.opt_state, self.critic_lr(state.updates))

        def critic_loss(params: Any, mb: dict) -> tuple[jax.Array, dict]:
            return value_loss(critic.apply(params, mb["obs"]), mb["returns"])

        def minibatch_step(carry: tuple, mb: dict) -> tuple[tuple, dict]:
            params, opt_state = carry
            (loss, stats), grads = jax.value_and_grad(critic_loss, has_aux=True)(params, mb)
            step, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, step), opt_state), {"value_loss": loss, **stats}

        def epoch(carry: tuple, epoch_key: jax.Array) -> tuple[tuple, dict]:
            minibatches = shuffled_minibatches(batch, epoch_key, n_minibatches, size)
            return jax.lax.scan(minibatch_step, carry, minibatches)

        (critic_params, opt_state), critic_stats = jax.lax.scan(
            epoch, (critic_params, opt_state), jax.random.split(key, cfg.n_critic_epochs)
        )
        critic_stats = jax.tree.map(jnp.mean, critic_stats)

        policy_loss = -plain_new
        entropy = masked_mean(old_dist.entropy())  # of the policy that collected the rollout
        metrics = {
            # what the two steps minimised: −L (with the bonus) at the new policy, and
            # the critic's mean minibatch loss
            "loss": -objective_new + critic_stats["value_loss"],
            "policy_loss": policy_loss,
            **critic_stats,
            "entropy": entropy,
            "kl": ls_stats["kl"],
            "step_fraction": ls_stats["step_fraction"],
            "line_search_accepted": ls_stats["accepted"],
            "line_search_iters": ls_stats["iterations"],
            "surrogate_improvement": ls_stats["improvement"],
            "cg_residual": cg_stats["residual"],
            "cg_iters": cg_stats["iterations"],
            "max_step": beta,
            "critic_lr": self.critic_lr(state.updates),
            "ent_coef": ent_coef,
        }
        params = {"actor": unravel(flat_new), "critic": critic_params}
        return TRPOState(params, opt_state, optax.safe_increment(state.updates)), metrics
