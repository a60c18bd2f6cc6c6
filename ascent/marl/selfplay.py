"""Team-against-team self-play with a pool of past opponents.

A competitive environment (MPE's simple_tag: three predators, one prey) is split into
teams. `AgainstPool` is the environment as one team sees it: the other team's agents are
played by a frozen policy whose parameters are drawn from a pool at the start of every
episode. The pool is part of the environment's state (stacked parameters [K, ...]), so
a training loop swaps it between generations with `with_pool` and nothing recompiles.
Each team trains with any team algorithm (`ippo`, `mappo`, ...) against the other's
pool, the teams taking turns, and `play` scores any pair of policies against each other
(a cross-play table of generations).

A pool of only the latest opponent is plain self-play; a pool of every past generation
is fictitious self-play's sampled version (Heinrich et al. 2015; the opponent pools of
Bansal et al. 2018 and AlphaStar's league, Vinyals et al. 2019, in their simplest form).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ascent.envs.multiagent import AgentObs
from ascent.errors import EnvError

Act = Callable[[Any, AgentObs, jax.Array], jax.Array]
"""act(params, obs of a team [A_team, ...], key) -> the team's actions [A_team]."""


def team_view(obs: AgentObs, rows: Sequence[int]) -> AgentObs:
    """The agents `rows` of a team's observation (the global state is everyone's)."""
    index = jnp.asarray(rows)
    return AgentObs(
        obs=obs.obs[..., index, :],
        global_state=obs.global_state,
        action_mask=obs.action_mask[..., index, :],
        active=obs.active[..., index],
    )


def stack_pool(members: Sequence[Any]) -> Any:
    """Parameters of K policies (pytrees of one structure) stacked on a leading axis."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)


def acting(algorithm: Any, state: Any) -> Act:
    """`act(params, obs, key)` of a team algorithm: its sampled actions with `params` in
    place of `state.params` (the rest of `state`, e.g. its optimiser, is not used)."""

    def act(params: Any, obs: AgentObs, key: jax.Array) -> jax.Array:
        return algorithm.act(state._replace(params=params), obs, key)[0]

    return act


class PoolState(NamedTuple):
    inner: Any  # the wrapped environment's state
    obs: AgentObs  # every agent's latest observation (the opponents act on theirs)
    pool: Any  # opponents' parameters, stacked [K, ...]
    pick: jax.Array  # the pool member playing this episode


@dataclass(frozen=True, eq=False)  # hashed by identity: a static constant under jit
class AgainstPool:
    """`env` as the agents `team` see it, the other agents played by `opponent` with
    parameters drawn uniformly from `pool` (stacked [K, ...]) at each episode's start.
    Rewards, observations and the spaces are the team's; the global state stays whole."""

    env: Any
    team: tuple[str, ...]
    opponent: Act
    pool: Any

    def __post_init__(self) -> None:
        label = getattr(self.env, "env_id", type(self.env).__name__)
        unknown = [a for a in self.team if a not in self.env.agents]
        if unknown or not self.team or len(self.team) == len(self.env.agents):
            raise EnvError(f"{label}: a team must be some, not all, of the agents "
                           f"{', '.join(self.env.agents)}; got {self.team}")  # fmt: skip

    @classmethod
    def idle(cls, env: Any, team: Sequence[str]) -> AgainstPool:
        """The team's view with opponents that always take action 0 (MPE: no move), to
        build a team's algorithm before there is an opponent to draw from."""
        n_opponents = len(env.agents) - len(team)
        return cls(env, tuple(team), lambda p, o, k: jnp.zeros(n_opponents, jnp.int32),
                   jnp.zeros((1,)))  # fmt: skip

    def __getattr__(self, name: str) -> Any:  # spaces, max_episode_steps
        if name.startswith("__") or name in ("env", "team", "opponent", "pool"):
            raise AttributeError(name)
        return getattr(self.env, name)

    @property
    def agents(self) -> tuple[str, ...]:
        return self.team

    @property
    def env_id(self) -> str:
        return f"{self.env.env_id}, {'+'.join(self.team)} against a pool"

    @property
    def rows(self) -> tuple[int, ...]:
        return tuple(self.env.agents.index(a) for a in self.team)

    @property
    def opponent_rows(self) -> tuple[int, ...]:
        return tuple(i for i, a in enumerate(self.env.agents) if a not in self.team)

    def _pick(self, key: jax.Array, pool: Any) -> jax.Array:
        size = jax.tree.leaves(pool)[0].shape[0]
        return jax.random.randint(key, (), 0, size)

    def reset(self, key: jax.Array) -> tuple[AgentObs, PoolState]:
        env_key, pick_key = jax.random.split(key)
        obs, inner = self.env.reset(env_key)
        state = PoolState(inner, obs, self.pool, self._pick(pick_key, self.pool))
        return team_view(obs, self.rows), state

    def step(
        self, key: jax.Array, state: PoolState, actions: jax.Array
    ) -> tuple[AgentObs, PoolState, jax.Array, jax.Array, jax.Array, AgentObs]:
        opponent_key, env_key, pick_key = jax.random.split(key, 3)
        params = jax.tree.map(lambda p: p[state.pick], state.pool)
        theirs = self.opponent(params, team_view(state.obs, self.opponent_rows), opponent_key)
        joint = jnp.zeros(len(self.env.agents), jnp.int32)
        joint = joint.at[jnp.asarray(self.rows)].set(actions.astype(jnp.int32))
        joint = joint.at[jnp.asarray(self.opponent_rows)].set(theirs.astype(jnp.int32))
        obs, inner, rewards, terminated, truncated, last = self.env.step(env_key, state.inner,
                                                                         joint)  # fmt: skip
        pick = jnp.where(terminated | truncated, self._pick(pick_key, state.pool), state.pick)
        state = PoolState(inner, obs, state.pool, pick)
        rows = jnp.asarray(self.rows)
        return (team_view(obs, self.rows), state, rewards[rows], terminated, truncated,
                team_view(last, self.rows))  # fmt: skip


