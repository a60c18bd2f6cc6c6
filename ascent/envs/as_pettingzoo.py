"""A team task (a `MultiAgentJaxEnv`: `ascent/Climbing-v0`, `ascent/Penalty-v0`,
`ascent/Signalling-v0`, a JaxMARL environment) stepped from Python as a PettingZoo
`ParallelEnv`, for libraries that take those. Needs PettingZoo (the `marl` extra).

The compiled loop never goes through here: it vmaps the `MultiAgentJaxEnv` itself.
"""

from __future__ import annotations

import copy
from typing import Any

import jax
import numpy as np
from pettingzoo import ParallelEnv

from ascent.envs.multiagent import AgentObs, MultiAgentJaxEnv, is_multiagent
from ascent.envs.registry import make
from ascent.errors import EnvError


class PettingZooTeam(ParallelEnv):
    """`env` (a `MultiAgentJaxEnv`, or an id `make` turns into one, with its `options`)
    as a PettingZoo parallel environment: `reset` and `step` compiled once, their keys
    drawn from a generator that `reset(seed=s)` seeds.

    Each agent observes its row of the task's (padded) observations and picks from the
    task's (padded) actions; its `info` holds `action_mask`, the actions allowed next.
    Every agent has its own space objects, the same ones on every call, so seeding one
    holds. An agent leaves `agents` when the episode ends or its slot turns inactive;
    `state()` is the global state a centralised critic reads.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 - PettingZoo's own attribute
        "name": "ascent_team",
        "render_modes": [],
        "is_parallelizable": True,
    }

    def __init__(self, env: MultiAgentJaxEnv | str, **options: Any):
        task = make(env, **options) if isinstance(env, str) else env
        if not (is_multiagent(task) and isinstance(task, MultiAgentJaxEnv)):
            label = getattr(task, "env_id", type(task).__name__)
            raise EnvError(
                f"{label} is not a team JAX task; a single-agent one is a Gymnasium "
                "environment (gymnasium.make, or ascent.envs.GymnasiumTask)"
            )
        self.task = task
        self.render_mode = None
        self.possible_agents = list(task.agents)
        self.agents: list[str] = []
        self.observation_spaces = {a: copy.deepcopy(task.observation_space) for a in task.agents}
        self.action_spaces = {a: copy.deepcopy(task.action_space) for a in task.agents}
        self.state_space = task.state_space
        self._reset = jax.jit(task.reset)
        self._step = jax.jit(task.step)
        self._rng = np.random.default_rng()
        self._key: jax.Array | None = None
        self._state: Any = None
        self._seen: AgentObs | None = None

    def observation_space(self, agent: str) -> Any:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> Any:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._key, key = jax.random.split(jax.random.PRNGKey(self._rng.integers(2**31)))
        seen, self._state = self._reset(key)
        self._seen = seen = jax.tree.map(np.asarray, seen)
        self.agents = [a for a, on in zip(self.possible_agents, seen.active, strict=True) if on]
        return self._observations(seen, self.agents), self._infos(seen, self.agents)

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        if self._key is None:
            raise EnvError("call reset before step")
        # an absent agent's slot gets action 0, which the task ignores for an inactive slot
        chosen = np.array([actions.get(a, 0) for a in self.possible_agents], np.int32)
        self._key, key = jax.random.split(self._key)
        _, self._state, rewards, terminated, truncated, last = self._step(key, self._state, chosen)
        self._seen = last = jax.tree.map(np.asarray, last)
        acting = self.agents
        row = {a: i for i, a in enumerate(self.possible_agents)}
        ended = {a: bool(terminated) or not last.active[row[a]] for a in acting}
        rewards = {a: float(rewards[row[a]]) for a in acting}
        cut = dict.fromkeys(acting, bool(truncated))
        self.agents = [] if terminated or truncated else [a for a in acting if not ended[a]]
        return self._observations(last, acting), rewards, ended, cut, self._infos(last, acting)

    def state(self) -> np.ndarray:
        if self._seen is None:
            raise EnvError("call reset before state")
        return self._seen.global_state

    def _observations(self, seen: AgentObs, agents: list[str]) -> dict[str, np.ndarray]:
        return {a: seen.obs[self.possible_agents.index(a)] for a in agents}

    def _infos(self, seen: AgentObs, agents: list[str]) -> dict[str, dict[str, Any]]:
        return {a: {"action_mask": seen.action_mask[self.possible_agents.index(a)]} for a in agents}
