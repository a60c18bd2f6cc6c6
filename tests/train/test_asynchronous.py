"""Asynchronous training: A3C's workers applying A2C's gradients to shared parameters
(`algos/a3c.py`, `train/workers/shared.py`, `workers.ThreadDriver`) and IMPALA's actors
feeding one V-trace learner (`algos/impala.py`, `workers.ActorLearnerDriver`), both
through `train/workers/loop.py`."""

from __future__ import annotations

import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.errors import ConfigError, TrainingError
from ascent.train.loop import split_iteration_key
from ascent.train.workers.shared import SharedParams

SMALL = {"n_envs": 4, "n_steps": 5, "hidden": (16,), "total_steps": 4000}


def leaves(tree):
    return [np.asarray(x, np.float64) for x in jax.tree.leaves(tree)]


def test_one_locked_worker_trains_as_a2c():
    a3c = ascent.make("a3c", "gymnax/CartPole-v1", seed=3, workers=1, lock=True, **SMALL)
    a2c = ascent.make("a2c", "gymnax/CartPole-v1", seed=3, **SMALL)
    for agent in (a3c, a2c):
        agent.learn(200, progress=False)  # 10 updates
    assert int(a3c.state.env_steps) == int(a2c.state.env_steps) == 200
    assert int(a3c.state.iteration) == int(a2c.state.iteration) == 10
    assert np.array_equal(a3c.state.key, a2c.state.key)
    # the same updates; programs compiled apart round apart, by far less than a step
    for x, y in zip(leaves(a3c.state.algo), leaves(a2c.state.algo), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(leaves(a3c.state.algo)[0], leaves(a3c.loop.init(3).algo)[0])
    assert set(a3c.runner.driver.staleness_counts) == {0}  # one worker: never stale


def test_two_workers_own_their_environments_and_log_staleness(tmp_path):
    agent = ascent.make("a3c", "gymnax/CartPole-v1", seed=0, workers=2, **SMALL)
    assert agent.state.episodes.ret.shape == (8,)  # 2 workers x 4 environments
    agent.learn(2000, run_dir=tmp_path, progress=False)
    assert int(agent.state.env_steps) == 2000 and int(agent.state.iteration) == 100
    counts = agent.runner.driver.staleness_counts
    assert sum(counts.values()) == 100 and min(counts) >= 0
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "staleness" in header
    # the workers' episode counters both moved: each stepped its own environments
    lengths = np.asarray(agent.state.episodes.length)
    assert lengths[:4].any() and lengths[4:].any()


@pytest.mark.parametrize("algo", ["a3c", "impala"])
def test_asynchronous_runs_resume_from_their_checkpoint(algo, tmp_path):
    agent = ascent.make(algo, "gymnax/CartPole-v1", seed=1, workers=2, **SMALL)
    agent.learn(1000, progress=False)
    agent.save(tmp_path / "saved")
    loaded = ascent.load(tmp_path / "saved")
    assert loaded.algo_name == algo and loaded.config.workers == 2
    # parameters, optimiser statistics, every worker's environments and the key
    for x, y in zip(leaves(agent.state), leaves(loaded.state), strict=True):
        np.testing.assert_array_equal(x, y)
    loaded.learn(2000, progress=False)
    assert int(loaded.state.env_steps) == 2000


def test_a3c_refuses_what_it_cannot_do():
    with pytest.raises(ConfigError, match="normalise"):
        ascent.make("a3c", "gymnax/CartPole-v1", normalize_obs=True)
    with pytest.raises(ConfigError, match="workers"):
        ascent.make("a3c", "gymnax/CartPole-v1", workers=0)
    with pytest.raises(ConfigError, match="JAX door"):
        ascent.make("a3c", "CartPole-v1")


def test_a_failing_worker_stops_the_run_and_leaves_no_thread():
    agent = ascent.make("a3c", "gymnax/CartPole-v1", seed=0, workers=2, **SMALL)
    before = threading.active_count()
    work = agent.loop.work
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker fault")
        return work(*args)

    agent.loop.work = failing
    with pytest.raises(RuntimeError, match="worker fault"):
        agent.learn(2000, progress=False)
    assert threading.active_count() == before
    assert int(agent.state.env_steps) == 0  # the failed chunk did not count


def _sgd(state, grads):
    return jax.tree.map(lambda p, g: p - 0.5 * g, state, grads)


@pytest.mark.parametrize("lock", [False, True])
def test_shared_applies_from_threads_lose_no_update(lock):
    state = {"w": jnp.zeros((8,), jnp.float32), "n": jnp.zeros((), jnp.int32)}
    shared = SharedParams(state, lambda s, g: {"w": s["w"] - 0.5 * g, "n": s["n"] + 1}, lock=lock)
    grads = jnp.ones((8,), jnp.float32)
    shared.apply(grads)  # compiles before the threads start

    def worker():
        for _ in range(300):
            shared.apply(grads)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = shared.state()
    assert shared.version == 601
    # every apply moved every element: each increment (-0.5, +1) is exact in float32
    np.testing.assert_array_equal(np.asarray(final["w"]), np.full(8, -300.5, np.float32))
    assert int(final["n"]) == 601


def test_shared_state_keeps_its_structure():
    state = {"w": jnp.zeros((3,))}
    shared = SharedParams(state, _sgd)
    with pytest.raises(ValueError, match="structure"):
        shared.load({"w": jnp.zeros((4,))})


def test_impala_on_its_own_rollout_is_a2c():
    """Actor and learner with the same parameters: every importance weight is 1, and
    V-trace's targets and advantages are A2C's n-step ones (λ = 1)."""
    impala = ascent.make("impala", "gymnax/CartPole-v1", seed=2, workers=1, **SMALL)
    a2c = ascent.make("a2c", "gymnax/CartPole-v1", seed=2, **SMALL)
    state = a2c.state
    _, act_keys, env_keys, learn_key = split_iteration_key(state.key, a2c.loop.n_steps)
    rollout = a2c.loop.collect_jax(state, act_keys, env_keys)[1]
    g_impala, m_impala = impala.algorithm.grads(state.algo, rollout, learn_key)
    g_a2c, m_a2c = a2c.algorithm.grads(state.algo, rollout, learn_key)
    for x, y in zip(leaves(g_impala), leaves(g_a2c), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
    assert abs(float(m_impala["importance_weight"]) - 1.0) < 1e-6
    np.testing.assert_allclose(float(m_impala["loss"]), float(m_a2c["loss"]), rtol=1e-5)


def test_impala_actors_feed_one_learner(tmp_path):
    agent = ascent.make("impala", "gymnax/CartPole-v1", seed=0, workers=2, **SMALL)
    before = threading.active_count()
    agent.learn(2000, run_dir=tmp_path, progress=False)
    assert int(agent.state.env_steps) == 2000 and int(agent.state.iteration) == 100
    assert int(agent.state.algo.updates) == 100  # one update per rollout
    counts = agent.runner.driver.staleness_counts
    assert sum(counts.values()) == 100 and max(counts) >= 1  # actors lag the learner
    assert threading.active_count() == before
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"staleness", "importance_weight", "episode_return"} <= set(header)


@pytest.mark.parametrize("algo, piece", [("a3c", "work"), ("impala", "collect")])
def test_a_hung_worker_stops_training_with_one_line(algo, piece):
    agent = ascent.make(algo, "gymnax/CartPole-v1", seed=0, workers=2, **SMALL)
    agent.runner.driver.timeout = 1.0
    real = getattr(agent.loop, piece)
    release = threading.Event()
    calls = []

    def hangs(*args):
        calls.append(1)
        if len(calls) == 5:
            release.wait(30)  # a step that never comes back (until the test lets it)
        return real(*args)

    setattr(agent.loop, piece, hangs)
    t0 = time.monotonic()
    with pytest.raises(TrainingError, match="no training iteration finished in 1 s"):
        agent.learn(4000, progress=False)
    assert time.monotonic() - t0 < 15
    assert int(agent.state.env_steps) == 0
    release.set()  # the hung thread finishes and ends
