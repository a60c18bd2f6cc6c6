"""TRPO: every accepted step stays inside the KL trust region (measured independently,
in float64), a rejected line search leaves the policy untouched, and short runs on
Discrete and Box spaces through the compiled door."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.algos import TRPO, TRPOConfig
from ascent.buffers import Rollout
from ascent.core.distributions import Categorical
from ascent.envs import env_action
from ascent.envs import make as make_env
from ascent.errors import ConfigError

N_ENVS, N_STEPS = 4, 32
SMALL = {"hidden": (16,), "n_envs": N_ENVS, "n_steps": N_STEPS, "critic_minibatch_size": 32}


def collect(algo: TRPO, state: Any, env: Any, carry: tuple, key: jax.Array) -> tuple:
    """N_STEPS steps of N_ENVS environments through the JAX door's `step` contract."""

    def step(carry: tuple, key: jax.Array) -> tuple:
        env_state, obs = carry
        act_key, env_key = jax.random.split(key)
        action, log_prob = algo.act(state, obs, act_key)
        obs_next, env_state, reward, term, trunc, next_obs = jax.vmap(env.step)(
            jax.random.split(env_key, N_ENVS), env_state, env_action(action, env.action_space)
        )
        return (env_state, obs_next), Rollout(obs, action, log_prob, reward, term, trunc, next_obs)

    return jax.lax.scan(step, carry, jax.random.split(key, N_STEPS))


def mean_kl_float64(old: Any, new: Any) -> float:
    """mean_s KL(old(·|s) ‖ new(·|s)) in float64 numpy, written out independently of
    `ascent.core.distributions`."""
    if isinstance(old, Categorical):
        logp = np.asarray(old.logits, np.float64)
        logq = np.asarray(new.logits, np.float64)
        logp = logp - np.logaddexp.reduce(logp, axis=-1, keepdims=True)
        logq = logq - np.logaddexp.reduce(logq, axis=-1, keepdims=True)
        return float(np.mean(np.sum(np.exp(logp) * (logp - logq), axis=-1)))
    mu_p, mu_q = np.asarray(old.mean, np.float64), np.asarray(new.mean, np.float64)
    ls_p = np.broadcast_to(np.asarray(old.log_std, np.float64), mu_p.shape)
    ls_q = np.broadcast_to(np.asarray(new.log_std, np.float64), mu_q.shape)
    var_p, var_q = np.exp(2 * ls_p), np.exp(2 * ls_q)
    per_dim = ls_q - ls_p + (var_p + (mu_p - mu_q) ** 2) / (2 * var_q) - 0.5
    return float(np.mean(np.sum(per_dim, axis=-1)))


def same_tree(a: Any, b: Any) -> bool:
    return all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


@pytest.mark.parametrize(
    ("env_id", "overrides", "must_backtrack"),
    [
        pytest.param("gymnax/CartPole-v1", {}, False, id="discrete-defaults"),
        pytest.param("gymnax/Pendulum-v1", {}, False, id="box-defaults"),
        # a wide region and almost no damping: the quadratic model overshoots and the
        # line search has to shrink some steps
        pytest.param(
            "gymnax/CartPole-v1", {"target_kl": 0.05, "cg_damping": 1e-3}, True, id="discrete-wide"
        ),
        pytest.param("gymnax/Pendulum-v1", {"target_kl": 1.0}, True, id="box-wide"),
    ],
)
def test_every_accepted_update_stays_inside_the_trust_region(
    env_id: str, overrides: dict, must_backtrack: bool
) -> None:
    env = make_env(env_id, n_envs=N_ENVS)
    config = TRPOConfig(**{**SMALL, **overrides})
    algo = TRPO(config, env.observation_space, env.action_space)

    @jax.jit
    def iteration(state: Any, carry: tuple, key: jax.Array) -> tuple:
        collect_key, update_key = jax.random.split(key)
        carry, rollout = collect(algo, state, env, carry, collect_key)
        new_state, metrics = algo.update(state, rollout, update_key)
        obs = rollout.obs.reshape(-1, *rollout.obs.shape[2:])
        old_dist = algo.actor.apply(state.params["actor"], obs)
        new_dist = algo.actor.apply(new_state.params["actor"], obs)
        return new_state, carry, metrics, old_dist, new_dist

    state = algo.init(jax.random.PRNGKey(0))
    obs, env_state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(1), N_ENVS))
    carry = (env_state, obs)
    accepted, backtracked = 0, 0
    for i in range(6):
        new_state, carry, metrics, old_dist, new_dist = iteration(
            state, carry, jax.random.PRNGKey(10 + i)
        )
        kl = mean_kl_float64(old_dist, new_dist)
        if bool(metrics["line_search_accepted"]):
            accepted += 1
            backtracked += int(metrics["line_search_iters"]) > 1
            assert kl <= config.target_kl + 1e-6, (i, kl)
            assert float(metrics["kl"]) == pytest.approx(kl, rel=1e-3, abs=1e-6)
            assert 0 < float(metrics["step_fraction"]) <= 1
            assert float(metrics["surrogate_improvement"]) > 0
        else:
            assert same_tree(new_state.params["actor"], state.params["actor"])
        assert int(new_state.updates) == i + 1
        state = new_state
    assert accepted >= 4  # the property above was checked on real steps
    if must_backtrack:
        assert backtracked >= 1


