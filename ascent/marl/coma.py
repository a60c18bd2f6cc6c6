"""Counterfactual multi-agent policy gradients (COMA; Foerster et al. 2018).

An actor per agent (shared, with agent ids, by default) acts on its own observation; one
centralised critic learns Q(s, u) of the joint action, and gives each agent a in one pass
the values of all its actions with the others' held, q[a, c] = Q(s, (u^{-a}, c))
(`nn.multiagent.CounterfactualCritic`). Each agent's policy gradient uses COMA's
counterfactual advantage (`core.credit.counterfactual_advantage`, eq. 4):

    A^a = Q(s, u) − Σ_c π^a(c | o^a) Q(s, (u^{-a}, c)),

which credits agent a with what its own action changed. One update per rollout: one
step of each optimiser (actor at `lr`, critic at `critic_lr`) on

- critic: mean (Q(s_t, u_t) − G_t^λ)², with TD(λ) targets G^λ (GAE + Q, `core.returns.gae`,
  the paper's TD(λ) critic, λ = 0.8) bootstrapped from the counterfactual value
  Σ_c π^a(c | o'^a) Q(s', (ũ'^{-a}, c)) at the next state, ũ' one joint action sampled
  from the current policy (this works with truncated episodes: the true next state);
- actor: −mean(log π^a(u^a | o^a) · A^a) − ent_coef · H.

Differences from the paper, for simplicity: the actors are feed-forward (no GRU), the
critic has no target network (its targets are computed with the current parameters and
held constant), and each agent's critic is trained on its own reward (identical for a
cooperative team's shared reward, as in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import OnPolicyConfig, ScheduleLike, in_unit_interval, positive_schedule
from ascent.algos.networks import sample_action
from ascent.algos.optim import make_optimizer, schedule_fn, step_parts
from ascent.algos.protocol import Algorithm
from ascent.buffers import Rollout
from ascent.core.credit import counterfactual_advantage
from ascent.core.losses import (
    masked_mean,
    normalize_advantages,
    policy_gradient_loss,
    value_loss,
)
from ascent.core.returns import gae
from ascent.envs.multiagent import MultiAgentSpaces
from ascent.marl.team import TeamFields, check_team_spaces, example_obs
from ascent.nn.multiagent import CounterfactualCritic, TeamActor


@dataclass(frozen=True)
class COMAConfig(OnPolicyConfig, TeamFields):
    """COMA settings. Defaults follow Foerster et al. 2018 where they apply (λ = 0.8)."""

    n_steps: int = 25
    """Steps T per environment in each rollout."""
    lr: ScheduleLike = 5e-4
    """Actor learning rate (a number or a schedule)."""
    critic_lr: ScheduleLike = 1e-3
    """Critic learning rate (a number or a schedule)."""
    gae_lambda: float = 0.8
    """λ of the critic's TD(λ) targets."""
    ent_coef: ScheduleLike = 0.01
    """Entropy bonus coefficient (a number or a schedule)."""
    max_grad_norm: float = 10.0
    """Clip each part's global gradient norm to this value (inf: no clipping)."""
    normalize_advantages: bool = False
    """Normalise the counterfactual advantages within each rollout."""

    memory_policies: ClassVar[bool] = False

    def validate(self) -> None:
        super().validate()
        in_unit_interval(self, "gae_lambda")
        positive_schedule(self, "critic_lr")
        self.check_team()


class COMAState(NamedTuple):
    params: Any  # {"actor": ..., "critic": ...}
    opt_state: Any  # {"actor": ..., "critic": ...}
    updates: jax.Array


