"""The JAX door for several agents: one unbatched multi-agent environment as pure
functions, agents the leading axis of every per-agent array, reset inside `step`.

Like `jax_env.JaxEnv`, with three differences. Actions, rewards and observations
carry an agents axis first (`[A, ...]`). Agents with smaller spaces are padded to the
largest: observations with zeros, actions with choices that `action_mask` forbids.
Beside the agents' observations, every step returns the global state a centralised
critic reads (the joined observations where the environment has no state of its own).
Flags stay scalars: the agents' episode ends together. A slot of the agents axis with
no agent in it at this step (a team smaller than the largest, or an agent that has left
the episode) is marked `active = False`: its action is ignored, its reward is 0, and
it takes no part in any loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError


class AgentObs(NamedTuple):
    """What the agents see at one step, agents first."""

    obs: jax.Array  # [A, obs_dim] float32, each agent's own (padded) observation
    global_state: jax.Array  # [state_dim] float32, for centralised critics
    action_mask: jax.Array  # [A, n_actions] bool, True where the action is allowed
    active: jax.Array  # [A] bool, False for a padded slot (no agent there at this step)


@runtime_checkable
class MultiAgentJaxEnv(Protocol):
    """A multi-agent environment with pure `reset`/`step` and automatic reset in `step`."""

    agents: tuple[str, ...]
    observation_space: gymnasium.spaces.Box  # one agent's, padded to the largest
    action_space: gymnasium.spaces.Discrete  # one agent's, padded to the largest
    state_space: gymnasium.spaces.Box  # the global state's
    env_id: str
    max_episode_steps: int | None

    def reset(self, key: jax.Array) -> tuple[AgentObs, Any]:
        """Start an episode: returns `(agent_obs, env_state)`."""
        ...

    def step(
        self, key: jax.Array, env_state: Any, actions: jax.Array
    ) -> tuple[AgentObs, Any, jax.Array, jax.Array, jax.Array, AgentObs]:
        """Advance one step with `actions` `[A]`: returns `(agent_obs, env_state,
        rewards [A], terminated, truncated, next_agent_obs)`, with `next_agent_obs` and
        `agent_obs` as `next_obs` and `obs` of `JaxEnv.step`."""
        ...


def check_multiagent_env(env: MultiAgentJaxEnv) -> None:
    """EnvError, in one line, unless `env`'s reset and step give what its spaces say.
    Checked on shapes only (`jax.eval_shape`: nothing is compiled or run)."""
    label = getattr(env, "env_id", type(env).__name__)
    n_agents, n_actions = len(env.agents), int(env.action_space.n)
    key = jax.random.PRNGKey(0)
    try:
        first, state = jax.eval_shape(env.reset, key)
        out = jax.eval_shape(env.step, key, state, jnp.zeros(n_agents, jnp.int32))
    except Exception as e:  # noqa: BLE001 - the environment's own failure, in one line
        line = str(e).splitlines()[0] if str(e) else ""
        raise EnvError(f"{label}: reset or step fails on actions 0: {type(e).__name__}: {line}"
                       ) from None  # fmt: skip
    if not isinstance(out, tuple) or len(out) != 6:
        raise EnvError(f"{label}: step must return (agent_obs, env_state, rewards, terminated, "
                       "truncated, next_agent_obs)")  # fmt: skip
    expected = {
        "obs": (n_agents, *env.observation_space.shape),
        "global_state": tuple(env.state_space.shape),
        "action_mask": (n_agents, n_actions),
        "active": (n_agents,),
    }
    for where, seen in (("reset", first), ("step", out[0]), ("next", out[5])):
        for field, shape in expected.items():
            got = tuple(getattr(seen, field).shape)
            if got != shape:
                raise EnvError(f"{label}: {where}'s {field} has shape {got}, expected {shape}")
    if tuple(out[2].shape) != (n_agents,):
        raise EnvError(f"{label}: rewards have shape {tuple(out[2].shape)}, expected "
                       f"({n_agents},): one per agent")  # fmt: skip
    for name, value in zip(("terminated", "truncated"), out[3:5], strict=True):
        if tuple(value.shape) != ():
            raise EnvError(f"{label}: {name} has shape {tuple(value.shape)}, expected a scalar")


class MultiAgentSpaces(NamedTuple):
    """What a multi-agent algorithm is built from: the agents' names and one agent's
    (padded) observation and action spaces, with the global state's space."""

    agents: tuple[str, ...]
    observation_space: gymnasium.spaces.Box
    action_space: gymnasium.spaces.Discrete
    state_space: gymnasium.spaces.Box

    @classmethod
    def of(cls, env: Any) -> MultiAgentSpaces:
        return cls(tuple(env.agents), env.observation_space, env.action_space, env.state_space)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    def zeros(self, n: int) -> AgentObs:
        """An all-zero observation of n environments as numpy arrays [n, A, ...] (what
        the host door preallocates)."""
        a, n_actions = self.n_agents, int(self.action_space.n)
        return AgentObs(
            obs=np.zeros((n, a, *self.observation_space.shape), np.float32),
            global_state=np.zeros((n, *self.state_space.shape), np.float32),
            action_mask=np.zeros((n, a, n_actions), bool),
            active=np.zeros((n, a), bool),
        )