def test_a_rejected_line_search_leaves_the_actor_exactly_unchanged() -> None:
    """Force a rejection: rewards favour actions near the mean, so the natural gradient
    shrinks σ; in a huge region (δ = 100) the full and half steps cut log σ by ~10
    and ~5, whose true KL (∝ σ_old²/σ_new²) is far above δ."""
    env = make_env("gymnax/Pendulum-v1", n_envs=N_ENVS)
    config = TRPOConfig(
        **SMALL, target_kl=100.0, backtrack_iters=2, backtrack_coef=0.5, normalize_advantages=True
    )
    algo = TRPO(config, env.observation_space, env.action_space)
    state = algo.init(jax.random.PRNGKey(0))
    obs_key, act_key = jax.random.split(jax.random.PRNGKey(1))
    obs = jax.random.normal(obs_key, (N_STEPS, N_ENVS, 3))
    actions, log_probs = algo.act(state, obs, act_key)
    dist = algo.actor.apply(state.params["actor"], obs)
    z = (actions - dist.mean) * jnp.exp(-dist.log_std)
    ended = jnp.ones((N_STEPS, N_ENVS), bool)
    rollout = Rollout(obs, actions, log_probs, -jnp.sum(z**2, -1), ended, ~ended, obs)

    new_state, metrics = jax.jit(algo.update)(state, rollout, jax.random.PRNGKey(2))

    assert float(metrics["max_step"]) > 1  # a real, large candidate step existed
    assert not bool(metrics["line_search_accepted"])
    assert int(metrics["line_search_iters"]) == 2
    assert float(metrics["step_fraction"]) == 0.0 and float(metrics["kl"]) == 0.0
    assert same_tree(new_state.params["actor"], state.params["actor"])
    assert not same_tree(new_state.params["critic"], state.params["critic"])  # critic still fits


@pytest.mark.parametrize("env_id", ["ascent/Chain-v0", "gymnax/Pendulum-v1"])
def test_short_run_through_the_compiled_door(env_id: str, tmp_path: Any) -> None:
    """Discrete and Box: a few updates via `ascent.make(...).learn`, metrics logged."""
    agent = ascent.make("trpo", env=env_id, seed=3, total_steps=3 * N_ENVS * N_STEPS, **SMALL)
    assert agent.is_jax_door
    before = agent.state.algo.params
    agent.learn(progress=False, run_dir=tmp_path, log_every=1)
    assert int(agent.state.algo.updates) == 3
    header, *rows = (tmp_path / "metrics.csv").read_text().splitlines()
    columns = header.split(",")
    for name in (
        "kl",
        "step_fraction",
        "line_search_iters",
        "cg_residual",
        "surrogate_improvement",
        "entropy",
        "value_loss",
        "policy_loss",
        "ent_coef",
    ):
        assert name in columns, name
    table = np.array([[float(x) for x in row.split(",")] for row in rows])
    assert table.shape[0] == 3 and np.isfinite(table).all()
    kl = table[:, columns.index("kl")]
    assert (kl <= agent.config.target_kl + 1e-6).all()
    assert not same_tree(before, agent.state.algo.params)
    result = agent.evaluate(episodes=2)
    assert len(result.returns) == 2 and np.isfinite(result.returns).all()


def test_entropy_bonus_enters_the_surrogate() -> None:
    """With a large ent_coef and zero advantages the only force is the entropy: the
    accepted step raises the policy's entropy, and ent_coef is logged."""
    env = make_env("ascent/Chain-v0", n_envs=N_ENVS)
    config = TRPOConfig(**SMALL, ent_coef=1.0, normalize_advantages=False, gamma=0.0)
    algo = TRPO(config, env.observation_space, env.action_space)
    state = algo.init(jax.random.PRNGKey(0))
    # start from a peaked policy: multiply the actor's output layer
    state = state._replace(
        params={
            **state.params,
            "actor": jax.tree.map(lambda p: 50.0 * p, state.params["actor"]),
        }
    )
    obs_key, act_key = jax.random.split(jax.random.PRNGKey(1))
    obs = jax.random.normal(obs_key, (N_STEPS, N_ENVS, *env.observation_space.shape))
    actions, log_probs = algo.act(state, obs, act_key)
    values = algo.critic.apply(state.params["critic"], obs)
    ended = jnp.ones((N_STEPS, N_ENVS), bool)
    rollout = Rollout(obs, actions, log_probs, values, ended, ~ended, obs)  # Â = r − V = 0
    new_state, metrics = jax.jit(algo.update)(state, rollout, jax.random.PRNGKey(2))
    entropy_after = algo.actor.apply(new_state.params["actor"], obs).entropy().mean()
    assert bool(metrics["line_search_accepted"])
    assert float(entropy_after) > float(metrics["entropy"]) + 1e-3
    assert float(metrics["ent_coef"]) == 1.0


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("target_kl", 0.0),
        ("cg_iters", 0),
        ("cg_damping", -0.1),
        ("backtrack_iters", 0),
        ("backtrack_coef", 1.0),
        ("critic_lr", 0.0),
        ("n_critic_epochs", 0),
        ("critic_minibatch_size", 8 * 256 + 1),
        ("gae_lambda", 1.5),
        ("lr", 1e-3),  # TRPO has no actor learning rate
    ],
)
def test_bad_settings_are_refused_naming_the_field(field: str, bad: Any) -> None:
    with pytest.raises(ConfigError, match=rf"\b{field}\b"):
        ascent.catalog.registry.make_config("trpo", "CartPole-v1", {field: bad})
