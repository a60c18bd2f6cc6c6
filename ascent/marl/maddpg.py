"""Multi-agent deep deterministic policy gradients (MADDPG; Lowe et al. 2017), for
discrete actions through the Gumbel-softmax.

Each agent a has a policy π^a(· | o^a) on its own observation (`nn.multiagent.TeamActor`,
shared with agent ids by default) and a centralised critic Q_a(s, u_1, ..., u_A) that
reads the global state and every agent's action (`nn.multiagent.CentralQ`): the critic
sees what the others did, so its target does not move when they change their policies
(§4.1), while acting needs only the agent's own observation.

Off-policy (`kind = "off-policy"`): the team acts by its own stochastic policy, as
on-policy teams do, and every rollout of T steps from N environments goes into the
replay buffer of joint steps that the loop keeps where DDPG, TD3 and SAC keep theirs
(`LoopState.buffer`; `train.offpolicy.TeamReplayLoop`, saved in checkpoints only with
`save_buffer`); once `learning_starts` joint steps have been taken, each iteration
takes `gradient_steps` updates, each one step on a uniform minibatch, of

- critics: mean over present agents of (Q_a(s, u) − y_a)², y_a = r_a + γ (1 − done)
  Q'_a(s', u'), u' the target policies' Gumbel-softmax samples at s' (Lowe et al. 2017,
  eq. 6), Q' and π' target networks trailing by Polyak averaging (τ) after every step;
- actors: −mean Q_a(s, (u^{-a}, ũ^a)), ũ^a a straight-through Gumbel-softmax sample of
  π^a(o^a) (`core.distributions.gumbel_softmax`: one-hot forward, the relaxed sample's
  gradient backward; §4.2 and the paper's code use the relaxed sample), the others'
  actions those in the buffer; plus `logit_reg` · mean logit², the paper's code's
  regulariser of the logits, minus `ent_coef` · entropy.

Each agent learns from its own reward, so cooperative, competitive and mixed tasks all
fit. Left out: the paper's policy ensembles and inferred policies of others (§4.2, 4.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import (
    OnPolicyConfig,
    ScheduleLike,
    in_unit_interval,
    positive,
    positive_schedule,
)
from ascent.algos.networks import sample_action
from ascent.algos.optim import make_optimizer, schedule_fn, step_parts
from ascent.algos.protocol import Algorithm
from ascent.buffers import (
    Transitions,
)
from ascent.core.distributions import gumbel_softmax
from ascent.core.losses import masked_mean, value_loss
from ascent.core.targets import polyak_update, td_target
from ascent.envs.multiagent import MultiAgentSpaces
from ascent.errors import ConfigError
from ascent.marl.team import TeamFields, check_team_spaces, example_obs
from ascent.nn.heads import allowed_actions
from ascent.nn.multiagent import CentralQ, TeamActor, joint_actions_seen


@dataclass(frozen=True)
class MADDPGConfig(OnPolicyConfig, TeamFields):
    """MADDPG settings; defaults after Lowe et al. 2017 (γ 0.95, τ 0.01, minibatches of
    1024, two layers of 64 ReLU units, gradient norm 0.5) with smaller learning rates."""

    n_steps: int = 25
    """Steps T per environment in each rollout (then an update)."""
    gamma: float = 0.95
    """Discount factor γ in [0, 1]."""
    lr: ScheduleLike = 1e-3
    """Actors' learning rate (a number or a schedule)."""
    critic_lr: ScheduleLike = 1e-3
    """Critics' learning rate (a number or a schedule)."""
    buffer_size: int = 100_000
    """Joint steps the replay buffer holds."""
    learning_starts: int = 5_000
    """Joint steps taken (summed over environments) before the first gradient step."""
    minibatch_size: int = 1024
    """Joint steps (each with all its agents) per gradient step."""
    gradient_steps: int = 4
    """Gradient steps per iteration (per rollout of n_steps × n_envs joint steps)."""
    save_buffer: bool = False
    """Save the replay buffer in checkpoints (large); off, a loaded agent starts with
    an empty buffer."""
    tau: float = 0.01
    """Polyak rate of the target networks, after every gradient step."""
    temperature: float = 1.0
    """Temperature of the actors' Gumbel-softmax samples."""
    logit_reg: float = 1e-3
    """Weight of the mean squared logit in the actors' loss."""
    max_grad_norm: float = 0.5
    """Clip each part's global gradient norm to this value (inf: no clipping)."""
    activation: str = "relu"
    """Activation of the hidden layers: tanh, relu, elu, gelu or silu."""

    memory_policies: ClassVar[bool] = False

    @property
    def total_gradient_steps(self) -> int:
        """Gradient steps in a run (warm-up included): the clock of the schedules, as for
        the single-agent off-policy algorithms."""
        return self.total_updates * self.gradient_steps

    def validate(self) -> None:
        super().validate()
        in_unit_interval(self, "tau")
        positive(self, "buffer_size", "minibatch_size", "gradient_steps", "temperature")
        positive_schedule(self, "critic_lr")
        if self.buffer_size < self.batch_size:
            raise ConfigError(
                f"buffer_size ({self.buffer_size}) must hold at least one rollout, n_steps × "
                f"n_envs = {self.n_steps} × {self.n_envs} = {self.batch_size} joint steps"
            )
        if self.learning_starts < 0 or self.logit_reg < 0:
            raise ConfigError(
                f"learning_starts and logit_reg must be >= 0; got {self.learning_starts} "
                f"and {self.logit_reg}"
            )
        self.check_team()


class MADDPGState(NamedTuple):
    params: Any  # {"actor": ..., "critic": ...}
    target_params: Any  # the same, trailing params
    opt_state: Any  # {"actor": ..., "critic": ...}
    updates: jax.Array  # gradient steps so far: the clock of the schedules


