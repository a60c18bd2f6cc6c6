"""The host door: N Gymnasium environments stepped from Python, numpy in and out."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError

# The pip extra that provides each family of Gymnasium environments, by entry-point package.
_EXTRAS = {"box2d": "box2d", "mujoco": "mujoco"}


def _missing_dependency(env_id: str, error: Exception) -> EnvError:
    spec = gymnasium.registry.get(env_id)
    entry = str(spec.entry_point) if spec is not None else ""
    extra = next((x for key, x in _EXTRAS.items() if f".{key}." in entry), None)
    fix = f"pip install 'gymnasium[{extra}]'" if extra else "install the package it names"
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return EnvError(f"{env_id} needs an optional dependency ({first}); {fix}")


def _float32_box(space: spaces.Space) -> spaces.Space:
    # Observations leave the door as float32, so the declared space says so too.
    if isinstance(space, spaces.Box) and space.dtype != np.float32:
        return spaces.Box(
            space.low.astype(np.float32), space.high.astype(np.float32), space.shape, np.float32
        )
    return space


class HostVecEnv:
    """N Gymnasium environments with same-step autoreset.

    `reset(seed) -> obs [N, *obs_shape]`;
    `step(actions) -> (obs, reward [N], terminated [N], truncated [N], next_obs)`.
    `obs` is what to act on next (a new episode's first observation in rows that just
    ended); `next_obs` is the observation each step truly led to. When no row ended,
    `next_obs` is the same array as `obs`: treat both as read-only.
    """

    def __init__(self, env_id: str, n_envs: int = 1, seed: int = 0, **make_kwargs: Any) -> None:
        if n_envs < 1:
            raise EnvError(f"n_envs must be at least 1, got {n_envs}")
        try:
            self._env = gymnasium.make_vec(
                env_id,
                num_envs=n_envs,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP},
                **make_kwargs,
            )
        except (gymnasium.error.DependencyNotInstalled, ImportError) as e:
            raise _missing_dependency(env_id, e) from e
        self.env_id = env_id
        self.n_envs = n_envs
        self.seed = seed
        self.observation_space = _float32_box(self._env.single_observation_space)
        self.action_space = self._env.single_action_space
        self.action_space.seed(seed)
        spec = gymnasium.registry.get(env_id)
        default_steps = spec.max_episode_steps if spec is not None else None
        self.max_episode_steps: int | None = make_kwargs.get("max_episode_steps", default_steps)
        self._action_dtype = (
            np.int64 if isinstance(self.action_space, spaces.Discrete) else np.float32
        )
        self._was_reset = False

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start every environment; the first reset uses the constructor's seed.

        Environment i is seeded with `seed + i`. Returns obs `[N, *obs_shape]` float32.
        """
        if seed is None and not self._was_reset:
            seed = self.seed
        self._was_reset = True
        obs, _ = self._env.reset(seed=seed)
        return np.asarray(obs, np.float32)

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step all N environments with `actions` `[N]` (Discrete) or `[N, *act_shape]` (Box)."""
        obs, reward, terminated, truncated, info = self._env.step(
            np.asarray(actions, self._action_dtype)
        )
        obs = np.asarray(obs, np.float32)
        next_obs = obs
        # The info dict is empty unless some row ended: one lookup on the hot path.
        if info and "_final_obs" in info:
            next_obs = obs.copy()
            final_obs = info["final_obs"]
            for i in np.flatnonzero(info["_final_obs"]):
                next_obs[i] = final_obs[i]
        return (
            obs,
            reward.astype(np.float32),
            np.asarray(terminated, np.bool_),
            np.asarray(truncated, np.bool_),
            next_obs,
        )

    def close(self) -> None:
        self._env.close()

    def __enter__(self) -> HostVecEnv:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HostVecEnv({self.env_id!r}, n_envs={self.n_envs})"
