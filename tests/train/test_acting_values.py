"""PPO reads V(obs) from the rollout (`Rollout.values`, recorded by the network call that
chose each action) instead of a second pass over the rollout: the recorded values are
the pass's values on both doors, observation statistics included, and an update on
them is the update on the pass's values; the KL objectives and memory policies, which
need π_old or the states, still make the pass."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

import ascent
from ascent.train.loop import split_iteration_key

TINY: dict[str, Any] = {
    "hidden": (16,),
    "n_envs": 4,
    "n_steps": 16,
    "minibatch_size": 16,
    "n_epochs": 2,
    "total_steps": 4 * 64,
}


def jax_rollout(agent: Any) -> tuple[Any, Any]:
    """(state the policy acted with, one rollout) collected on the JAX door."""
    loop, state = agent.loop, agent.state
    _, act_keys, env_keys, _ = split_iteration_key(state.key, loop.n_steps)
    return state, jax.jit(loop.collector.collect)(state, act_keys, env_keys)[1]


def values_by_a_pass(agent: Any, state: Any, rollout: Any) -> np.ndarray:
    """V(obs) [T, N] as the update's pass over the rollout computes it."""
    seen = rollout._replace(obs=agent.loop.normalizer.obs_for_policy(state.norm, rollout.obs))
    return np.asarray(agent.algorithm.model.unroll(state.algo.params, seen)[1])


@pytest.mark.parametrize("normalize_obs", [False, True])
def test_values_recorded_while_acting_are_the_passs_values(normalize_obs: bool) -> None:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=0, normalize_obs=normalize_obs, **TINY)
    agent.learn(progress=False)  # moved statistics and parameters
    state, rollout = jax_rollout(agent)
    assert rollout.values is not None and rollout.values.shape == rollout.rewards.shape
    np.testing.assert_allclose(rollout.values, values_by_a_pass(agent, state, rollout), atol=1e-5)


def test_the_gymnasium_door_records_the_same_values() -> None:
    agent = ascent.make("ppo", env="CartPole-v1", seed=0, **TINY)
    agent.learn(progress=False)
    assert agent.loop._host is not None
    rollout = agent.loop._host.buffer.rollout()  # the last rollout, before its update
    assert rollout.values is not None and np.abs(rollout.values).max() > 0
    # its update moved the parameters since: act again on the same observations
    loop, state = agent.loop, agent.state
    _, _, _, value = jax.jit(loop.acting.collect_step)(
        state.algo, state.norm, None, None, rollout.obs[0], jax.random.PRNGKey(0)
    )
    np.testing.assert_allclose(value, values_by_a_pass(agent, state, rollout)[0], atol=1e-5)
    agent.close()


def test_an_update_on_recorded_values_is_the_update_on_the_passs() -> None:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=0, **TINY)
    state, rollout = jax_rollout(agent)
    update = jax.jit(agent.algorithm.update)
    key = jax.random.PRNGKey(3)
    recorded, _ = update(state.algo, rollout, key)
    passed, _ = update(state.algo, rollout._replace(values=None), key)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), recorded, passed
    )
    # and it reads them: other values, another update
    shifted, _ = update(state.algo, rollout._replace(values=rollout.values + 1.0), key)
    moved = jax.tree.map(lambda a, b: float(np.abs(a - b).max()), shifted.params, recorded.params)
    assert max(jax.tree.leaves(moved)) > 1e-4


@pytest.mark.parametrize(
    "settings",
    [{"objective": "kl_penalty"}, {"target_kl": 0.02}, {"core": {"kind": "gru"}}],
    ids=["kl_penalty", "target_kl", "memory"],
)
def test_updates_that_need_the_pass_record_no_values(settings: dict[str, Any]) -> None:
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=0, **{**TINY, **settings})
    assert not agent.loop.acting.values
    assert jax_rollout(agent)[1].values is None


@pytest.mark.parametrize("cut", [0, 3, 12], ids=["none", "few", "beyond_an_eighth"])
def test_bootstrap_values_evaluate_only_what_obs_t_plus_1_does_not_give(cut: int) -> None:
    # V(next_obs[t]) is values[t+1] where step t did not end its episode; the last step
    # and the steps cut by the time limit are evaluated: gathered when they are at most
    # an eighth of the rollout (here 8 of 64), all of it beyond that
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=0, **TINY)
    state, rollout = jax_rollout(agent)
    t, n = rollout.rewards.shape
    flags = np.zeros((t, n), bool)
    flags.flat[np.random.default_rng(cut).choice((t - 1) * n, cut, replace=False)] = True
    noise = np.random.default_rng(1).normal(size=(t, n)).astype(np.float32)
    rollout = rollout._replace(truncated=flags, next_obs=rollout.next_obs + 0.5 * flags[..., None])
    values = jax.numpy.asarray(values_by_a_pass(agent, state, rollout) + noise)  # any V(obs)
    model, params = agent.algorithm.model, state.algo.params
    every = np.asarray(jax.jit(model.bootstrap_values)(params, rollout))  # a pass over next_obs
    got = np.asarray(jax.jit(model.bootstrap_values)(params, rollout, values))
    evaluated = flags.copy()
    evaluated[-1] = True
    later = np.concatenate([np.asarray(values)[1:], np.zeros((1, n), np.float32)])
    # (beyond an eighth, every V(next_obs[t]) is the pass's: values[t+1] is not read,
    # which in a real rollout, where next_obs[t] is obs[t+1], is the same number)
    expected = every if cut > t * n // 8 else np.where(evaluated, every, later)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert cut > t * n // 8 or not np.allclose(got, every, atol=1e-3)  # values were read


@pytest.mark.parametrize("bootstrap", [True, False])
def test_a_cut_step_bootstraps_unless_told_it_is_the_tasks_end(bootstrap: bool) -> None:
    # bootstrap_truncation: a truncated step's advantage reads V(its true next
    # observation); with False it is a termination, and that observation is never read
    agent = ascent.make("ppo", env="ascent/Chain-v0", seed=0, bootstrap_truncation=bootstrap,
                        **TINY)  # fmt: skip
    state, rollout = jax_rollout(agent)
    cut = np.zeros(rollout.truncated.shape, bool)
    cut[[3, 9], [0, 2]] = True
    rollout = rollout._replace(truncated=cut, terminated=np.zeros_like(cut))
    units = jax.jit(agent.algorithm.minibatch_units)
    moved = rollout._replace(next_obs=rollout.next_obs + 3.0 * cut[..., None])
    before = np.asarray(units(state.algo, rollout)[1]["advantages"])
    after = np.asarray(units(state.algo, moved)[1]["advantages"])
    assert (not np.allclose(before, after, atol=1e-6)) == bootstrap
