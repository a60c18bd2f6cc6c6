"""Evaluation: run whole episodes with the current policy and report their returns.

Each door gets a fixed quota of episodes per environment, so short episodes are not
over-represented (the bias of "stop after the first E episodes to finish").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ascent.buffers import set_row
from ascent.core.shapes import broadcast_flags
from ascent.envs import HostVecEnv, env_action, is_multiagent
from ascent.runtime import CachedJit
from ascent.train.acting import next_starts
from ascent.train.loop import Loop, LoopState


@dataclass(frozen=True)
class EvalResult:
    """Each episode's return and length. For a team, `returns` are the returns per agent
    (each episode's mean over its agents) and `agent_returns` has every agent's own, by
    name (None for one agent)."""

    returns: list[float]
    lengths: list[int]
    agent_returns: dict[str, list[float]] | None = None

    @classmethod
    def of(
        cls, returns: np.ndarray, lengths: np.ndarray, agents: tuple[str, ...] | None
    ) -> EvalResult:
        """From returns [E] (one agent) or [E, A] (a team of `agents`) and lengths [E]."""
        returns, lengths = np.asarray(returns, np.float64), np.asarray(lengths)
        if agents is None:
            return cls(returns.tolist(), lengths.tolist())
        by_agent = {name: returns[:, i].tolist() for i, name in enumerate(agents)}
        return cls(returns.mean(axis=1).tolist(), lengths.tolist(), by_agent)

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mean_return": self.mean_return,
            "std_return": self.std_return,
            "returns": [float(r) for r in self.returns],
            "lengths": [int(n) for n in self.lengths],
            "episodes": len(self.returns),
        }
        if self.agent_returns is not None:
            means = {k: float(np.mean(r)) for k, r in self.agent_returns.items()}
            out["team_mean_return"] = float(sum(means.values()))
            out["agent_mean_returns"] = means
            out["agent_returns"] = {k: [float(x) for x in r] for k, r in self.agent_returns.items()}
        return out


class Evaluator:
    """Evaluates a loop's policy on fresh copies of its training environment, with the
    normalisation statistics of the state frozen.

    JAX door: one episode in each of `episodes` vmapped environments, in one
    compiled loop (compiled once per episode count). Host door: new Gymnasium
    environments made from the same id, each with its quota of episodes. A memory
    policy carries its state through each episode, from the initial state.
    """

    def __init__(self, loop: Loop, max_steps: int = 100_000):
        self.loop = loop
        self.env = loop.env
        self.max_steps = max_steps
        self.agents = tuple(self.env.agents) if is_multiagent(self.env) else None
        self._compiled: dict[tuple[int, bool], Any] = {}

    def __call__(
        self, state: LoopState, episodes: int, seed: int, *, deterministic: bool = True
    ) -> EvalResult:
        if isinstance(self.env, HostVecEnv):
            return self._run_host(state, episodes, seed, deterministic)
        if (episodes, deterministic) not in self._compiled:
            self._compiled[episodes, deterministic] = CachedJit(
                lambda state, key: self.run_jax(state, key, episodes, deterministic)
            )
        returns, lengths = self._compiled[episodes, deterministic](state, jax.random.PRNGKey(seed))
        return EvalResult.of(returns, lengths, self.agents)

    def run_jax(
        self, state: LoopState, key: jax.Array, episodes: int, deterministic: bool
    ) -> tuple[jax.Array, jax.Array]:
        """(returns [E], lengths [E]) of one episode in each of E environments (a team's
        returns per agent, [E, A]); traceable, so it can be vmapped over seeds."""
        env = self.env
        key, reset_key = jax.random.split(key)
        obs, env_state = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))
        zeros = jnp.zeros(self._per_episode(episodes), jnp.float32)
        not_yet = jnp.zeros((episodes,), bool)
        memory = self.loop.acting.initial(episodes)
        init = (key, env_state, obs, zeros, jnp.zeros((episodes,), jnp.int32), not_yet, 0, memory)

        def running(carry: tuple) -> jax.Array:
            *_, finished, t, _ = carry
            return (~finished.all()) & (t < self.max_steps)

        def step(carry: tuple) -> tuple:
            key, env_state, obs, ret, length, finished, t, (policy_state, starts) = carry
            key, act_key, env_key = jax.random.split(key, 3)
            action, _, policy_state = self.loop.acting.step(
                state.algo, state.norm, policy_state, starts, obs, act_key, deterministic
            )
            obs, env_state, reward, terminated, truncated, _ = jax.vmap(env.step)(
                jax.random.split(env_key, episodes),
                env_state,
                env_action(action, env.action_space),
            )
            live = ~finished
            ret = ret + reward * broadcast_flags(live, reward)
            length = length + live
            finished = finished | terminated | truncated
            starts = next_starts(starts, terminated | truncated)
            return key, env_state, obs, ret, length, finished, t + 1, (policy_state, starts)

        _, _, _, ret, length, *_ = jax.lax.while_loop(running, step, init)
        return ret, length

    def _run_host(
        self, state: LoopState, episodes: int, seed: int, deterministic: bool
    ) -> EvalResult:
        """`episodes` episodes in new Gymnasium environments seeded with `seed`, each
        environment running its quota (so short episodes are not favoured)."""
        returns: list[float] = []
        lengths: list[int] = []
        key = jax.random.PRNGKey(seed)
        # up to 8 at once; an environment given as an object is the only one there is
        with self.env.spawn(max(1, min(8, episodes)), seed) as env:
            n_envs = env.n_envs
            quota = np.array([episodes // n_envs + (i < episodes % n_envs) for i in range(n_envs)])
            obs = env.reset(seed=seed)
            ret = np.zeros(self._per_episode(n_envs))
            length = np.zeros(n_envs, int)
            done_count = np.zeros(n_envs, int)
            policy_state, starts = self.loop.acting.initial(n_envs)
            act = self.loop.acting.compiled(deterministic)
            while (done_count < quota).any():
                key, act_key = jax.random.split(key)
                action, _, policy_state = act(
                    state.algo, state.norm, policy_state, starts, obs, act_key
                )
                obs, reward, terminated, truncated, _ = env.step(
                    env_action(np.asarray(action), env.action_space)
                )
                ret += reward
                length += 1
                # an episode longer than max_steps ends here, as on the JAX door
                ended = terminated | truncated | (length >= self.max_steps)
                starts = next_starts(starts, ended)
                for i in np.flatnonzero(ended):
                    if done_count[i] < quota[i]:
                        returns.append(ret[i].copy())
                        lengths.append(int(length[i]))
                        done_count[i] += 1
                    ret[i], length[i] = 0.0, 0
                    if not (terminated[i] or truncated[i]):
                        set_row(obs, i, env.reset_one(i))
        return EvalResult.of(np.asarray(returns), np.asarray(lengths), self.agents)

    def _per_episode(self, n: int) -> tuple[int, ...]:
        """The shape of n episodes' returns: [n], or [n, A] for a team."""
        return (n,) if self.agents is None else (n, len(self.agents))
