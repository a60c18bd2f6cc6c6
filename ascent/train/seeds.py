"""Several seeds of one configuration in one compiled program (JAX door only).

`vmap` over the whole loop state: S seeds cost about one run's compile time and
share every XLA call, which is how benchmarks and sweeps run 5 seeds cheaply.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ascent.catalog.registry import algorithm_class, build_algorithm, make_config
from ascent.envs import is_jax_env
from ascent.envs import make as make_env
from ascent.errors import EnvError
from ascent.train import make_loop
from ascent.train.evaluate import Evaluator
from ascent.train.loop import LoopState


@dataclass
class SeedsResult:
    seeds: list[int]
    eval_returns: np.ndarray  # [S, episodes] (a team's: per agent, the mean over its agents)
    env_steps: np.ndarray  # [U] environment steps after each update
    episode_return: np.ndarray  # [S, U] mean return of the episodes that ended in each update
    states: LoopState  # stacked over seeds
    compile_seconds: float = 0.0  # compiling the training program
    train_seconds: float = 0.0  # running it, compiling excluded
    eval_agent_returns: np.ndarray | None = None  # [S, episodes, A], a team's, each agent's

    @property
    def mean_eval_return(self) -> np.ndarray:
        return self.eval_returns.mean(axis=1)


def train_seeds(
    algo: str,
    env: Any,
    seeds: list[int],
    overrides: dict[str, Any] | None = None,
    *,
    eval_episodes: int = 20,
    use_preset: bool = True,
) -> SeedsResult:
    """Train `len(seeds)` independent agents at once and evaluate each. `env`: an id or
    a JAX environment object (the preset is looked up by id only)."""
    env_id = env if isinstance(env, str) else getattr(env, "env_id", "")
    config = make_config(algo, env_id, overrides, use_preset=use_preset)
    env = make_env(env, n_envs=config.n_envs)
    if not is_jax_env(env):
        raise EnvError(
            f"train_seeds needs a JAX environment (gymnax/..., ascent/... or jaxmarl/...), "
            f"not {env_id}"
        )
    algorithm = build_algorithm(algorithm_class(algo), config, env)
    loop = make_loop(algorithm, env)
    seed_array = jnp.asarray(seeds, jnp.uint32)
    states = jax.jit(jax.vmap(loop.init))(seed_array)
    n_iterations = max(1, -(-config.total_steps // loop.steps_per_iteration))

    @jax.jit
    def run(states: LoopState) -> tuple[LoopState, dict]:
        def one(state: LoopState) -> tuple[LoopState, dict]:
            return jax.lax.scan(lambda s, _: loop.iterate_jax(s), state, None, length=n_iterations)

        return jax.vmap(one)(states)

    start = time.perf_counter()
    compiled = run.lower(states).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    states, metrics = jax.block_until_ready(compiled(states))
    train_seconds = time.perf_counter() - start
    evaluator = Evaluator(loop)
    eval_keys = jax.vmap(jax.random.PRNGKey)(seed_array + 1_000_003)
    returns, _ = jax.jit(jax.vmap(lambda s, k: evaluator.run_jax(s, k, eval_episodes, True)))(
        states, eval_keys
    )
    metrics = jax.device_get(metrics)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = metrics["episode_return_sum"] / metrics["episodes"]
    steps = np.arange(1, n_iterations + 1) * loop.steps_per_iteration
    returns = np.asarray(returns)
    by_agent = returns if returns.ndim == 3 else None  # a team's [S, E, A]
    if by_agent is not None:
        returns = returns.mean(axis=-1)
    return SeedsResult(
        list(seeds), returns, steps, curve, states, compile_seconds, train_seconds, by_agent
    )
