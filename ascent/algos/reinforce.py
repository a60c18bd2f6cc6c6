"""REINFORCE: Monte-Carlo policy gradient with reward-to-go (Williams 1992).

∇J ≈ mean_t ∇log π(a_t|s_t)·(G_t − b(s_t)) with G_t the reward-to-go and the
baseline b none, a running mean of returns, or a learned V(s) fitted to G_t by
regression (Sutton & Barto §13.4). The reward-to-go needs the episode's end, so
steps whose episode is still running when the rollout stops are left out of the
estimate (`ends_within`); make n_steps longer than a typical episode. An episode
cut by a time limit bootstraps G from V(final observation) when V is learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import OnPolicyConfig, ScheduleLike, in_unit_interval, positive_schedule
from ascent.algos.networks import check_on_policy_spaces, sequence_policy_net, sequence_value_net
from ascent.algos.optim import make_optimizer, schedule_fn, step_parts
from ascent.algos.protocol import Algorithm
from ascent.algos.sequence import ActsThroughModel, SequenceModel
from ascent.buffers import Rollout
from ascent.core.losses import masked_mean, normalize_advantages, policy_gradient_loss, value_loss
from ascent.core.returns import discounted_returns, ends_within
from ascent.errors import ConfigError
from ascent.nn.encoders import ObsSpec

BASELINES = ("none", "mean", "learned")


@dataclass(frozen=True)
class ReinforceConfig(OnPolicyConfig):
    """REINFORCE settings."""

    n_envs: int = 2
    """Parallel environments N."""
    n_steps: int = 1000
    """Steps T per environment per rollout; unfinished episode tails are dropped."""
    lr: ScheduleLike = 1e-3
    """Policy learning rate (a number or a schedule)."""
    baseline: str = "learned"
    """none, mean (running mean of returns) or learned (a V(s) network)."""
    critic_lr: ScheduleLike = 1e-3
    """Learning rate of the learned baseline."""
    baseline_decay: float = 0.95
    """mean baseline: weight of the old value in its exponential moving average."""
    normalize_advantages: bool = False
    """Normalise G − b to zero mean, unit variance within each rollout."""

    memory_policies: ClassVar[bool] = True

    def validate(self) -> None:
        super().validate()
        if self.baseline not in BASELINES:
            raise ConfigError(
                f"baseline must be one of {', '.join(BASELINES)}; got {self.baseline!r}"
            )
        positive_schedule(self, "critic_lr")
        in_unit_interval(self, "baseline_decay")


class ReinforceState(NamedTuple):
    params: Any  # {"actor": ..., "critic": ...}
    opt_state: Any  # {"actor": ..., "critic": ...}
    mean_return: jax.Array  # the running-mean baseline
    updates: jax.Array


class ReinforceGrads(NamedTuple):
    """What `Reinforce.grads` hands to `apply`: the gradients and the baseline's new
    running mean (a statistic of the rollout the gradients came from)."""

    params: Any  # {"actor": ..., "critic": ...}
    mean_return: jax.Array


class Reinforce(ActsThroughModel, Algorithm):
    """Monte-Carlo policy gradient with reward-to-go and an optional baseline."""

    name = "reinforce"
    Config = ReinforceConfig

    def __init__(
        self, config: ReinforceConfig, observation_space: gym.Space, action_space: gym.Space
    ):
        check_on_policy_spaces(self.name, observation_space, action_space)
        self.config = config
        self.obs_spec = ObsSpec.of(observation_space, config.torso)
        # the baseline V is a network of the same kind as the policy: for a memory policy
        # it sees the same history (any function of the history keeps the estimate unbiased)
        self.actor = sequence_policy_net(config, observation_space, action_space)
        self.critic = sequence_value_net(config, observation_space)
        self.model = SequenceModel(self._forward, self._initial_state)
        self.optimizer = make_optimizer(config.max_grad_norm)
        total = config.total_updates
        self.lr = {
            "actor": schedule_fn(config.lr, total),
            "critic": schedule_fn(config.critic_lr, total),
        }
        self.ent_coef = schedule_fn(config.ent_coef, total)

    def _initial_state(self, n: int) -> dict[str, Any] | None:
        core = self.config.core
        if not core.stateful:
            return None
        return {"actor": core.initial_state(n), "critic": core.initial_state(n)}

    def _forward(
        self, params: dict, policy_state: Any, obs: jax.Array, episode_starts: Any
    ) -> tuple[Any, Any, jax.Array]:
        """(policy_state, dist, V) of the actor and the critic networks side by side."""
        if policy_state is None:
            actor = critic = None
        else:
            actor, critic = policy_state["actor"], policy_state["critic"]
        actor, dist = self.actor.apply(params["actor"], actor, obs, episode_starts)
        critic, values = self.critic.apply(params["critic"], critic, obs, episode_starts)
        new_state = None if policy_state is None else {"actor": actor, "critic": critic}
        return new_state, dist, values

    def init(self, key: jax.Array) -> ReinforceState:
        actor_key, critic_key = jax.random.split(key)
        obs = self.obs_spec.zeros((1, 1), jnp)
        starts = jnp.ones((1, 1), bool)
        state = self._initial_state(1) or {"actor": None, "critic": None}
        params = {
            "actor": self.actor.init(actor_key, state["actor"], obs, starts),
            "critic": self.critic.init(critic_key, state["critic"], obs, starts),
        }
        opt_state = {k: self.optimizer.init(p) for k, p in params.items()}
        zero = jnp.zeros((), jnp.int32)
        return ReinforceState(params, opt_state, jnp.zeros((), jnp.float32), zero)

    def update(
        self, state: ReinforceState, rollout: Rollout, key: jax.Array
    ) -> tuple[ReinforceState, dict]:
        """One gradient step on the whole rollout: `apply(state, grads(state, rollout))`."""
        grads, metrics = self.grads(state, rollout, key)
        return self.apply(state, grads), metrics

    def grads(
        self, state: ReinforceState, rollout: Rollout, key: jax.Array
    ) -> tuple[ReinforceGrads, dict]:
        """The gradients of the actor's and critic's losses on `rollout`, with the
        running mean return after it (the "mean" baseline's statistic), and metrics."""
        del key
        cfg = self.config
        learned = cfg.baseline == "learned"
        next_values = self.model.bootstrap_values(state.params, rollout) if learned else None
        returns = discounted_returns(
            rewards=rollout.rewards,
            terminated=rollout.terminated,
            truncated=rollout.truncated,
            next_values=next_values,
            gamma=cfg.gamma,
        )
        mask = ends_within(terminated=rollout.terminated, truncated=rollout.truncated).astype(
            jnp.float32
        )
        ent_coef = self.ent_coef(state.updates)
        mean_return = jnp.where(
            state.updates == 0,
            masked_mean(returns, mask),
            cfg.baseline_decay * state.mean_return
            + (1 - cfg.baseline_decay) * masked_mean(returns, mask),
        )

        def loss_fn(params: dict) -> tuple[jax.Array, dict]:
            # a memory policy reruns each environment's T steps from the stored state
            dist, values = self.model.unroll(params, rollout)
            if cfg.baseline == "learned":
                baseline = jax.lax.stop_gradient(values)
            elif cfg.baseline == "mean":
                baseline = state.mean_return  # the average before this rollout's returns
            else:
                baseline = 0.0
            advantages = returns - baseline
            if cfg.normalize_advantages:
                advantages = normalize_advantages(advantages, mask)
            pg_loss, _ = policy_gradient_loss(dist.log_prob(rollout.actions), advantages, mask)
            entropy = masked_mean(dist.entropy(), mask)
            v_loss, v_stats = value_loss(values, returns, mask=mask) if learned else (0.0, {})
            loss = pg_loss - ent_coef * entropy + v_loss
            stats = {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy, **v_stats}
            return loss, stats

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        metrics = {
            "loss": loss,
            **stats,
            "used_fraction": mask.mean(),
            "mean_return": mean_return,
            "lr": self.lr["actor"](state.updates),
            "ent_coef": ent_coef,
        }
        return ReinforceGrads(grads, mean_return), metrics

    def apply(self, state: ReinforceState, grads: ReinforceGrads) -> ReinforceState:
        """One optimiser step for the actor and one for the critic, each at its rate."""
        params, opt_state = step_parts(
            self.optimizer, self.lr, state.opt_state, state.params, grads.params, state.updates
        )
        return ReinforceState(
            params, opt_state, grads.mean_return, optax.safe_increment(state.updates)
        )
