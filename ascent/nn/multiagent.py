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

The same choices, through one helper (`per_agent`), shape `TeamActor` (a policy
alone), `TeamQNet` (each agent's own Q, for VDN and QMIX) and `CounterfactualCritic`
(COMA's Q(s, (u^{-a}, ·)) for every agent) and `CentralQ` (MADDPG's Q_a(s, u) for
every agent).

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
from ascent.nn.attention import MultiHeadAttention
from ascent.nn.heads import ActionSpec, masked_logits
from ascent.nn.policies import PolicyNet, QNet, ValueNet
from ascent.nn.sequence import CoreSpec
from ascent.nn.torso import HIDDEN_GAIN, MLP

Array = jax.Array


def with_agent_ids(x: Array) -> Array:
    """x [..., A, d] with each agent's one-hot id appended: [..., A, d + A]."""
    n_agents = x.shape[-2]
    ids = jnp.broadcast_to(jnp.eye(n_agents), (*x.shape[:-1], n_agents))
    return jnp.concatenate([x, ids], axis=-1)


def per_agent(
    module: type[nn.Module],
    args: tuple[Any, ...],
    x: Array,
    *,
    share: bool,
    agent_ids: bool,
    name: str,
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """`module(*args, **kwargs)` applied to every agent's input x [..., A, d]: one network for all
    agents, each input with its one-hot id appended when `agent_ids`, or (share=False) a
    network per agent, their parameters stacked on a leading axis of length A (`nn.vmap`).
    Every output leaf comes back with the agents axis after the batch dims ([..., A, ...]).
    Call it inside a compact module."""
    n_agents = x.shape[-2]
    batch = x.shape[:-2]
    if share:
        if agent_ids:
            x = with_agent_ids(x)
        # every (batch, agent) row through the network as one 2-D batch [B·A, d]: on a
        # 3-D input a dense layer's weight gradient contracts two axes, which XLA:CPU
        # does through a transposed copy of each activation and a slower matrix product
        # (issue 32, benchmarks/results/marl_speed.md). Leaves not per row (a Gaussian's
        # log_std [D]) stay as they are.
        rows = x.reshape(-1, x.shape[-1])
        out = module(*args, **(kwargs or {}), name=name)(rows)
        return jax.tree.map(
            lambda y: (
                y.reshape(*batch, n_agents, *y.shape[1:])
                if y.ndim and y.shape[0] == rows.shape[0]
                else y
            ),
            out,
        )
    stacked = nn.vmap(  # type: ignore[arg-type]
        module,
        variable_axes={"params": 0},
        split_rngs={"params": True},
        in_axes=0,
        out_axes=0,
        axis_size=n_agents,
    )
    out = stacked(*args, **(kwargs or {}), name=name)(jnp.moveaxis(x, -2, 0))  # [A, ..., *out]
    return jax.tree.map(lambda y: jnp.moveaxis(y, 0, len(batch)), out)


class TeamActorCritic(nn.Module):
    """`(state, obs: AgentObs [..., A, ...], resets) -> (state, Categorical [..., A], V
    [..., A])`: a policy and V critic per agent.

    With the `mlp` core (the default) they are feed-forward: state None, resets unused,
    any leading dims. With a memory core (`core.kind` gru, lstm, ...: `nn.sequence`) the
    actor and the critic each put every agent's inputs (its id appended) through their
    own core before their MLP, batch-first as every core: obs [B, T, A, ...], resets
    [B, T] (the team's episode starts, every agent's), state `{"actor", "critic"}` of
    [B, A, ...] each. The core is shared by the agents (each (environment, agent) pair
    one row of it), so memory needs `share_parameters`; messages take no memory yet.

    A centralised critic shared by the agents without their ids reads the same input for
    every agent, so every agent's value is the same number: it is computed once a joint
    step and given to each agent (its state, with memory, is [B, 1, ...]); the gradient
    through the copies is the sum of theirs, as it would be through A equal rows."""

    n_agents: int
    n_actions: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    share_parameters: bool = True
    agent_ids: bool = True
    centralised_critic: bool = False
    messages: str = "none"
    num_heads: int = 2
    core: CoreSpec = CoreSpec()
    hidden_gain: float = HIDDEN_GAIN

    @property
    def action(self) -> ActionSpec:
        """Each agent's action: one of `n_actions`."""
        return ActionSpec.discrete(self.n_actions)

    def initial_state(self, batch: int) -> dict[str, Any] | None:
        """Every agent's state in `batch` environments before their first step, [batch,
        A, ...] (the critic's [batch, `critic_rows`, ...]; None for a feed-forward team;
        needs no parameters)."""
        if not self.core.stateful:
            return None

        def per_env(n: int) -> Any:  # [batch, n, ...]
            rows = self.core.initial_state(batch * n)
            return jax.tree.map(lambda s: s.reshape(batch, n, *s.shape[1:]), rows)

        return {"actor": per_env(self.n_agents), "critic": per_env(self.critic_rows)}

    @property
    def critic_rows(self) -> int:
        """The critic's rows a joint step: 1 where every agent's input is the same
        (the global state, shared parameters, no ids), else one an agent."""
        same = self.centralised_critic and self.share_parameters and not self.agent_ids
        return 1 if same else self.n_agents

    @nn.compact
    def __call__(
        self, state: dict[str, Any] | None, obs: Any, resets: Array | None
    ) -> tuple[dict[str, Any] | None, Any, Array]:
        actor_in = jnp.asarray(obs.obs, jnp.float32)  # [..., A, obs_dim]
        if self.centralised_critic:  # every agent's critic sees the one global state
            critic_in = broadcast_state(obs.global_state, self.critic_rows)
        else:
            critic_in = actor_in
        team = {"share": self.share_parameters, "agent_ids": self.agent_ids}
        gain = {"hidden_gain": self.hidden_gain}
        if state is not None:  # memory: each agent's sequence through a core shared by all
            actor, actor_in = agents_through(
                self.core.build("actor_core"), state["actor"], self._ids(actor_in), resets
            )
            critic, critic_in = agents_through(
                self.core.build("critic_core"), state["critic"], self._ids(critic_in), resets
            )
            state, team = {"actor": actor, "critic": critic}, {**team, "agent_ids": False}
        if self.messages == "none":
            dist = per_agent(PolicyNet, (self.action, None, self.hidden, self.activation),
                             actor_in, name="actor", kwargs=gain, **team)  # fmt: skip
        else:  # each agent's features, then what it hears from the others, then its policy
            features = per_agent(MLP, (self.hidden, self.activation, self.hidden_gain),
                                 actor_in, name="encoder", **team)  # fmt: skip
            heard = MessageChannel(self.hidden[-1], self.num_heads, self.messages == "cut",
                                   name="channel")(features, obs.active)  # fmt: skip
            dist = per_agent(PolicyNet, (self.action, None, (), self.activation),
                             jnp.concatenate([features, heard], axis=-1), name="actor",
                             **team)  # fmt: skip
        value = per_agent(ValueNet, (None, self.hidden, self.activation, self.hidden_gain),
                          critic_in, name="critic", **team)  # fmt: skip
        value = jnp.broadcast_to(value, jnp.shape(obs.obs)[:-1])  # [..., 1]: to every agent
        return state, Categorical(masked_logits(dist.logits, obs.action_mask)), value

    def _ids(self, x: Array) -> Array:
        """x [..., A, d] with each agent's one-hot id appended, when `agent_ids`."""
        return with_agent_ids(x) if self.agent_ids else x


def agents_through(core: nn.Module, state: Any, x: Array, resets: Array) -> tuple[Any, Array]:
    """Every agent's sequence through one shared core: state [B, A, ...], x [B, T, A, d],
    resets [B, T] (the team's) -> (state [B, A, ...], y [B, T, A, e]); each (environment,
    agent) pair is one of the core's B·A rows, reset where its team's episode starts."""
    b, t, a = x.shape[:3]
    rows = jnp.swapaxes(x, 1, 2).reshape(b * a, t, x.shape[-1])
    starts = jnp.broadcast_to(jnp.asarray(resets, bool)[:, None, :], (b, a, t)).reshape(b * a, t)
    flat = jax.tree.map(lambda s: s.reshape(b * a, *s.shape[2:]), state)
    flat, y = core(flat, rows, starts)
    y = jnp.swapaxes(y.reshape(b, a, t, y.shape[-1]), 1, 2)
    return jax.tree.map(lambda s: s.reshape(b, a, *s.shape[1:]), flat), y


MESSAGES = ("none", "attention", "cut")
"""How a team's actors talk: not at all, through `MessageChannel`, or through the same
channel with every message zeroed (its ablation, the same parameters)."""


class MessageChannel(nn.Module):
    """Targeted communication by attention (TarMAC; Das et al. 2019, §3): every agent i
    sends a message v_i with a signature k_i, computed from its features h_i; every
    receiver j asks with a query q_j and hears c_j = Σ_{i≠j} softmax_i(q_j·k_i / √d) v_i,
    over the agents present (`active`), with `num_heads` heads
    (`nn.attention.MultiHeadAttention`, scaled dot-product). Trained end to end by the
    receivers' losses. Unlike TarMAC, messages travel within the step (the agents'
    networks are feed-forward), not to the next step. With `cut`, every c_j is 0.

    features [..., A, d], active [..., A] -> heard [..., A, d]."""

    dim: int
    num_heads: int = 2
    cut: bool = False

    @nn.compact
    def __call__(self, features: Array, active: Array) -> Array:
        *batch, n_agents, dim = features.shape
        x = features.reshape(-1, n_agents, dim)  # [B, A, d]
        senders = active.reshape(-1, 1, 1, n_agents)  # [B, 1, 1, A] (heads, receivers)
        others = ~jnp.eye(n_agents, dtype=bool)  # a receiver does not hear itself
        heard = MultiHeadAttention(self.dim, self.num_heads, name="attention")(
            x, mask=senders & others
        )
        heard = heard.reshape(*batch, n_agents, self.dim)
        return jnp.zeros_like(heard) if self.cut else heard


def broadcast_state(global_state: Array, n_agents: int) -> Array:
    """The global state [..., S] as every agent's input, [..., A, S]."""
    x = jnp.asarray(global_state, jnp.float32)[..., None, :]
    return jnp.broadcast_to(x, (*x.shape[:-2], n_agents, x.shape[-1]))


def others_actions(actions: Array, n_actions: int, active: Array) -> Array:
    """For every agent a, the one-hot actions of the whole team with a's own row and the
    rows of absent agents (`active` False) zeroed, flattened: actions [..., A] int ->
    [..., A, A·n_actions] (COMA's critic input u^{-a})."""
    n_agents = actions.shape[-1]
    one_hot = jax.nn.one_hot(actions, n_actions) * active[..., None]  # [..., A, n]
    others = one_hot[..., None, :, :] * (1.0 - jnp.eye(n_agents))[..., None]  # [..., A, A, n]
    return others.reshape(*actions.shape, n_agents * n_actions)


class CounterfactualCritic(nn.Module):
    """COMA's critic (Foerster et al. 2018, §4.2): `(obs: AgentObs [..., A, ...], actions
    [..., A]) -> q [..., A, n]`, q[..., a, c] = Q(s, (u^{-a}, c)): the joint value for
    every action c of agent a with the others' actions held, in one pass per agent. Its
    input is the global state, the others' one-hot actions and (shared) a's id."""

    n_agents: int
    n_actions: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    share_parameters: bool = True
    agent_ids: bool = True
    hidden_gain: float = HIDDEN_GAIN

    @nn.compact
    def __call__(self, obs: Any, actions: Array) -> Array:
        others = others_actions(actions, self.n_actions, obs.active)
        x = jnp.concatenate([broadcast_state(obs.global_state, self.n_agents), others], axis=-1)
        team = {"share": self.share_parameters, "agent_ids": self.agent_ids}
        return per_agent(QNet, (self.n_actions, None, self.hidden, self.activation,
                                self.hidden_gain), x, name="q", **team)  # fmt: skip


def joint_actions_seen(team: Array, own: Array, active: Array) -> Array:
    """For every agent a, the team's action vectors with a's own row replaced by
    own[..., a, :] and absent agents' rows zeroed: team, own [..., A, n] -> [..., A, A, n]
    (MADDPG's critic input for agent a, its own action the one a's policy proposes)."""
    n_agents = team.shape[-2]
    mine = jnp.eye(n_agents, dtype=bool)[..., None]  # [A (whose view), A (whose row), 1]
    seen = jnp.where(mine, own[..., None, :, :], team[..., None, :, :])
    return seen * active[..., None, :, None]


class CentralQ(nn.Module):
    """MADDPG's centralised critics (Lowe et al. 2017, §4.1): `(obs: AgentObs [..., A,
    ...], joint [..., A, A, n]) -> Q [..., A]`, Q_a(s, u_1, ..., u_A) for every agent a
    from the global state and the joint action as a sees it (`joint_actions_seen`), the
    actions as one-hot (or relaxed) vectors so a's policy gradient flows through its own."""

    n_agents: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "relu"
    share_parameters: bool = True
    agent_ids: bool = True
    hidden_gain: float = HIDDEN_GAIN

    @nn.compact
    def __call__(self, obs: Any, joint: Array) -> Array:
        flat = joint.reshape(*joint.shape[:-2], -1)  # [..., A, A·n]
        x = jnp.concatenate([broadcast_state(obs.global_state, self.n_agents), flat], axis=-1)
        team = {"share": self.share_parameters, "agent_ids": self.agent_ids}
        return per_agent(ValueNet, (None, self.hidden, self.activation, self.hidden_gain), x,
                         name="q", **team)  # fmt: skip


class TeamActor(nn.Module):
    """`obs: AgentObs [..., A, ...] -> Categorical [..., A]`: each agent's policy from its
    own observation, forbidden actions at logit −inf (COMA's actor)."""

    n_agents: int
    n_actions: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    share_parameters: bool = True
    agent_ids: bool = True
    hidden_gain: float = HIDDEN_GAIN

    @property
    def action(self) -> ActionSpec:
        """Each agent's action: one of `n_actions`."""
        return ActionSpec.discrete(self.n_actions)

    @nn.compact
    def __call__(self, obs: Any) -> Categorical:
        team = {"share": self.share_parameters, "agent_ids": self.agent_ids}
        dist = per_agent(PolicyNet, (self.action, None, self.hidden, self.activation),
                         jnp.asarray(obs.obs, jnp.float32), name="actor",
                         kwargs={"hidden_gain": self.hidden_gain}, **team)  # fmt: skip
        return Categorical(masked_logits(dist.logits, obs.action_mask))


class TeamQNet(nn.Module):
    """`obs: AgentObs [..., A, ...] -> Q [..., A, n]`: each agent's own action values from
    its own observation (the agent networks of VDN and QMIX). Forbidden actions are not
    masked here: `greedy` does it."""

    n_agents: int
    n_actions: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "relu"
    share_parameters: bool = True
    agent_ids: bool = True
    hidden_gain: float = HIDDEN_GAIN

    @nn.compact
    def __call__(self, obs: Any) -> Array:
        team = {"share": self.share_parameters, "agent_ids": self.agent_ids}
        return per_agent(QNet, (self.n_actions, None, self.hidden, self.activation,
                                self.hidden_gain), jnp.asarray(obs.obs, jnp.float32),
                         name="q", **team)  # fmt: skip
