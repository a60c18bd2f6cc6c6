"""Networks for a team of agents: agents are an axis of every input and output.

`TeamActorCritic` maps one step's `AgentObs` (`obs [..., A, obs_dim]`, `global_state
[..., state_dim]`, `action_mask [..., A, n_actions]`, `active [..., A]`) to a categorical
policy and a value for every agent, `[..., A]`. Two choices shape it:

- parameter sharing: one actor and one critic for all agents, each agent's input with
  its one-hot id appended so the shared network can still tell the seats apart (Gupta
  et al. 2017; Yu et al. 2022, §3), or a network per agent, their parameters stacked on
  a leading axis of length A (`nn.vmap`);
- the critic's input: each agent's own observation (IPPO, de Witt et al. 2020) or the
  global state (MAPPO's centralised value function, Yu et al. 2022).

Forbidden actions get a logit of −inf, so they are never sampled and their probability
is exactly 0 (`Categorical` keeps entropy and KL finite there). A padded slot (no
allowed action at all) keeps its logits: its action is ignored by the environment and
it is left out of every loss through `active`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ascent.core.distributions import Categorical
from ascent.nn.policies import PolicyNet, ValueNet

Array = jax.Array


def masked_logits(logits: Array, action_mask: Array) -> Array:
    """Logits with −inf where `action_mask` [..., n] forbids the action; a row that allows
    nothing (a padded agent) is left as it is, so its distribution stays defined."""
    allowed = action_mask | ~action_mask.any(axis=-1, keepdims=True)
    return jnp.where(allowed, logits, -jnp.inf)


class TeamActorCritic(nn.Module):
    """`(None, obs: AgentObs [..., A, ...], resets) -> (None, Categorical [..., A], V
    [..., A])`: a feed-forward policy and V critic per agent (the state and resets of the
    sequence-network signature are unused: no memory)."""

    n_agents: int
    n_actions: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    share_parameters: bool = True
    agent_ids: bool = True
    centralised_critic: bool = False

    def initial_state(self, batch: int) -> None:
        del batch
        return None

    @nn.compact
    def __call__(self, state: None, obs: Any, resets: Array | None) -> tuple[None, Any, Array]:
        del resets
        actor_in = jnp.asarray(obs.obs, jnp.float32)  # [..., A, obs_dim]
        batch = actor_in.shape[:-2]
        if self.centralised_critic:  # every agent's critic sees the one global state
            state_dim = obs.global_state.shape[-1]
            critic_in = jnp.broadcast_to(
                jnp.asarray(obs.global_state, jnp.float32)[..., None, :],
                (*batch, self.n_agents, state_dim),
            )
        else:
            critic_in = actor_in
        if self.share_parameters:
            if self.agent_ids:
                ids = jnp.broadcast_to(
                    jnp.eye(self.n_agents), (*batch, self.n_agents, self.n_agents)
                )
                actor_in = jnp.concatenate([actor_in, ids], axis=-1)
                critic_in = jnp.concatenate([critic_in, ids], axis=-1)
            dist = PolicyNet(True, self.n_actions, 1, self.hidden, self.activation, name="actor")(
                actor_in
            )
            value = ValueNet(1, self.hidden, self.activation, name="critic")(critic_in)
        else:  # one network per agent: the agents axis first, parameters stacked on it
            per_agent = {
                "variable_axes": {"params": 0},
                "split_rngs": {"params": True},
                "in_axes": 0,
                "out_axes": 0,
                "axis_size": self.n_agents,
            }
            actors = nn.vmap(PolicyNet, **per_agent)  # type: ignore[arg-type]
            critics = nn.vmap(ValueNet, **per_agent)  # type: ignore[arg-type]
            dist = actors(True, self.n_actions, 1, self.hidden, self.activation, name="actor")(
                jnp.moveaxis(actor_in, -2, 0)
            )
            dist = Categorical(jnp.moveaxis(dist.logits, 0, -2))
            value = critics(1, self.hidden, self.activation, name="critic")(
                jnp.moveaxis(critic_in, -2, 0)
            )
            value = jnp.moveaxis(value, 0, -1)
        return state, Categorical(masked_logits(dist.logits, obs.action_mask)), value
