"""Memory policies in the on-policy loop: state carried and reset, rollouts rerun exactly,
nothing leaking across episodes, every algorithm × kind training, acting, saving."""

from __future__ import annotations

from functools import cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.algos import A2C, PPO, A2CConfig, PPOConfig, Reinforce, ReinforceConfig
from ascent.buffers import Rollout
from ascent.envs.tasks import TMaze
from ascent.errors import ConfigError
from ascent.nn.sequence import CoreSpec
from ascent.train import OnPolicyLoop
from ascent.train.loop import split_iteration_key

KINDS = ["lstm", "gru", "transformer", "tcn"]
ALGOS = {
    "ppo": (PPO, PPOConfig),
    "a2c": (A2C, A2CConfig),
    "reinforce": (Reinforce, ReinforceConfig),
}
# every algorithm × kind; REINFORCE reruns its rollouts through a SequenceModel as A2C
# does, so its lstm and transformer cases (about 35 s of compiling) run with the slow
# tests only; so does A2C's transformer, whose path through SequenceModel is PPO's (the
# default tests keep PPO's and A2C's others; `make test` must stay under 10 minutes)
SLOW_PAIRS = {("reinforce", "lstm"), ("reinforce", "transformer"), ("a2c", "transformer"),
              ("ppo", "transformer"), ("reinforce", "tcn")}  # fmt: skip
PAIRS = [
    pytest.param(algo, kind, marks=[pytest.mark.slow] if (algo, kind) in SLOW_PAIRS else [])
    for kind in KINDS
    for algo in ALGOS
]
# a gru or transformer case repeats what the lstm case checks of the loop (the same
# SequenceModel path; test_sequence.py and tests/nn/attention check the cores themselves,
# and PAIRS trains every core) at 10 to 25 s of compiling each, so they run with the
# slow tests only
LOOP_KINDS = [
    "lstm",
    *(pytest.param(k, marks=pytest.mark.slow) for k in ("gru", "transformer", "tcn")),
]
N, T = 4, 12
CORE = {"embed_dim": 8, "num_heads": 2, "memory_len": 6}
TINY = {"hidden": (8,), "n_envs": N, "n_steps": T}


def _core(kind: str) -> dict[str, Any]:
    """The core as `ascent.make` takes it: a table of its fields."""
    return {"kind": kind, **CORE}


def _config(algo: str, kind: str, **overrides: Any) -> Any:
    extra = {"minibatch_size": 2 * T, "n_epochs": 2} if algo == "ppo" else {}
    return ALGOS[algo][1](core=CoreSpec(kind, **CORE), **{**TINY, **extra, **overrides})


@cache
def _loop(algo: str, kind: str) -> OnPolicyLoop:
    # a short corridor and a short time limit: episodes end and are truncated in a rollout
    env = TMaze(length=2, max_episode_steps=4)
    config = _config(algo, kind)
    return OnPolicyLoop(ALGOS[algo][0](config, env.observation_space, env.action_space), env)


@cache
def _start(algo: str, kind: str) -> Any:
    return jax.jit(_loop(algo, kind).init)(0)


@cache
def _collected(algo: str, kind: str) -> tuple[Any, Rollout]:
    """The loop state after one update, and the rollout collected from it."""
    loop = _loop(algo, kind)
    state, _ = loop.run_jax_chunk(_start(algo, kind), 1)  # the policy state carries over

    @jax.jit
    def collect(state: Any) -> tuple[Any, Rollout]:
        _, act_keys, env_keys, _ = split_iteration_key(state.key, T)
        return loop.collect_jax(state, act_keys, env_keys)

    _, rollout = collect(state)
    return state, rollout


@cache
def _forward(algo: str, kind: str) -> Any:
    """The network over [B, T] sequences from a given state, compiled (eagerly, each of
    a transformer's hundreds of operations would compile on its own)."""
    return jax.jit(_loop(algo, kind).algorithm.model.forward)


@cache
def _unroll(algo: str, kind: str) -> Any:
    """The update's rerun of a rollout, (dist, values) [T, N], compiled."""
    return jax.jit(_loop(algo, kind).algorithm.model.unroll)


