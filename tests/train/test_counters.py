"""Step and iteration counts go past 2^31 (issue 13, item 6): JAX's integers are 32-bit,
so the loop counts in two uint32 halves (`Count`), and checkpoints, resume and pruning
work on either side of 2^31."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.io import read_metrics
from ascent.train.loop import Count
from ascent.train.runs import resume

CHAIN = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}
EDGE = 2**31


@pytest.mark.parametrize("start", [EDGE - 3, 2**32 - 3, 5 * 2**32 - 1])
def test_a_count_carries_across_32_bits(start: int) -> None:
    add = jax.jit(lambda c: c.add(2))
    count = Count.of(start)
    for step in range(1, 4):
        count = add(count)
        assert int(count) == start + 2 * step
        assert count.high.dtype == count.low.dtype == jnp.uint32
    below = jax.jit(lambda c, n: c.less_than(n), static_argnums=1)
    assert bool(below(Count.of(start), start + 1)) and not bool(below(Count.of(start), start))
    assert not bool(below(Count.of(start + 1), start)) and bool(below(Count.of(start), 2**70))
    assert float(Count.of(EDGE + 2**20).as_float()) == EDGE + 2**20


def _near_the_edge(agent: ascent.Agent, iterations_before: int) -> None:
    """Put the agent `iterations_before` iterations short of step 2^31."""
    spi = agent.loop.steps_per_iteration
    assert EDGE % spi == 0
    iteration = EDGE // spi - iterations_before
    agent.state = agent.state._replace(
        env_steps=Count.of(iteration * spi), iteration=Count.of(iteration)
    )


@pytest.mark.parametrize("env", ["ascent/Chain-v0", "CartPole-v1"])
def test_a_run_crosses_step_2_31(tmp_path: Path, env: str) -> None:
    run = tmp_path / "run"
    agent = ascent.make("ppo", env=env, seed=3, **CHAIN)
    _near_the_edge(agent, 2)
    spi = agent.loop.steps_per_iteration
    agent.learn(total_steps=EDGE + 3 * spi, run_dir=run, progress=False, log_every=1,
                checkpoint_every=1)  # fmt: skip
    agent.close()
    assert agent.env_steps == EDGE + 3 * spi and agent.iterations == EDGE // spi + 3
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    # the newest three kept, in order, none of them negative
    assert names == [f"step_{EDGE + k * spi:012d}" for k in (1, 2, 3)]
    steps = read_metrics(run)["step"].tolist()
    assert steps == [EDGE + k * spi for k in (-1, 0, 1, 2, 3)]
    again = resume(run)
    assert again.env_steps == EDGE + 3 * spi
    again.learn(total_steps=EDGE + 4 * spi, progress=False)
    again.close()
    assert again.env_steps == EDGE + 4 * spi
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names[-1] == f"step_{EDGE + 4 * spi:012d}" and len(names) == 3


def test_off_policy_warm_up_compares_the_whole_count() -> None:
    """`learning_starts` is compared with the whole count: past 2^31 the policy acts and
    learns, as it did before (a wrapped int32 count is negative: random actions again)."""
    agent = ascent.make("sac", env="gymnax/Pendulum-v1", hidden=(8,), buffer_size=64,
                        learning_starts=10, minibatch_size=8)  # fmt: skip
    state = agent.state._replace(env_steps=Count.of(EDGE + 5), iteration=Count.of(EDGE + 5))
    obs = jnp.zeros((1, 3))
    key = jax.random.PRNGKey(0)
    acted, _ = agent.loop.explore(state, obs, key)
    policy, _ = agent.loop.acting.act(state.algo, state.norm, obs, jax.random.split(key, 3)[0])
    np.testing.assert_allclose(acted, jnp.clip(policy, -2.0, 2.0), rtol=1e-6)