class MADDPG(Algorithm):
    """MADDPG: decentralised actors, a centralised critic per agent, replay."""

    name = "maddpg"
    Config = MADDPGConfig
    kind = "off-policy"
    multi_agent = True
    action_spaces = ("Discrete",)  # each agent's

    def __init__(self, config: MADDPGConfig, spaces: MultiAgentSpaces):
        check_team_spaces(self.name, spaces)
        self.config = config
        self.spaces = spaces
        self.n_actions = int(spaces.action_space.n)
        team = {
            "n_agents": spaces.n_agents,
            "hidden": config.hidden,
            "activation": config.activation,
            "hidden_gain": config.hidden_gain,
            "share_parameters": config.share_parameters,
            "agent_ids": config.agent_ids,
        }
        self.actor = TeamActor(n_actions=self.n_actions, **team)
        self.critic = CentralQ(**team)
        self.optimizer = make_optimizer(config.max_grad_norm)
        total = config.total_gradient_steps
        self.lr = {"actor": schedule_fn(config.lr, total),
                   "critic": schedule_fn(config.critic_lr, total)}  # fmt: skip
        self.ent_coef = schedule_fn(config.ent_coef, total)

    def init(self, key: jax.Array) -> MADDPGState:
        actor_key, critic_key = jax.random.split(key)
        obs = example_obs(self.spaces)
        n_agents = self.spaces.n_agents
        joint = jnp.zeros((1, 1, n_agents, n_agents, self.n_actions))
        params = {"actor": self.actor.init(actor_key, obs),
                  "critic": self.critic.init(critic_key, obs, joint)}  # fmt: skip
        opt_state = {part: self.optimizer.init(p) for part, p in params.items()}
        return MADDPGState(params, params, opt_state, jnp.zeros((), jnp.int32))

    def act(
        self, state: MADDPGState, obs: Any, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        """A sample of each agent's policy (the argmax of its Gumbel-perturbed logits) or,
        deterministic, its most likely action: (actions [..., A], their log-probability)."""
        return sample_action(self.actor.apply(state.params["actor"], obs), key, deterministic)

    def update(
        self, state: MADDPGState, batch: Transitions, key: jax.Array
    ) -> tuple[MADDPGState, dict]:
        """One gradient step on a minibatch of joint steps [B, ...] from the replay
        buffer: `apply(state, grads(state, batch))`, the schedules' clock moved on."""
        grads, metrics = self.grads(state, batch, key)
        state = self.apply(state, grads)
        metrics = {**metrics, "lr": self.lr["actor"](state.updates),
                   "critic_lr": self.lr["critic"](state.updates)}  # fmt: skip
        return state._replace(updates=optax.safe_increment(state.updates)), metrics

    def grads(self, state: MADDPGState, batch: Transitions, key: jax.Array) -> tuple[Any, dict]:
        """The gradients of the critics' TD loss and the actors' loss on one minibatch of
        joint steps [B, ...], and their metrics."""
        cfg = self.config
        target_key, own_key = jax.random.split(key)
        active, next_active = batch.obs.active, batch.next_obs.active  # [B, A]
        # y_a = r_a + γ (1 − done) Q'_a(s', u'), u' ~ the target policies' Gumbel samples
        next_logits = self.actor.apply(state.target_params["actor"], batch.next_obs).logits
        next_u = gumbel_softmax(target_key, next_logits, temperature=cfg.temperature)
        next_joint = joint_actions_seen(next_u, next_u, next_active)
        next_q = self.critic.apply(state.target_params["critic"], batch.next_obs, next_joint)
        # an agent absent at s' (it has left the episode) does not bootstrap
        ended = batch.terminated[:, None] | ~next_active
        targets = jax.lax.stop_gradient(td_target(batch.rewards, ended, next_q, gamma=cfg.gamma))
        taken = jax.nn.one_hot(batch.actions, self.n_actions)  # [B, A, n]
        ent_coef = self.ent_coef(state.updates)

        def loss_fn(p: Any) -> tuple[jax.Array, dict]:
            q = self.critic.apply(p["critic"], batch.obs, joint_actions_seen(taken, taken, active))
            critic_loss, v_stats = value_loss(q, targets, mask=active)
            dist = self.actor.apply(p["actor"], batch.obs)
            own = gumbel_softmax(own_key, dist.logits, temperature=cfg.temperature)
            critic = jax.lax.stop_gradient(p["critic"])  # the actors' loss moves the actors
            q_own = self.critic.apply(critic, batch.obs, joint_actions_seen(taken, own, active))
            policy_loss = -masked_mean(q_own, active)
            allowed = allowed_actions(batch.obs.action_mask)
            logits = jnp.where(allowed, dist.logits, 0.0)
            reg = masked_mean(jnp.sum(logits**2, -1) / allowed.sum(-1), active)
            entropy = masked_mean(dist.entropy(), active)
            loss = policy_loss + cfg.logit_reg * reg - ent_coef * entropy + critic_loss
            return loss, {
                "policy_loss": policy_loss,
                "value_loss": critic_loss,
                "entropy": entropy,
                "logit_reg": reg,
                "q": masked_mean(q, active),
                **v_stats,
            }

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        return grads, {"loss": loss, **stats, "ent_coef": ent_coef}

    def apply(self, state: MADDPGState, grads: Any) -> MADDPGState:
        """One step of the actors' and the critics' optimisers, each at its learning
        rate, then the target networks move τ of the way to the new parameters."""
        params, opt_state = step_parts(self.optimizer, self.lr, state.opt_state, state.params,
                                       grads, state.updates)  # fmt: skip
        target = polyak_update(state.target_params, params, tau=self.config.tau)
        return state._replace(params=params, target_params=target, opt_state=opt_state)