def _log_probs(algo: str, kind: str, params: Any, rollout: Rollout) -> jax.Array:
    dist, _ = _unroll(algo, kind)(params, rollout)
    return dist.log_prob(rollout.actions)


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_policy_state_is_carried_and_reset_at_episode_starts(kind: str) -> None:
    loop = _loop("ppo", kind)
    fresh = _start("ppo", kind)
    assert fresh.episode_starts.all() and jax.tree.leaves(fresh.policy_state)
    state, rollout = _collected("ppo", kind)
    done = np.asarray(rollout.terminated | rollout.truncated)
    starts = np.asarray(rollout.episode_starts)
    # episode_starts is the step after terminated | truncated, also across rollouts
    np.testing.assert_array_equal(starts[1:], done[:-1])
    np.testing.assert_array_equal(starts[0], np.asarray(state.episode_starts))
    assert done.any() and starts[1:].any() and np.asarray(rollout.truncated).any()
    # the rollout starts from the state the loop carried, not from a fresh one
    assert not all(np.allclose(x, 0) for x in jax.tree.leaves(rollout.policy_state))
    # at an episode start the policy acts as from the initial state: the stored
    # log-probabilities equal those of a fresh state on that observation
    model, params = loop.algorithm.model, state.algo.params
    t, n = np.argwhere(starts[1:])[0] + np.array([1, 0])
    _, dist, _ = _forward("ppo", kind)(
        params, model.initial_state(N), rollout.obs[t][:, None], jnp.ones((N, 1), bool)
    )
    fresh_log_prob = dist.log_prob(rollout.actions[t][:, None])[n, 0]
    np.testing.assert_allclose(fresh_log_prob, rollout.log_probs[t, n], atol=1e-5)


@pytest.mark.parametrize("algo, kind", PAIRS)
def test_update_reruns_a_rollout_with_the_log_probs_of_acting(algo: str, kind: str) -> None:
    """Stored log-probs (one step at a time while acting) equal the update's rerun of each
    environment's T steps from the stored start state, and so do the bootstrap values
    V(next_obs[t]) of steps that do not end an episode: V(obs[t + 1])."""
    state, rollout = _collected(algo, kind)
    params = state.algo.params
    np.testing.assert_allclose(
        _log_probs(algo, kind, params, rollout), rollout.log_probs, atol=1e-5
    )
    _, values = _unroll(algo, kind)(params, rollout)
    continuing = ~np.asarray(rollout.terminated | rollout.truncated)[:-1]
    np.testing.assert_allclose(
        np.asarray(rollout.next_values)[:-1][continuing],
        np.asarray(values)[1:][continuing],
        atol=1e-5,
    )


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_truncated_steps_bootstrap_from_the_state_of_that_step(kind: str) -> None:
    """V(next_obs[t]) of a truncated step is the critic's value of the true final
    observation after the episode's steps so far: rerun them, then next_obs[t]."""
    loop = _loop("a2c", kind)
    state, rollout = _collected("a2c", kind)
    model, params = loop.algorithm.model, state.algo.params
    truncated = np.argwhere(np.asarray(rollout.truncated))
    assert len(truncated)
    for t, n in truncated[:3]:
        obs = jnp.concatenate([rollout.obs[: t + 1, n], rollout.next_obs[t, n][None]])[None]
        starts = jnp.concatenate([rollout.episode_starts[: t + 1, n], jnp.zeros(1, bool)])[None]
        start_state = jax.tree.map(lambda x, n=n: x[n : n + 1], rollout.policy_state)
        _, _, values = _forward("a2c", kind)(params, start_state, obs, starts)
        np.testing.assert_allclose(values[0, -1], rollout.next_values[t, n], atol=1e-5)
        # and it is not what a fresh state would say (the state of that step matters)
        _, _, fresh = _forward("a2c", kind)(
            params, model.initial_state(1), rollout.next_obs[t, n][None, None], starts[:, :1]
        )
        assert abs(float(fresh[0, 0]) - float(rollout.next_values[t, n])) > 1e-6


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_training_does_not_leak_across_episodes(kind: str) -> None:
    """Perturbing the observations of an earlier episode in a chunk leaves the later
    episode's log-probabilities (and values) unchanged in the update's rerun."""
    state, rollout = _collected("ppo", kind)
    params = state.algo.params
    starts = np.asarray(rollout.episode_starts)
    n = int(np.argmax(starts[1:].any(axis=0)))
    k = int(np.argmax(starts[1:, n])) + 1  # env n starts an episode at step k
    noise = 5.0 * jax.random.normal(jax.random.key(0), rollout.obs[:k, n].shape)
    perturbed = rollout._replace(obs=rollout.obs.at[:k, n].add(noise))
    before = _log_probs("ppo", kind, params, rollout)
    after = _log_probs("ppo", kind, params, perturbed)
    np.testing.assert_allclose(after[k:, n], before[k:, n], atol=1e-6)
    assert not np.allclose(after[:k, n], before[:k, n], atol=1e-4)  # the perturbation bites
    others = np.arange(N) != n
    np.testing.assert_array_equal(after[:, others], before[:, others])


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_ppo_minibatches_are_whole_environment_sequences(kind: str) -> None:
    """With a negligible step size every minibatch of the update sees ratio 1: each reruns
    whole environment sequences from their stored start state. (Shuffling transitions
    would rerun scrambled sequences: ratios far from 1.)"""
    loop = _loop("ppo", kind)
    state, rollout = _collected("ppo", kind)
    config = _config("ppo", kind, minibatch_size=T, n_epochs=2, lr=1e-12)
    ppo = PPO(config, loop.env.observation_space, loop.env.action_space)
    _, metrics = jax.jit(ppo.update)(state.algo, rollout, jax.random.key(1))
    assert float(metrics["approx_kl"]) < 1e-9 and float(metrics["clipfrac"]) == 0.0


