"""Value decomposition: VDN (Sunehag et al. 2018) and QMIX (Rashid et al. 2018).

Each agent a has its own action values Q_a(o^a, ·) (one shared network with agent ids
by default, `nn.multiagent.TeamQNet`) and acts ε-greedily on them, alone. A mixer
(`nn.mixers`) joins the values of the actions taken into the team's Q_tot(s, u) —
VDN's sum, or QMIX's monotonic mixing network conditioned on the global state — and
Q_tot is what learns from the team's reward. Because ∂Q_tot/∂Q_a ≥ 0, each agent's
greedy action is the team's greedy joint action (Rashid et al. 2018, eq. 4).

Training is on-policy, from the parallel environments' rollouts, without a replay buffer:
Peng's Q(λ) targets (Peng & Williams 1996) with the greedy bootstrap
max_u Q_tot(s', u) = mixer(max Q_a(o'^a, ·), s') of a target network that trails the
online one (θ' ← τθ + (1 − τ)θ' after each update; without it QMIX's values diverged on
MPE), written as GAE over those greedy values (`core.returns.gae`: GAE + V is the
λ-return; the on-policy recipe of PQN, Gallici et al. 2024, which JaxMARL applies to
VDN). The targets are computed once per rollout;
then `n_epochs` passes of minibatches minimise mean (Q_tot(s, u) − G^λ)². The team's
reward is the mean of its present agents' rewards (in a cooperative game all agents get
the same one). The paper versions learn off-policy from a replay buffer of episodes,
with target networks and recurrent agents; those are not built here.
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
    probability_schedule,
)
from ascent.algos.optim import make_optimizer, schedule_fn, set_lr
from ascent.algos.protocol import Algorithm
from ascent.algos.sequence import flatten_time, shuffled_minibatches
from ascent.buffers import Rollout
from ascent.core.losses import value_loss
from ascent.core.returns import gae
from ascent.core.targets import polyak_update
from ascent.envs.multiagent import MultiAgentSpaces
from ascent.errors import ConfigError
from ascent.marl.team import TeamFields, check_team_spaces, example_obs
from ascent.nn.heads import allowed_actions
from ascent.nn.mixers import MIXERS, make_mixer
from ascent.nn.multiagent import TeamQNet


@dataclass(frozen=True)
class VDNConfig(OnPolicyConfig, TeamFields):
    """VDN settings: agents' Q-networks, the mixer, ε-greedy exploration and Q(λ)."""

    mixer: str = "vdn"
    """How agents' values join into the team's: vdn (their sum) or qmix (a monotonic
    mixing network on the global state)."""
    mixer_embed: int = 32
    """qmix: width of the mixing network's hidden layer."""
    n_steps: int = 25
    """Steps T per environment in each rollout."""
    lr: ScheduleLike = 5e-4
    """Learning rate (a number or a schedule)."""
    gae_lambda: float = 0.8
    """λ of the Q(λ) targets: 0 is one-step Q-learning."""
    epsilon: ScheduleLike = "linear(1.0, 0.05)"
    """Probability of a uniformly random allowed action (a number or a schedule)."""
    n_epochs: int = 2
    """Passes over each rollout."""
    minibatch_size: int = 100
    """Joint steps (each with all its agents) per gradient step."""
    max_grad_norm: float = 10.0
    """Clip the global gradient norm to this value (inf: no clipping)."""
    tau: float = 0.05
    """Polyak rate of the target network, once per update (1: no target network)."""
    activation: str = "relu"
    """Activation of the hidden layers: tanh, relu, elu, gelu or silu."""

    memory_policies: ClassVar[bool] = False

    def validate(self) -> None:
        super().validate()
        in_unit_interval(self, "gae_lambda", "tau")
        positive(self, "n_epochs", "minibatch_size", "mixer_embed")
        positive_schedule(self, "lr")
        probability_schedule(self, "epsilon")
        if self.mixer not in MIXERS:
            raise ConfigError(f"mixer must be one of {', '.join(MIXERS)}; got {self.mixer!r}")
        if self.minibatch_size > self.batch_size:
            raise ConfigError(
                f"minibatch_size ({self.minibatch_size}) must be at most n_steps × n_envs "
                f"({self.n_steps} × {self.n_envs} = {self.batch_size})"
            )
        self.check_team()


