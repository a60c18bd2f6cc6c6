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

from ascent.algos.base import Algorithm
from ascent.envs import HostVecEnv, JaxEnv, clip_action


@dataclass(frozen=True)
class EvalResult:
    returns: list[float]
    lengths: list[int]

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean_return": self.mean_return,
            "std_return": self.std_return,
            "returns": [float(r) for r in self.returns],
            "lengths": [int(n) for n in self.lengths],
            "episodes": len(self.returns),
        }


class Evaluator:
    """Evaluates an algorithm's policy on fresh copies of a training environment.

    JAX door: one episode in each of `episodes` vmapped environments, in one
    compiled loop (compiled once per episode count). Host door: new Gymnasium
    environments made from the same id, each with its quota of episodes.
    """

    def __init__(self, algorithm: Algorithm, env: JaxEnv | HostVecEnv, max_steps: int = 100_000):
        self.algorithm = algorithm
        self.env = env
        self.max_steps = max_steps
        self._compiled: dict[tuple[int, bool], Any] = {}

    def __call__(
        self, algo_state: Any, episodes: int, seed: int, *, deterministic: bool = True
    ) -> EvalResult:
        if isinstance(self.env, HostVecEnv):
            return evaluate_host(
                self.algorithm,
                algo_state,
                self.env.env_id,
                episodes,
                seed,
                deterministic=deterministic,
            )
        if (episodes, deterministic) not in self._compiled:
            self._compiled[episodes, deterministic] = jax.jit(
                lambda state, key: self._run_jax(state, key, episodes, deterministic)
            )
        returns, lengths = self._compiled[episodes, deterministic](
            algo_state, jax.random.PRNGKey(seed)
        )
        return EvalResult(np.asarray(returns).tolist(), np.asarray(lengths).tolist())

    def _run_jax(
        self, algo_state: Any, key: jax.Array, episodes: int, deterministic: bool
    ) -> tuple[jax.Array, jax.Array]:
        env = self.env
        key, reset_key = jax.random.split(key)
        obs, env_state = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))
        zeros = jnp.zeros((episodes,), jnp.float32)
        not_yet = jnp.zeros((episodes,), bool)
        init = (key, env_state, obs, zeros, jnp.zeros((episodes,), jnp.int32), not_yet, 0)

        def running(carry: tuple) -> jax.Array:
            *_, finished, t = carry
            return (~finished.all()) & (t < self.max_steps)

        def step(carry: tuple) -> tuple:
            key, env_state, obs, ret, length, finished, t = carry
            key, act_key, env_key = jax.random.split(key, 3)
            action, _ = self.algorithm.act(algo_state, obs, act_key, deterministic)
            obs, env_state, reward, terminated, truncated, _ = jax.vmap(env.step)(
                jax.random.split(env_key, episodes),
                env_state,
                clip_action(action, env.action_space),
            )
            live = ~finished
            ret = ret + reward * live
            length = length + live
            finished = finished | terminated | truncated
            return key, env_state, obs, ret, length, finished, t + 1

        _, _, _, ret, length, _, _ = jax.lax.while_loop(running, step, init)
        return ret, length


def evaluate_host(
    algorithm: Algorithm,
    algo_state: Any,
    env_id: str,
    episodes: int,
    seed: int,
    *,
    deterministic: bool = True,
    n_envs: int = 8,
) -> EvalResult:
    """Run `episodes` episodes in fresh Gymnasium environments seeded with `seed`."""
    n_envs = max(1, min(n_envs, episodes))
    quota = np.array([episodes // n_envs + (i < episodes % n_envs) for i in range(n_envs)])
    act = jax.jit(algorithm.act, static_argnames="deterministic")
    returns: list[float] = []
    lengths: list[int] = []
    key = jax.random.PRNGKey(seed)
    with HostVecEnv(env_id, n_envs, seed) as env:
        obs = env.reset(seed=seed)
        ret = np.zeros(n_envs)
        length = np.zeros(n_envs, int)
        done_count = np.zeros(n_envs, int)
        while (done_count < quota).any():
            key, act_key = jax.random.split(key)
            action, _ = act(algo_state, obs, act_key, deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(
                clip_action(np.asarray(action), env.action_space)
            )
            ret += reward
            length += 1
            for i in np.flatnonzero(terminated | truncated):
                if done_count[i] < quota[i]:
                    returns.append(float(ret[i]))
                    lengths.append(int(length[i]))
                    done_count[i] += 1
                ret[i], length[i] = 0.0, 0
    return EvalResult(returns, lengths)
