"""IMPALA: actors that only collect, one learner that corrects for their lag with
V-trace (Espeholt et al. 2018).

K actor threads each step their own `n_envs` environments with the parameters the
learner last published, which may be some updates old, and queue their rollouts; the
learner takes them in turn and makes one gradient step on each, with A2C's loss whose
n-step targets and advantages are V-trace's (`core.returns.vtrace`): importance
weights π/μ between the learner's policy π and the acting one μ, truncated at ρ̄ and
c̄. The lag of each rollout (updates between the parameters that collected it and
those it updates) is logged as `staleness`. Driver: `train/workers/threads.ActorLearnerDriver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp

from ascent.algos.a2c import A2C, A2CConfig
from ascent.algos.a3c import check_workers
from ascent.algos.config import positive
from ascent.buffers import Rollout
from ascent.core.losses import masked_mean
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

    def targets(
        self, rollout: Rollout, values: jax.Array, next_values: jax.Array, log_probs: jax.Array
    ) -> tuple[jax.Array, jax.Array, dict]:
        """V-trace's policy-gradient advantages and targets v_s for a rollout collected
        by a policy μ whose log-probabilities it holds; π's are `log_probs`."""
        cfg = self.config
        log_rhos = jax.lax.stop_gradient(log_probs) - rollout.log_probs
        got = vtrace(
            rewards=rollout.rewards,
            values=values,
            next_values=next_values,
            terminated=rollout.terminated,
            truncated=rollout.truncated,
            log_rhos=log_rhos,
            gamma=cfg.gamma,
            rho_bar=cfg.rho_bar,
            c_bar=cfg.c_bar,
        )
        return got.pg_advantages, got.vs, {"importance_weight": masked_mean(jnp.exp(log_rhos))}
