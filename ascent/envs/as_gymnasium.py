"""One JAX task stepped from Python as a `gymnasium.Env`, so that other libraries
(Stable-Baselines3, Gymnasium's wrappers and checkers) can use Ascent's tasks:
`gymnasium.make("ascent/TMaze-v0")` after `import ascent` gives one (registered there
under `ENTRY_POINT`, which imports this module only when an environment is made).

The compiled loop never goes through here: it vmaps the `JaxEnv` itself.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.envs.jax_env import JaxEnv
from ascent.envs.multiagent import is_multiagent
from ascent.envs.registry import make
from ascent.errors import EnvError

ENTRY_POINT = "ascent.envs.as_gymnasium:GymnasiumTask"


def as_space(value: Any, space: spaces.Space) -> Any:
    """A JAX observation as `space` holds it: numpy arrays of the space's dtypes, in
    its dicts and tuples."""
    if isinstance(space, spaces.Dict):
        return {name: as_space(value[name], sub) for name, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(as_space(v, sub) for v, sub in zip(value, space.spaces, strict=True))
    return np.asarray(value, space.dtype)


class GymnasiumTask(gymnasium.Env):
    """`env` (a single-agent `JaxEnv`, or an id `make` turns into one, with its `options`)
    as a Gymnasium environment: `reset` and `step` compiled once, their keys drawn
    from the environment's seeded generator, so `reset(seed=s)` repeats an episode.

    The spaces are the task's own objects, so `action_space.seed(s)` holds. `step`
    returns the observation the step led to (the task's `next_obs`), also at an
    episode's end; call `reset` then, as with any Gymnasium environment.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - Gymnasium's own attribute

    def __init__(self, env: JaxEnv | str, render_mode: str | None = None, **options: Any):
        task = make(env, **options) if isinstance(env, str) else env
        label = getattr(task, "env_id", type(task).__name__)
        if is_multiagent(task) or not isinstance(task, JaxEnv):
            raise EnvError(
                f"{label} is not a single-agent JAX task; a team task is a PettingZoo "
                "ParallelEnv (ascent.envs.as_pettingzoo.PettingZooTeam)"
            )
        if render_mode is not None:
            raise EnvError(f"{label} has no render modes, got render_mode={render_mode!r}")
        self.task = task
        self.render_mode = None
        self.observation_space = task.observation_space
        self.action_space = task.action_space
        self._reset = jax.jit(task.reset)
        self._step = jax.jit(task.step)
        self._key: jax.Array | None = None
        self._state: Any = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._key, key = jax.random.split(jax.random.PRNGKey(self.np_random.integers(2**31)))
        obs, self._state = self._reset(key)
        return as_space(obs, self.observation_space), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._key is None:
            raise gymnasium.error.ResetNeeded("call reset before step")
        self._key, key = jax.random.split(self._key)
        action = jax.tree.map(jnp.asarray, action)
        _, self._state, reward, terminated, truncated, next_obs = self._step(
            key, self._state, action
        )
        obs = as_space(next_obs, self.observation_space)
        return obs, float(reward), bool(terminated), bool(truncated), {}