@dataclass(frozen=True)
class QMIXConfig(VDNConfig):
    """QMIX settings: VDN's, with the monotonic mixing network."""

    mixer: str = "qmix"
    """How agents' values join into the team's: vdn (their sum) or qmix (a monotonic
    mixing network on the global state)."""


class VDNState(NamedTuple):
    params: Any  # {"agents": ..., "mixer": ...}
    target_params: Any  # the same, trailing params (the bootstraps' network)
    opt_state: Any
    updates: jax.Array


class VDN(Algorithm):
    """Value decomposition networks: Q_tot = Σ_a Q_a, each agent greedy on its own Q_a."""

    name = "vdn"
    Config = VDNConfig
    multi_agent = True
    action_spaces = ("Discrete",)  # each agent's

    def __init__(self, config: VDNConfig, spaces: MultiAgentSpaces):
        check_team_spaces(self.name, spaces)
        self.config = config
        self.spaces = spaces
        self.qnet = TeamQNet(
            n_agents=spaces.n_agents,
            n_actions=int(spaces.action_space.n),
            hidden=config.hidden,
            activation=config.activation,
            hidden_gain=config.hidden_gain,
            share_parameters=config.share_parameters,
            agent_ids=config.agent_ids,
        )
        self.mixer = make_mixer(config.mixer, spaces.n_agents, config.mixer_embed)
        self.optimizer = make_optimizer(config.max_grad_norm)
        self.lr = schedule_fn(config.lr, config.total_updates)
        self.epsilon = schedule_fn(config.epsilon, config.total_updates)

    def init(self, key: jax.Array) -> VDNState:
        agents_key, mixer_key = jax.random.split(key)
        obs = example_obs(self.spaces)
        q = self.qnet.init(agents_key, obs)
        mixer = self.mixer.init(mixer_key, jnp.zeros((1, 1, self.spaces.n_agents)),
                                jnp.asarray(obs.global_state))  # fmt: skip
        params = {"agents": q, "mixer": mixer}
        opt_state = self.optimizer.init(params)
        return VDNState(params, params, opt_state, jnp.zeros((), jnp.int32))

    def act(
        self, state: VDNState, obs: Any, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        """ε-greedy on each agent's own Q over its allowed actions: (actions [..., A],
        log of their ε-greedy probability)."""
        allowed = allowed_actions(obs.action_mask)
        q = jnp.where(allowed, self.qnet.apply(state.params["agents"], obs), -jnp.inf)
        greedy = jnp.argmax(q, axis=-1).astype(jnp.int32)
        if deterministic:
            return greedy, jnp.zeros(greedy.shape)
        eps = self.epsilon(state.updates)
        explore_key, pick_key = jax.random.split(key)
        uniform = jax.random.categorical(pick_key, jnp.where(allowed, 0.0, -jnp.inf)).astype(
            jnp.int32
        )
        explore = jax.random.uniform(explore_key, greedy.shape) < eps
        action = jnp.where(explore, uniform, greedy)
        n_allowed = allowed.sum(axis=-1)
        prob = eps / n_allowed + (1.0 - eps) * (action == greedy)
        return action, jnp.log(prob)

    def team_value(self, params: Any, obs: Any, actions: jax.Array | None) -> jax.Array:
        """Q_tot(s, u) [...] of the joint `actions` [..., A], or (actions None) the greedy
        max_u Q_tot(s, u) = mixer(max Q_a). Absent agents count as Q_a = 0."""
        q = self.qnet.apply(params["agents"], obs)  # [..., A, n]
        if actions is None:
            chosen = jnp.max(jnp.where(allowed_actions(obs.action_mask), q, -jnp.inf), axis=-1)
        else:
            chosen = jnp.take_along_axis(q, actions[..., None], axis=-1)[..., 0]
        chosen = jnp.where(obs.active, chosen, 0.0)  # [..., A]
        return self.mixer.apply(params["mixer"], chosen, jnp.asarray(obs.global_state))

    def targets(self, params: Any, rollout: Rollout) -> jax.Array:
        """Peng's Q(λ) targets G^λ [T, N] with the greedy bootstraps of `params` (GAE + V
        over greedy values: G_t = r_t + γ[(1 − λ) max Q_tot(s_{t+1}) + λ G_{t+1}])."""
        active = rollout.obs.active
        team_reward = masked_mean_agents(rollout.rewards, active)  # [T, N]
        greedy = self.team_value(params, rollout.obs, None)
        greedy_next = self.team_value(params, rollout.next_obs, None)
        advantages = gae(
            rewards=team_reward,
            values=greedy,
            next_values=greedy_next,
            terminated=rollout.terminated,
            truncated=rollout.truncated,
            gamma=self.config.gamma,
            gae_lambda=self.config.gae_lambda,
        )
        return jax.lax.stop_gradient(advantages + greedy)

    def update(self, state: VDNState, rollout: Rollout, key: jax.Array) -> tuple[VDNState, dict]:
        """Q(λ) targets from the rollout, then `n_epochs` passes of shuffled minibatches of
        joint steps, each an `apply(state, grads(state, minibatch))`."""
        cfg = self.config
        batch = jax.tree.map(flatten_time, {
            "obs": rollout.obs,
            "actions": rollout.actions,
            "returns": self.targets(state.target_params, rollout),
        })  # fmt: skip
        n_minibatches = cfg.batch_size // cfg.minibatch_size

        def minibatch_step(inner: VDNState, mb: dict) -> tuple[VDNState, dict]:
            grads, stats = self.grads(inner, mb, key)
            return self.apply(inner, grads), stats

        def epoch(inner: VDNState, epoch_key: jax.Array) -> tuple[VDNState, dict]:
            minibatches = shuffled_minibatches(batch, epoch_key, n_minibatches,
                                               cfg.minibatch_size)  # fmt: skip
            return jax.lax.scan(minibatch_step, inner, minibatches)

        inner, stats = jax.lax.scan(epoch, state, jax.random.split(key, cfg.n_epochs))
        metrics = jax.tree.map(jnp.mean, stats)
        metrics.update(lr=self.lr(state.updates), epsilon=self.epsilon(state.updates))
        target = polyak_update(state.target_params, inner.params, tau=cfg.tau)
        return inner._replace(target_params=target,
                              updates=optax.safe_increment(state.updates)), metrics  # fmt: skip

    def grads(self, state: VDNState, minibatch: dict, key: jax.Array) -> tuple[Any, dict]:
        """The gradient of mean (Q_tot(s, u) − G^λ)² on one minibatch of joint steps."""
        del key  # the loss is deterministic

        def loss_fn(params: Any) -> tuple[jax.Array, dict]:
            q_tot = self.team_value(params, minibatch["obs"], minibatch["actions"])
            loss, stats = value_loss(q_tot, minibatch["returns"])
            return loss, {"q_tot": jnp.mean(q_tot), **stats}

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        return grads, {"loss": loss, "value_loss": loss, **stats}

    def apply(self, state: VDNState, grads: Any) -> VDNState:
        """One optimiser step; the update count (the schedules' clock) moves per update."""
        opt_state = set_lr(state.opt_state, self.lr(state.updates))
        step, opt_state = self.optimizer.update(grads, opt_state, state.params)
        return state._replace(params=optax.apply_updates(state.params, step), opt_state=opt_state)


class QMIX(VDN):
    """QMIX: VDN with the monotonic mixing network on the global state."""

    name = "qmix"
    Config = QMIXConfig


def masked_mean_agents(x: jax.Array, active: jax.Array) -> jax.Array:
    """The mean of x [..., A] over the agents present (`active` [..., A]): [...]."""
    present = active.astype(x.dtype)
    return jnp.sum(x * present, axis=-1) / jnp.maximum(present.sum(axis=-1), 1.0)