def padded_box(bounds: list[tuple[np.ndarray, np.ndarray]]) -> spaces.Box:
    """One agent's observation space, padded: the float32 Box `[max obs_dim]` holding
    every agent's flattened observation followed by zeros. `bounds`: each agent's
    (low, high)."""
    dim = max(int(np.size(low)) for low, _ in bounds)
    lows, highs = np.zeros((len(bounds), dim), np.float32), np.zeros((len(bounds), dim), np.float32)
    for a, (low, high) in enumerate(bounds):
        lows[a, : np.size(low)] = np.asarray(low, np.float32).reshape(-1)
        highs[a, : np.size(high)] = np.asarray(high, np.float32).reshape(-1)
    return spaces.Box(lows.min(0), highs.max(0), (dim,), np.float32)


def is_multiagent(env: object) -> bool:
    """True for an environment of several agents, on either door (a `MultiAgentJaxEnv`,
    or PettingZoo environments stepped from Python): it has `agents` and a `state_space`."""
    return hasattr(env, "agents") and hasattr(env, "state_space")


@dataclass(frozen=True)
class CutChannel:
    """`env` with entries `dims` of agent `agent`'s observation set to 0 at every step:
    the ablation of a communication channel (e.g. the listener's last 3 entries in MPE's
    speaker-listener, the speaker's message). Only the agent's own observation is cut, the
    one its policy acts on; the global state a centralised critic reads during training is
    left as the environment gives it. Hashable when `env` is, so it is a static constant
    under `jit` like the environment it wraps."""

    env: Any
    agent: str
    dims: tuple[int, ...]

    def __post_init__(self) -> None:
        label = getattr(self.env, "env_id", type(self.env).__name__)
        if self.agent not in self.env.agents:
            raise EnvError(f"{label}: no agent '{self.agent}' to cut the channel of; agents: "
                           f"{', '.join(self.env.agents)}")  # fmt: skip
        width = self.env.observation_space.shape[0]
        if not self.dims or any(not 0 <= d < width for d in self.dims):
            raise EnvError(f"{label}: dims to cut must be entries of the observation, 0 to "
                           f"{width - 1}; got {self.dims}")  # fmt: skip

    def __getattr__(self, name: str) -> Any:  # agents, spaces, max_episode_steps
        if name.startswith("__") or name in ("env", "agent", "dims"):
            raise AttributeError(name)  # not there yet (a copy being built)
        return getattr(self.env, name)

    @property
    def env_id(self) -> str:
        return f"{self.env.env_id}, {self.agent}'s channel cut"

    def _cut(self, seen: AgentObs) -> AgentObs:
        row = self.env.agents.index(self.agent)
        keep = np.ones(seen.obs.shape, bool)
        keep[row, list(self.dims)] = False
        return seen._replace(obs=jnp.where(jnp.asarray(keep), seen.obs, 0.0))

    def reset(self, key: jax.Array) -> tuple[AgentObs, Any]:
        seen, state = self.env.reset(key)
        return self._cut(seen), state

    def step(
        self, key: jax.Array, env_state: Any, actions: jax.Array
    ) -> tuple[AgentObs, Any, jax.Array, jax.Array, jax.Array, AgentObs]:
        seen, state, rewards, terminated, truncated, last = self.env.step(key, env_state, actions)
        return self._cut(seen), state, rewards, terminated, truncated, self._cut(last)