class COMA(Algorithm):
    """Counterfactual multi-agent policy gradients."""

    name = "coma"
    Config = COMAConfig
    multi_agent = True
    action_spaces = ("Discrete",)  # each agent's

    def __init__(self, config: COMAConfig, spaces: MultiAgentSpaces):
        check_team_spaces(self.name, spaces)
        self.config = config
        self.spaces = spaces
        team = {
            "n_agents": spaces.n_agents,
            "n_actions": int(spaces.action_space.n),
            "hidden": config.hidden,
            "activation": config.activation,
            "hidden_gain": config.hidden_gain,
            "share_parameters": config.share_parameters,
            "agent_ids": config.agent_ids,
        }
        self.actor = TeamActor(**team)
        self.critic = CounterfactualCritic(**team)
        self.optimizer = make_optimizer(config.max_grad_norm)
        total = config.total_updates
        self.lr = {"actor": schedule_fn(config.lr, total),
                   "critic": schedule_fn(config.critic_lr, total)}  # fmt: skip
        self.ent_coef = schedule_fn(config.ent_coef, total)

    def init(self, key: jax.Array) -> COMAState:
        actor_key, critic_key = jax.random.split(key)
        obs = example_obs(self.spaces)
        actions = jnp.zeros((1, 1, self.spaces.n_agents), jnp.int32)
        params = {"actor": self.actor.init(actor_key, obs),
                  "critic": self.critic.init(critic_key, obs, actions)}  # fmt: skip
        opt_state = {part: self.optimizer.init(p) for part, p in params.items()}
        return COMAState(params, opt_state, jnp.zeros((), jnp.int32))

    def act(
        self, state: COMAState, obs: Any, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        return sample_action(self.actor.apply(state.params["actor"], obs), key, deterministic)

    def update(self, state: COMAState, rollout: Rollout, key: jax.Array) -> tuple[COMAState, dict]:
        """One step of each optimiser: `apply(state, grads(state, rollout))`."""
        grads, metrics = self.grads(state, rollout, key)
        return self.apply(state, grads), metrics

    def grads(self, state: COMAState, rollout: Rollout, key: jax.Array) -> tuple[Any, dict]:
        """The gradients of the critic's TD(λ) loss and the actor's counterfactual policy
        gradient loss on `rollout`, and their metrics."""
        cfg = self.config
        params = state.params
        mask = rollout.obs.active  # [T, N, A]: the agents present
        # the counterfactual value at the next state: Σ_c π^a(c|o'^a) Q(s', (ũ'^{-a}, c))
        next_dist = self.actor.apply(params["actor"], rollout.next_obs)
        next_q = self.critic.apply(params["critic"], rollout.next_obs, next_dist.sample(key))
        next_values = jnp.sum(jnp.exp(next_dist.log_probs()) * next_q, axis=-1)  # [T, N, A]
        ent_coef = self.ent_coef(state.updates)

        def loss_fn(p: Any) -> tuple[jax.Array, dict]:
            dist = self.actor.apply(p["actor"], rollout.obs)
            q = self.critic.apply(p["critic"], rollout.obs, rollout.actions)  # [T, N, A, n]
            q_taken = jnp.take_along_axis(q, rollout.actions[..., None], axis=-1)[..., 0]
            held = jax.lax.stop_gradient(q_taken)
            returns = held + gae(
                rewards=rollout.rewards,
                values=held,
                next_values=next_values,
                terminated=rollout.terminated,
                truncated=rollout.truncated,
                gamma=cfg.gamma,
                gae_lambda=cfg.gae_lambda,
            )  # TD(λ) targets of Q(s, u)
            critic_loss, v_stats = value_loss(q_taken, returns, mask=mask)
            probs = jnp.exp(dist.log_probs())
            advantages = counterfactual_advantage(
                jax.lax.stop_gradient(q), jax.lax.stop_gradient(probs), rollout.actions
            )
            if cfg.normalize_advantages:
                advantages = normalize_advantages(advantages, mask)
            pg_loss, _ = policy_gradient_loss(dist.log_prob(rollout.actions), advantages, mask)
            entropy = masked_mean(dist.entropy(), mask)
            # the actor's gradient comes from the first two terms, the critic's from the last
            loss = pg_loss - ent_coef * entropy + critic_loss
            return loss, {
                "policy_loss": pg_loss,
                "value_loss": critic_loss,
                "entropy": entropy,
                "advantage_mean": masked_mean(advantages, mask),
                **v_stats,
            }

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        metrics = {
            "loss": loss,
            **stats,
            "lr": self.lr["actor"](state.updates),
            "critic_lr": self.lr["critic"](state.updates),
            "ent_coef": ent_coef,
        }
        return grads, metrics

    def apply(self, state: COMAState, grads: Any) -> COMAState:
        """One step of the actor's and the critic's optimisers, each at its learning rate."""
        params, opt_state = step_parts(self.optimizer, self.lr, state.opt_state, state.params,
                                       grads, state.updates)  # fmt: skip
        return COMAState(params, opt_state, optax.safe_increment(state.updates))
