"""The four on-policy algorithms: a couple of compiled updates on each action space,
and one property each that only a correct update has."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.algos import PPO, PPOConfig, Reinforce, ReinforceConfig
from ascent.buffers import Rollout
from ascent.envs import make as make_env

CORE_METRICS = {"loss", "policy_loss", "value_loss", "entropy"}
ENVS = ["ascent/Chain-v0", "gymnax/Pendulum-v1"]  # Discrete(2) and Box(-2, 2, (1,))
VARIANTS = [
    pytest.param("reinforce", {}, id="reinforce"),
    pytest.param("actor-critic", {}, id="actor-critic-v"),
    pytest.param("actor-critic", {"critic": "q"}, id="actor-critic-q"),
    pytest.param("a2c", {}, id="a2c"),
    pytest.param("ppo", {"minibatch_size": 32, "n_epochs": 2}, id="ppo"),
    pytest.param("trpo", {"critic_minibatch_size": 32, "n_critic_epochs": 2}, id="trpo"),
]


def small(algo: str, env_id: str, **extra: Any) -> dict[str, Any]:
    """Overrides for a tiny run of two updates (REINFORCE's rollout holds whole episodes)."""
    if algo == "reinforce":
        n_steps = 200 if "Pendulum" in env_id else 32  # Pendulum truncates after 200 steps
    else:
        n_steps = 16
    n_envs = 4
    return {
        "hidden": (16,),
        "n_envs": n_envs,
        "n_steps": n_steps,
        "total_steps": 2 * n_envs * n_steps,
        **extra,
    }


def leaves_changed(before: Any, after: Any) -> list[bool]:
    return [
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True)
    ]


@pytest.mark.parametrize("env_id", ENVS)
@pytest.mark.parametrize(("algo", "extra"), VARIANTS)
def test_two_compiled_updates(algo: str, extra: dict[str, Any], env_id: str) -> None:
    agent = ascent.make(algo, env=env_id, seed=1, **small(algo, env_id, **extra))
    assert agent.is_jax_door
    before = agent.state.algo.params
    state, metrics = agent.loop.run_jax_chunk(agent.state, 2)

    assert CORE_METRICS <= set(metrics), sorted(metrics)
    for name, values in metrics.items():
        assert values.shape == (2,), name
        assert np.isfinite(values).all(), name
    assert all((metrics[flag] == 1).all() for flag in metrics if flag.startswith("finite_"))
    assert int(state.algo.updates) == 2
    assert int(state.env_steps) == 2 * agent.config.batch_size
    # every weight and bias (actor and critic) moved
    changed = leaves_changed(before, state.algo.params)
    assert all(changed), f"{changed.count(False)} of {len(changed)} parameter arrays unchanged"


@pytest.mark.parametrize("algo", ["reinforce", "actor-critic", "a2c", "ppo", "trpo"])
def test_box_actions_are_clipped_to_the_bounds(algo: str) -> None:
    # log-std 2: the raw Gaussian samples fall far outside [-2, 2]
    agent = ascent.make(algo, env="gymnax/Pendulum-v1", hidden=(16,), n_envs=4, log_std_init=2.0)
    space = agent.env.action_space
    obs = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    raw, _ = agent.algorithm.act(agent.state.algo, obs, jax.random.PRNGKey(0))
    assert (np.abs(np.asarray(raw)) > 2).any()  # so the clipping below is needed

    actions, _ = agent.act(obs, deterministic=False)
    assert actions.shape == (64, 1)
    assert (actions >= space.low).all() and (actions <= space.high).all()
    single, _ = agent.act(obs[0], deterministic=False)
    assert single.shape == (1,) and space.low[0] <= single[0] <= space.high[0]


# --- REINFORCE: only steps whose episode ends inside the rollout count ------------


def _chain_rollout(key: jax.Array, terminated_last: bool, t: int = 6, n: int = 3) -> Rollout:
    k_obs, k_act = jax.random.split(key)
    obs = jax.nn.one_hot(jax.random.randint(k_obs, (t, n), 0, 8), 8)
    terminated = jnp.zeros((t, n), bool).at[-1].set(terminated_last)
    return Rollout(
        obs=obs,
        actions=jax.random.randint(k_act, (t, n), 0, 2),
        log_probs=jnp.full((t, n), -0.7),
        rewards=jnp.ones((t, n)),
        terminated=terminated,
        truncated=jnp.zeros((t, n), bool),
        next_obs=obs,
    )


