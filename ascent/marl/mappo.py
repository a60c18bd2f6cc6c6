"""PPO for a team: IPPO (de Witt et al. 2020) and MAPPO (Yu et al. 2022).

Both are PPO (`ascent.algos.ppo`) unchanged — the same GAE, clipped surrogate, value
loss, entropy bonus, epochs of minibatches and optimiser — over a team's rollout: every
array has the agents after the environments (`rewards [T, N, A]`), the episode flags
are the team's (`[T, N]`, shared by its agents), and a minibatch is a set of joint steps
(t, n) with all their agents. Each agent's advantage is its own GAE on its own reward
and value. Padded agent slots (`AgentObs.active` False) are left out of every mean of
the loss. What differs is the network (`ascent.nn.TeamActorCritic`):

- IPPO: each agent's critic reads its own observation, V(o_i);
- MAPPO: a centralised critic reads the global state, V(s, i) (the one-hot id makes the
  value agent-specific where the agents' rewards differ).

Both share one actor and one critic between agents by default, with a one-hot agent id
appended to every input (Yu et al. 2022, §3; `share_parameters`, `agent_ids`). With
`messages="attention"` the actors also talk: each hears the others' learned messages
through targeted attention (TarMAC, Das et al. 2019; `nn.multiagent.MessageChannel`),
trained end to end by the policy loss; `messages="cut"` is its ablation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ascent.algos.config import positive
from ascent.algos.ppo import PPO, PPOConfig
from ascent.algos.sequence import SequenceModel
from ascent.envs.multiagent import AgentObs, MultiAgentSpaces
from ascent.errors import ConfigError
from ascent.marl.team import TeamFields, check_team_spaces, example_obs
from ascent.nn.attention.mha import check_attention
from ascent.nn.multiagent import MESSAGES, TeamActorCritic


@dataclass(frozen=True)
class MAPPOConfig(PPOConfig, TeamFields):
    """Multi-agent PPO settings: PPO's, with `minibatch_size` counting joint steps (each
    with all its agents), and how the agents' networks are shared."""

    centralised_critic: bool = True
    """The critic reads the global state (MAPPO) instead of each agent's own
    observation (IPPO)."""

    messages: str = "none"
    """How the actors talk within a step: none, attention (TarMAC-style targeted messages,
    `nn.multiagent.MessageChannel`) or cut (the same channel, every message zeroed)."""
    message_heads: int = 2
    """Attention heads of the message channel."""

    memory_policies: ClassVar[bool] = True  # a core shared by the agents (TeamActorCritic)

    def validate(self) -> None:
        super().validate()
        self.check_team()
        if self.core.stateful and not self.share_parameters:
            raise ConfigError(
                f"core.kind={self.core.kind}: a team's memory core is shared by its agents; "
                "set share_parameters=true or core.kind=mlp"
            )
        if self.core.stateful and self.messages != "none":
            raise ConfigError(
                f"core.kind={self.core.kind} with messages={self.messages}: messages take "
                "feed-forward actors only for now; use one or the other"
            )
        if self.messages not in MESSAGES:
            raise ConfigError(
                f"messages must be one of {', '.join(MESSAGES)}; got {self.messages!r}"
            )
        positive(self, "message_heads")  # else a division by zero in check_attention
        if self.messages != "none":
            if not self.hidden:
                raise ConfigError("messages need hidden layers: a message is the last one")
            check_attention(self.hidden[-1], self.message_heads, "scaled_dot", "none")


@dataclass(frozen=True)
class IPPOConfig(MAPPOConfig):
    """IPPO settings: MAPPO's, with each agent's critic on its own observation."""

    centralised_critic: bool = False
    """The critic reads the global state (MAPPO) instead of each agent's own
    observation (IPPO)."""


def team_model(
    config: MAPPOConfig, spaces: MultiAgentSpaces, name: str
) -> tuple[TeamActorCritic, SequenceModel, AgentObs]:
    """(network, the network as a `SequenceModel` whose losses count active agents only,
    an all-zero observation [1, 1, A, ...] to initialise it)."""
    check_team_spaces(name, spaces)
    n, n_actions = spaces.n_agents, int(spaces.action_space.n)
    net = TeamActorCritic(
        n_agents=n,
        n_actions=n_actions,
        hidden=config.hidden,
        activation=config.activation,
        hidden_gain=config.hidden_gain,
        share_parameters=config.share_parameters,
        agent_ids=config.agent_ids,
        centralised_critic=config.centralised_critic,
        messages=config.messages,
        num_heads=config.message_heads,
        core=config.core,
    )
    model = SequenceModel(net.apply, net.initial_state, sample_mask=active_agents)
    return net, model, example_obs(spaces)


def active_agents(obs: Any) -> Any:
    """The loss mask of a team's observations: the agents present, [..., A]."""
    return obs.active


class MAPPO(PPO):
    """Multi-agent PPO with a centralised critic on the global state (Yu et al. 2022)."""

    name = "mappo"
    Config = MAPPOConfig
    multi_agent = True
    action_spaces = ("Discrete",)  # each agent's

    def __init__(self, config: MAPPOConfig, spaces: MultiAgentSpaces):
        self.spaces = spaces
        self.setup(config, *team_model(config, spaces, self.name))


class IPPO(MAPPO):
    """Independent PPO: every agent's critic on its own observation (de Witt et al. 2020).
    MAPPO's algorithm with `centralised_critic=False` as its default."""

    name = "ippo"
    Config = IPPOConfig
