"""IMPALA: actors that only collect, one learner that corrects for their lag with
V-trace (Espeholt et al. 2018).

K actor threads each step their own `n_envs` environments with the parameters the
learner last published, which may be some updates old, and queue their rollouts; the
learner takes them in turn and makes one gradient step on each, with A2C's loss whose
n-step targets and advantages are V-trace's (`core.returns.vtrace`): importance
weights π/μ between the learner's policy π and the acting one μ, truncated at ρ̄ and
c̄. The lag of each rollout (updates between the parameters that collected it and
those it updates) is logged as `staleness`. Driver: `train/drivers.ActorLearnerDriver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import jax

from ascent.algos.a2c import A2C, A2CConfig, A2CState
from ascent.algos.a3c import check_workers
from ascent.algos.config import positive
from ascent.buffers import Rollout
from ascent.core.losses import masked_mean, normalize_advantages, policy_gradient_loss, value_loss
from ascent.core.returns import vtrace


@dataclass(frozen=True)
class ImpalaConfig(A2CConfig):
    """IMPALA settings: A2C's (per actor: `n_envs` environments, `n_steps` steps per
    rollout), with the actors, V-trace's truncation levels and the queue."""

    workers: int = 2
    """Actor threads, each with its own `n_envs` environments."""
    rho_bar: float = 1.0
    """ρ̄: truncation of the importance weights in the TD errors and the advantages."""
    c_bar: float = 1.0
    """c̄: truncation of the trace-cutting weights (c̄ ≤ ρ̄ in the paper)."""
    queue_size: int = 2
    """Rollouts that may wait for the learner (more: actors idle less, lag more)."""
    ray_address: str = ""
    """Run the actors as Ray actors ("local", "auto" or "host:port", as for a3c; the
    learner stays in this process); empty: threads of this process."""

    memory_policies: ClassVar[bool] = False

    def validate(self) -> None:
        super().validate()
        check_workers(self, "impala")
        positive(self, "rho_bar", "c_bar", "queue_size")


class Impala(A2C):
    """A2C's networks and optimiser; V-trace targets for rollouts of lagging actors."""

    name = "impala"
    Config = ImpalaConfig
    kind = "asynchronous"
    driver = "actor-learner"

    def grads(self, state: A2CState, rollout: Rollout, key: jax.Array) -> tuple[Any, dict]:
        """The gradient of the V-trace actor-critic loss on `rollout` (collected by a
        policy μ whose log-probabilities it holds) at `state.params`."""
        del key
        cfg = self.config
        next_values = self.model.bootstrap_values(state.params, rollout)
        ent_coef = self.ent_coef(state.updates)

        def loss_fn(params: Any) -> tuple[jax.Array, dict]:
            dist, values = self.model.unroll(params, rollout)
            log_probs = dist.log_prob(rollout.actions)
            log_rhos = jax.lax.stop_gradient(log_probs) - rollout.log_probs
            targets = vtrace(
                rewards=rollout.rewards,
                values=jax.lax.stop_gradient(values),
                next_values=next_values,
                terminated=rollout.terminated,
                truncated=rollout.truncated,
                log_rhos=log_rhos,
                gamma=cfg.gamma,
                rho_bar=cfg.rho_bar,
                c_bar=cfg.c_bar,
            )
            advantages = targets.pg_advantages
            if cfg.normalize_advantages:
                advantages = normalize_advantages(advantages)
            pg_loss, _ = policy_gradient_loss(log_probs, advantages)
            v_loss, v_stats = value_loss(values, targets.vs)
            entropy = masked_mean(dist.entropy())
            loss = pg_loss + cfg.vf_coef * v_loss - ent_coef * entropy
            return loss, {
                "policy_loss": pg_loss,
                "value_loss": v_loss,
                "entropy": entropy,
                "importance_weight": masked_mean(jax.numpy.exp(log_rhos)),
                **v_stats,
            }

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        metrics = {"loss": loss, **stats, "lr": self.lr(state.updates), "ent_coef": ent_coef}
        return grads, metrics