@pytest.mark.parametrize("baseline", ["learned", "none"])
def test_reinforce_drops_unfinished_episodes(baseline: str) -> None:
    env = make_env("ascent/Chain-v0")
    config = ReinforceConfig(hidden=(16,), n_envs=3, n_steps=6, baseline=baseline)
    algo = Reinforce(config, env.observation_space, env.action_space)
    state = algo.init(jax.random.PRNGKey(0))
    update = jax.jit(algo.update)

    # no episode ends: no reward-to-go is known, so nothing is learned
    unfinished, metrics = update(state, _chain_rollout(jax.random.PRNGKey(1), False), None)
    assert float(metrics["used_fraction"]) == 0.0
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert not any(leaves_changed(state.params, unfinished.params))

    # the same rollout with every episode ending at its last step is used in full
    finished, metrics = update(state, _chain_rollout(jax.random.PRNGKey(1), True), None)
    assert float(metrics["used_fraction"]) == 1.0
    assert all(leaves_changed(state.params["actor"], finished.params["actor"]))


# --- PPO: the first gradient step of an update sees the rollout's own policy -------


@pytest.mark.parametrize("n_epochs", [1, 3])
def test_ppo_starts_each_update_at_ratio_one(n_epochs: int) -> None:
    """One epoch of one minibatch: the only step is taken at ratio π/π_old = 1, so
    approx_kl and clipfrac are 0 — unless the shuffle misaligns observations, actions
    and old log-probs. Later epochs move the policy away (approx_kl > 0)."""
    env = make_env("ascent/Chain-v0")
    t, n = 16, 4
    config = PPOConfig(
        hidden=(16,), n_envs=n, n_steps=t, minibatch_size=t * n, n_epochs=n_epochs, lr=1e-2
    )
    algo = PPO(config, env.observation_space, env.action_space)
    state = algo.init(jax.random.PRNGKey(0))
    k_obs, k_act, k_rew, k_update = jax.random.split(jax.random.PRNGKey(1), 4)
    obs = jax.nn.one_hot(jax.random.randint(k_obs, (t, n), 0, 8), 8)
    actions, log_probs = algo.act(state, obs, k_act)
    rollout = Rollout(
        obs=obs,
        actions=actions,
        log_probs=log_probs,
        rewards=jax.random.normal(k_rew, (t, n)),
        terminated=jnp.zeros((t, n), bool),
        truncated=jnp.zeros((t, n), bool),
        next_obs=jnp.roll(obs, -1, axis=0),
    )
    _, metrics = jax.jit(algo.update)(state, rollout, k_update)
    if n_epochs == 1:
        assert abs(float(metrics["approx_kl"])) < 1e-6
        assert float(metrics["clipfrac"]) == 0.0
    else:
        assert float(metrics["approx_kl"]) > 1e-6


# --- learning (slow: `pytest -m slow`) ---------------------------------------------

LEARN_CHAIN = [
    pytest.param(
        "ppo",
        {"n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2, "total_steps": 8192},
        id="ppo",
    ),  # fmt: skip
    pytest.param("a2c", {"total_steps": 20_000}, id="a2c"),
    pytest.param("reinforce", {"n_steps": 64, "total_steps": 20_000}, id="reinforce"),
    pytest.param("actor-critic", {"total_steps": 20_000}, id="actor-critic-v"),
    pytest.param("actor-critic", {"critic": "q", "total_steps": 20_000}, id="actor-critic-q"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("algo", "overrides"), LEARN_CHAIN)
def test_learns_the_chain(algo: str, overrides: dict[str, Any]) -> None:
    agent = ascent.make(algo, env="ascent/Chain-v0", seed=0, hidden=(16,), **overrides)
    assert agent.evaluate(episodes=4).mean_return < 0  # the initial policy never arrives
    agent.learn(progress=False)
    result = agent.evaluate(episodes=10)
    assert result.mean_return == pytest.approx(0.94, abs=1e-4), result.returns  # optimal
