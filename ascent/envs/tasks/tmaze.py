"""T-Maze: a cue at the start of a corridor decides which arm of the junction pays."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.errors import EnvError

FORWARD, UP, DOWN = 0, 1, 2


class TMazeState(NamedTuple):
    position: jax.Array  # int32 scalar, 0 .. length (the junction)
    cue: jax.Array  # int32 scalar, 0: the up arm pays, 1: the down arm pays
    time: jax.Array  # int32 scalar, steps taken in this episode


@dataclass(frozen=True)
class TMaze:
    """Walk a corridor of `length` cells to a T junction and turn towards the cued arm.

    The T-maze of Bakker 2001 ("Reinforcement learning with long short-term memory"),
    in the passive form of Ni et al. 2023 ("When do transformers shine in RL?", §5.1):
    the cue is shown only at the first step, so at the junction a policy must remember it.

    Observation, float32 [4]: [cue_up, cue_down, at_junction, 1]; the cue entries are
    one-hot at the first step of an episode and 0 afterwards, `at_junction` is 1 at cell
    `length`. Actions: Discrete(3), 0 = forward, 1 = up, 2 = down. Forward moves one cell
    (not past the junction); up and down are no-ops in the corridor, and at the junction
    they enter an arm and terminate with reward 1 for the cued arm, `wrong_reward` for the
    other. Every step also costs `step_penalty`. After `max_episode_steps` steps without
    a choice the episode is truncated (reward 0).

    With the defaults (no penalty, wrong_reward 0) an episode's return is 1 exactly when
    it succeeds, so the mean return is the success rate. The junction's observation does
    not depend on the cue, so a memoryless policy succeeds at most half the time; the
    optimum takes `length` forward steps and the cued turn.
    """

    length: int = 10
    max_episode_steps: int = 40
    wrong_reward: float = 0.0
    step_penalty: float = 0.0
    env_id: str = "ascent/TMaze-v0"

    def __post_init__(self) -> None:
        if self.length < 1 or self.max_episode_steps < self.length + 1:
            raise EnvError(
                "TMaze needs length >= 1 and max_episode_steps >= length + 1 (the shortest "
                f"episode); got length={self.length}, max_episode_steps={self.max_episode_steps}"
            )

    @cached_property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (4,), np.float32)

    @cached_property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(3)

    def _observe(self, state: TMazeState, in_arm: jax.Array | bool = False) -> jax.Array:
        cue = jax.nn.one_hot(state.cue, 2) * (state.time == 0)
        at_junction = jnp.logical_and(state.position == self.length, jnp.logical_not(in_arm))
        return jnp.concatenate([cue, jnp.stack([at_junction, True])]).astype(jnp.float32)

    def reset(self, key: jax.Array) -> tuple[jax.Array, TMazeState]:
        cue = jax.random.bernoulli(key).astype(jnp.int32)
        state = TMazeState(jnp.zeros((), jnp.int32), cue, jnp.zeros((), jnp.int32))
        return self._observe(state), state

    def step(
        self, key: jax.Array, env_state: TMazeState, action: jax.Array
    ) -> tuple[jax.Array, TMazeState, jax.Array, jax.Array, jax.Array, jax.Array]:
        action = jnp.asarray(action, jnp.int32)
        at_junction = env_state.position == self.length
        terminated = jnp.logical_and(at_junction, action != FORWARD)  # entered an arm
        correct = action - UP == env_state.cue
        reward = jnp.where(terminated, jnp.where(correct, 1.0, self.wrong_reward), 0.0)
        reward = (reward - self.step_penalty).astype(jnp.float32)
        moved = jnp.where(action == FORWARD, env_state.position + 1, env_state.position)
        state = TMazeState(
            jnp.minimum(moved, self.length).astype(jnp.int32), env_state.cue, env_state.time + 1
        )
        truncated = jnp.logical_and(state.time >= self.max_episode_steps, ~terminated)
        next_obs = self._observe(state, in_arm=terminated)
        # A new episode draws a new cue from the step's key: reset, then select.
        fresh_obs, fresh_state = self.reset(key)
        done = jnp.logical_or(terminated, truncated)
        state = jax.tree.map(lambda f, s: jnp.where(done, f, s), fresh_state, state)
        obs = jnp.where(done, fresh_obs, next_obs)
        return obs, state, reward, terminated, truncated, next_obs
