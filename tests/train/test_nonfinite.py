"""A NaN reward stops training with the quantity and the step named, and leaves only
finite checkpoints behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.envs import TASKS, register_task
from ascent.envs.tasks import Chain, ChainState
from ascent.errors import TrainingError
from ascent.io import load_checkpoint

TASK_ID = "ascent/NaNRewardChain-v0"
N_ENVS, N_STEPS = 4, 16
BATCH = N_ENVS * N_STEPS
BAD_UPDATE = 6  # the first rollout holding a NaN reward is that of update 6
NAN_AFTER = N_STEPS * (BAD_UPDATE - 1) + 3  # steps each environment takes before it


class CountingState(NamedTuple):
    chain: ChainState
    steps: jax.Array  # steps taken since the environment was made, across episodes


@dataclass(frozen=True)
class NaNRewardChain:
    """Chain, except that every reward from the `nan_after`-th step on is NaN."""

    nan_after: int = NAN_AFTER
    chain: Chain = field(default_factory=Chain)
    env_id: str = TASK_ID

    @property
    def observation_space(self):  # type: ignore[no-untyped-def]
        return self.chain.observation_space

    @property
    def action_space(self):  # type: ignore[no-untyped-def]
        return self.chain.action_space

    @property
    def max_episode_steps(self) -> int:
        return self.chain.max_episode_steps

    def reset(self, key: jax.Array) -> tuple[jax.Array, CountingState]:
        obs, state = self.chain.reset(key)
        return obs, CountingState(state, jnp.zeros((), jnp.int32))

    def step(
        self, key: jax.Array, env_state: CountingState, action: jax.Array
    ) -> tuple[jax.Array, CountingState, jax.Array, jax.Array, jax.Array, jax.Array]:
        obs, chain, reward, terminated, truncated, next_obs = self.chain.step(
            key, env_state.chain, action
        )
        reward = jnp.where(env_state.steps >= self.nan_after, jnp.nan, reward)
        state = CountingState(chain, env_state.steps + 1)
        return obs, state, reward, terminated, truncated, next_obs


@pytest.fixture(scope="module", autouse=True)
def _task() -> None:
    register_task(TASK_ID, NaNRewardChain)
    yield
    del TASKS[TASK_ID]


def test_nan_reward_stops_training_and_keeps_good_checkpoints(tmp_path: Path) -> None:
    agent = ascent.make(
        "ppo",
        env=TASK_ID,
        hidden=(16,),
        n_envs=N_ENVS,
        n_steps=N_STEPS,
        minibatch_size=32,
        n_epochs=2,
        total_steps=10 * BATCH,
    )
    with pytest.raises(TrainingError) as info:
        agent.learn(run_dir=tmp_path, progress=False, log_every=2, checkpoint_every=2)
    message = str(info.value)
    assert "\n" not in message
    assert "non-finite reward" in message
    assert f"iteration {BAD_UPDATE} " in message
    assert f"environment step {BAD_UPDATE * BATCH})" in message

    checkpoints = sorted((tmp_path / "checkpoints").glob("step_*"))
    # chunks of two updates: checkpoints after updates 2 and 4; the chunk with the NaN
    # (updates 5 and 6) is thrown away whole
    assert [c.name for c in checkpoints] == [f"step_{2 * BATCH:012d}", f"step_{4 * BATCH:012d}"]
    assert f"last good checkpoint: {checkpoints[-1]}" in message
    assert not (tmp_path / "final").exists()
    for checkpoint in checkpoints:
        tree, meta = load_checkpoint(checkpoint)
        assert meta["env_steps"] == int(checkpoint.name.removeprefix("step_"))
        floats = [x for x in tree.values() if np.issubdtype(x.dtype, np.floating)]
        assert floats and all(np.isfinite(x).all() for x in floats), checkpoint.name

    # the agent keeps its last good state, which a fresh load reproduces
    assert agent.iterations == 4
    loaded = ascent.load(checkpoints[-1])
    for x, y in zip(jax.tree.leaves(agent.state), jax.tree.leaves(loaded.state), strict=True):
        assert np.array_equal(x, y)


def test_all_finite_checks_every_float_leaf_and_ignores_integers() -> None:
    from ascent.train.loop import all_finite

    good = {"w": jnp.ones((3, 2)), "mu": (jnp.zeros(4, jnp.bfloat16),), "count": jnp.int32(7)}
    assert bool(all_finite(good))
    assert bool(all_finite({"count": jnp.int32(-1)}))  # no float leaves: nothing to fail
    for bad in (jnp.inf, -jnp.inf, jnp.nan):
        tree = {**good, "mu": (jnp.zeros(4, jnp.bfloat16).at[2].set(bad),)}
        assert not bool(all_finite(tree))
        assert not bool(jax.jit(all_finite)({**good, "w": good["w"].at[1, 1].set(bad)}))


def test_a_non_finite_optimiser_state_stops_training_after_its_chunk() -> None:
    """A NaN in RMSprop's running mean of squared gradients leaves A2C's first loss
    finite but the parameters after that update NaN: the state check at the end of the
    chunk names them."""
    agent = ascent.make(
        "a2c", env="ascent/Chain-v0", hidden=(8,), n_envs=2, n_steps=8, total_steps=4 * 16
    )
    state = agent.state.algo
    rms = [s for s in jax.tree.leaves(state.opt_state, is_leaf=_has_nu) if _has_nu(s)]
    first = jax.tree.leaves(rms[0].nu)[0]
    poisoned = first.at[(0,) * first.ndim].set(jnp.nan)
    state = jax.tree.map(lambda x: poisoned if x is first else x, state)
    agent.state = agent.state._replace(algo=state)
    with pytest.raises(TrainingError, match=r"non-finite parameters after iteration 1 "):
        agent.learn(progress=False, log_every=1)


def _has_nu(node: object) -> bool:
    return hasattr(node, "nu")