@pytest.mark.parametrize("algo, kind", PAIRS)
def test_each_algorithm_trains_each_kind_through_the_compiled_door(algo: str, kind: str) -> None:
    loop, start = _loop(algo, kind), _start(algo, kind)
    state, first = loop.run_jax_chunk(start, 1)
    state, second = loop.run_jax_chunk(state, 1)
    assert int(state.iteration) == 2 and int(state.algo.updates) == 2
    for metrics in (first, second):
        assert all(np.isfinite(v).all() for v in metrics.values())
        assert all((metrics[k] == 1).all() for k in metrics if k.startswith("finite_"))
    moved = [
        not np.allclose(a, b)
        for a, b in zip(
            jax.tree.leaves(start.algo.params), jax.tree.leaves(state.algo.params), strict=True
        )
    ]
    assert np.mean(moved) > 0.9, f"{moved.count(False)} of {len(moved)} parameter arrays unchanged"


def test_host_door_carries_the_policy_state() -> None:
    agent = ascent.make(
        "a2c", env="CartPole-v1", seed=0, total_steps=2 * N * T, core=_core("gru"), **TINY
    )
    agent.learn(progress=False)
    assert agent.iterations == 2 and agent.state.policy_state["actor"].shape == (N, 8)
    assert agent.evaluate(episodes=2).returns  # whole episodes with the state carried
    agent.close()


@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_agent_act_carries_the_state(kind: str) -> None:
    agent = ascent.make("a2c", env="ascent/TMaze-v0", seed=1, core=_core(kind), **TINY)
    # acting step by step with the returned state equals the network over the sequence
    obs = np.random.default_rng(0).uniform(size=(5, 3, 4)).astype(np.float32)  # [T, B, obs]
    state, actions = None, []
    for t in range(5):
        action, state = agent.act(obs[t], state)
        actions.append(action)
    model, params = agent.algorithm.model, agent.state.algo.params
    _, dist, _ = jax.jit(model.forward)(
        params, model.initial_state(3), jnp.swapaxes(obs, 0, 1), jnp.zeros((3, 5), bool)
    )
    np.testing.assert_array_equal(np.stack(actions, 1), np.asarray(dist.mode()))
    # episode_start resets the rows it marks; None starts afresh
    again, _ = agent.act(obs[0], state, episode_start=[True, False, True])
    _, dist, _ = jax.jit(model.forward)(params, state, obs[0][:, None], jnp.zeros((3, 1), bool))
    np.testing.assert_array_equal(again[[0, 2]], actions[0][[0, 2]])
    np.testing.assert_array_equal(again[1], dist.mode()[1, 0])
    np.testing.assert_array_equal(agent.act(obs[0])[0], actions[0])
    # a single observation gets a single action and a state of one row
    single, one = agent.act(obs[0, 0])
    assert np.shape(single) == () and single == actions[0][0]
    assert all(x.shape[0] == 1 for x in jax.tree.leaves(one))


@pytest.mark.parametrize(
    "kind", ["lstm", "tcn", pytest.param("transformer", marks=pytest.mark.slow)]
)
def test_save_load_round_trips_a_memory_agent(kind: str, tmp_path: Any) -> None:
    config = dict(TINY, total_steps=N * T, minibatch_size=2 * T, n_epochs=1)
    agent = ascent.make("ppo", env="ascent/TMaze-v0", seed=1, core=_core(kind), **config)
    agent.learn(progress=False)
    path = agent.save(tmp_path / "memory-agent")
    loaded = ascent.load(path)
    for x, y in zip(jax.tree.leaves(agent.state), jax.tree.leaves(loaded.state), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert jax.tree.leaves(loaded.state.policy_state)
    obs = np.eye(4, dtype=np.float32)[:3]
    _, state = agent.act(obs)
    np.testing.assert_array_equal(loaded.act(obs, state)[0], agent.act(obs, state)[0])
    # training on continues exactly as it would have
    agent.learn(total_steps=2 * N * T, progress=False)
    loaded.learn(total_steps=2 * N * T, progress=False)
    for x, y in zip(jax.tree.leaves(agent.state), jax.tree.leaves(loaded.state), strict=True):
        assert np.array_equal(x, y)


def test_memory_policies_only_where_supported() -> None:
    with pytest.raises(ConfigError, match="core.kind='gru': this algorithm has feed-forward"):
        ascent.make("trpo", env="ascent/TMaze-v0", core={"kind": "gru"})
    with pytest.raises(ConfigError, match="score"):
        ascent.make("ppo", env="ascent/TMaze-v0", core={"kind": "transformer", "score": "cos"})
    with pytest.raises(ConfigError, match="core.kind"):
        ascent.make("ppo", env="ascent/TMaze-v0", **{"core.kind": "rnn"})