def with_pool(loop_state: Any, pool: Any) -> Any:
    """A training loop's state (`train.loop.LoopState` on the JAX door, environments
    [N, ...]) with every environment's opponent pool replaced by `pool` [K, ...] (same K
    and structure, so the compiled loop runs on). An episode in progress keeps the index
    it drew and meets the new pool's member there."""
    carry = loop_state.env
    old: PoolState = carry.env_state
    n_envs = old.pick.shape[0]
    new = jax.tree.map(lambda p: jnp.broadcast_to(p, (n_envs, *p.shape)), pool)
    jax.tree.map(lambda a, b: _same_shape(a.shape, b.shape), old.pool, new)
    return loop_state._replace(env=carry._replace(env_state=old._replace(pool=new)))


def _same_shape(old: tuple[int, ...], new: tuple[int, ...]) -> None:
    if old != new:
        raise ValueError(f"a new pool must have the old one's shapes: {new} against {old}")


def play(
    env: Any, teams: Sequence[tuple[Sequence[int], Act, Any]], key: jax.Array, episodes: int
) -> jax.Array:
    """Mean episode return per agent of each team [len(teams)], over `episodes` episodes
    of `env` in which team i's agents (rows of `env.agents`) act with `act_i(params_i)`.
    Every agent's row must belong to exactly one team. Pure and jittable (vmap it over
    parameters for a cross-play table)."""
    rows = [list(team[0]) for team in teams]
    if sorted(sum(rows, [])) != list(range(len(env.agents))):
        raise EnvError(f"teams {rows} must split the agents 0..{len(env.agents) - 1}")

    def episode(key: jax.Array) -> jax.Array:
        reset_key, steps_key = jax.random.split(key)
        obs, state = env.reset(reset_key)

        def step(carry: tuple, key: jax.Array) -> tuple[tuple, jax.Array]:
            obs, state, alive = carry
            keys = jax.random.split(key, len(teams) + 1)
            joint = jnp.zeros(len(env.agents), jnp.int32)
            for (team_rows, act, params), k in zip(teams, keys[1:], strict=True):
                chosen = act(params, team_view(obs, team_rows), k).astype(jnp.int32)
                joint = joint.at[jnp.asarray(team_rows)].set(chosen)
            obs, state, rewards, terminated, truncated, _ = env.step(keys[0], state, joint)
            paid = rewards * alive
            return (obs, state, alive & ~(terminated | truncated)), paid

        _, paid = jax.lax.scan(step, (obs, state, jnp.ones((), bool)),
                               jax.random.split(steps_key, env.max_episode_steps))  # fmt: skip
        total = paid.sum(axis=0)  # [A]
        return jnp.stack([total[jnp.asarray(r)].mean() for r in rows])

    return jax.vmap(episode)(jax.random.split(key, episodes)).mean(axis=0)
