from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.envs import make
from ascent.envs.jax_env import JaxEnv
from ascent.envs.tasks import RepeatFirst, RepeatPrevious, TMaze
from ascent.envs.tasks.tmaze import DOWN, FORWARD, UP
from ascent.errors import EnvError

# A policy: (obs [F], carry, key) -> (action, carry); memoryless ones ignore the carry.
Policy = Callable[[jax.Array, Any, jax.Array], tuple[jax.Array, Any]]


def run(env: JaxEnv, policy: Policy, carry: Any, steps: int, n_envs: int, seed: int = 0) -> dict:
    """`n_envs` copies for `steps` steps under jit and vmap; per-step arrays [T, N, ...]."""

    def one_env(key: jax.Array) -> dict:
        key, reset_key = jax.random.split(key)
        obs, state = env.reset(reset_key)

        def body(c, key):  # type: ignore[no-untyped-def]
            obs, state, carry = c
            act_key, step_key = jax.random.split(key)
            action, carry = policy(obs, carry, act_key)
            out = env.step(step_key, state, action)
            new_obs, new_state, reward, terminated, truncated, next_obs = out
            record = dict(
                obs=obs,
                state=state,
                action=action,
                reward=reward,
                terminated=terminated,
                truncated=truncated,
                next_obs=next_obs,
            )
            return (new_obs, new_state, carry), record

        return jax.lax.scan(body, (obs, state, carry), jax.random.split(key, steps))[1]

    keys = jax.random.split(jax.random.key(seed), n_envs)
    out = jax.jit(jax.vmap(one_env))(keys)
    return jax.tree.map(lambda a: np.asarray(a).swapaxes(0, 1), out)  # [T, N, ...]


def episode_returns(out: dict) -> np.ndarray:
    """Returns of the episodes that ended, in any order."""
    done = out["terminated"] | out["truncated"]  # [T, N]
    episode = np.cumsum(done, axis=0) - done  # index of the episode each step belongs to
    returns = []
    for n in range(done.shape[1]):
        totals = np.bincount(episode[:, n], weights=out["reward"][:, n])
        returns.extend(totals[: done[:, n].sum()])
    return np.asarray(returns)


def random_policy(n: int) -> Policy:
    return lambda obs, carry, key: (jax.random.randint(key, (), 0, n), carry)


def test_spaces_ids_and_registry() -> None:
    for env_id, cls, obs_dim, n_actions in [
        ("ascent/TMaze-v0", TMaze, 4, 3),
        ("ascent/RepeatFirst-v0", RepeatFirst, 4, 4),
        ("ascent/RepeatPrevious-v0", RepeatPrevious, 4, 4),
    ]:
        env = make(env_id)
        assert isinstance(env, cls) and isinstance(env, JaxEnv) and env.env_id == env_id
        assert env.observation_space.shape == (obs_dim,) and env.action_space.n == n_actions
        obs, _ = env.reset(jax.random.key(0))
        assert obs.dtype == jnp.float32 and env.observation_space.contains(np.asarray(obs))
        assert hash(env) == hash(cls())
    assert make("ascent/TMaze-v0").length >= 10
    assert make("ascent/TMaze-v0", length=20, max_episode_steps=60).max_episode_steps == 60
    assert make("ascent/RepeatPrevious-v0", k=2, num_symbols=3).k == 2
    assert make("ascent/RepeatFirst-v0", length=8).max_episode_steps == 8


def test_invalid_options() -> None:
    with pytest.raises(EnvError, match="max_episode_steps"):
        TMaze(length=10, max_episode_steps=10)
    with pytest.raises(EnvError, match="length > k"):
        RepeatPrevious(k=4, length=4)
    with pytest.raises(EnvError, match="num_symbols"):
        RepeatFirst(num_symbols=1)


def test_tmaze_cue_is_visible_only_at_the_start() -> None:
    env = TMaze(length=4, max_episode_steps=12)
    out = run(env, random_policy(3), None, steps=200, n_envs=8)
    done = out["terminated"] | out["truncated"]
    first = np.concatenate([np.ones((1, 8), bool), done[:-1]])  # first step of an episode
    cue = out["obs"][..., :2]
    np.testing.assert_array_equal(cue.sum(-1), first)
    np.testing.assert_array_equal(cue[first].argmax(-1), out["state"].cue[first])
    assert not out["next_obs"][..., :2].any()  # the cue is never shown after the start
    assert done.sum() > 50 and out["terminated"].any() and out["truncated"].any()
    both_cues = np.unique(out["state"].cue[first])
    np.testing.assert_array_equal(both_cues, [0, 1])


def _oracle(obs: jax.Array, cue: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Remember the cue from the first observation; walk forward; take the cued arm."""
    del key
    cue = jnp.where(obs[:2].any(), obs[1], cue)  # 0: up pays, 1: down pays
    action = jnp.where(obs[2] > 0, jnp.where(cue > 0, DOWN, UP), FORWARD)
    return action, cue


def test_tmaze_oracle_gets_the_best_return_memoryless_half() -> None:
    env = TMaze()  # corridor of 10
    out = run(env, _oracle, jnp.zeros(()), steps=11 * 20, n_envs=50)
    returns = episode_returns(out)
    assert len(returns) == 1000 and (returns == 1.0).all()  # every episode, length + 1 steps
    assert not out["truncated"].any()

    def memoryless(obs: jax.Array, carry: None, key: jax.Array) -> tuple[jax.Array, None]:
        del key  # a fixed map from the observation: forward, then always up at the junction
        return jnp.where(obs[2] > 0, UP, FORWARD), carry

    def coin(obs: jax.Array, carry: None, key: jax.Array) -> tuple[jax.Array, None]:
        # uses the cue when it can see it (bumps the wall on a down cue), guesses at the end
        turn = jnp.where(jax.random.bernoulli(key), UP, DOWN)
        return jnp.where(obs[2] > 0, turn, jnp.where(obs[1] > 0, DOWN, FORWARD)), carry

    for policy in (memoryless, coin):
        returns = episode_returns(run(env, policy, None, steps=11 * 10, n_envs=300, seed=1))
        assert len(returns) >= 2000
        assert set(np.unique(returns)) <= {0.0, 1.0}
        assert abs(returns.mean() - 0.5) < 0.05  # binomial std ≈ 0.011


def test_tmaze_rewards_and_penalties() -> None:
    env = TMaze(length=2, max_episode_steps=5, wrong_reward=-1.0, step_penalty=0.1)
    out = run(env, lambda o, c, k: (jnp.where(o[2] > 0, DOWN, FORWARD), c), None, 3, 200)
    cue = out["state"].cue[0]
    np.testing.assert_allclose(out["reward"][:2], -0.1, atol=1e-6)
    np.testing.assert_allclose(out["reward"][2], np.where(cue == 1, 0.9, -1.1), atol=1e-6)
    assert out["terminated"][2].all() and not out["terminated"][:2].any()


def test_tmaze_auto_reset_keeps_the_true_final_obs() -> None:
    env = TMaze(length=3, max_episode_steps=6)
    # Up in the corridor bumps the wall: never reaches the junction, truncated at step 6.
    out = run(env, lambda o, c, k: (jnp.asarray(UP), c), None, steps=6, n_envs=4)
    assert out["truncated"][-1].all() and not out["truncated"][:-1].any()
    np.testing.assert_array_equal(out["next_obs"][-1], np.tile([0, 0, 0, 1], (4, 1)))
    # The oracle ends in an arm at step 4: next_obs is the arm, obs a fresh cue.
    out = run(env, _oracle, jnp.zeros(()), steps=5, n_envs=4)
    assert out["terminated"][3].all()
    np.testing.assert_array_equal(out["next_obs"][3], np.tile([0, 0, 0, 1], (4, 1)))
    np.testing.assert_array_equal(out["next_obs"][2][:, 2], 1)  # at the junction before
    np.testing.assert_array_equal(out["obs"][4][:, :2].sum(-1), 1)  # the new episode's cue
    np.testing.assert_array_equal(
        out["obs"][:4], np.concatenate([out["obs"][:1], out["next_obs"][:3]])
    )


def test_tasks_are_seeded_by_their_keys() -> None:
    env = TMaze()
    cues = jax.vmap(lambda k: env.reset(k)[1].cue)(jax.random.split(jax.random.key(0), 64))
    again = jax.vmap(lambda k: env.reset(k)[1].cue)(jax.random.split(jax.random.key(0), 64))
    np.testing.assert_array_equal(cues, again)
    assert 10 < int(cues.sum()) < 54
    a = run(RepeatFirst(), random_policy(4), None, 40, 3, seed=5)
    b = run(RepeatFirst(), random_policy(4), None, 40, 3, seed=5)
    c = run(RepeatFirst(), random_policy(4), None, 40, 3, seed=6)
    np.testing.assert_array_equal(a["obs"], b["obs"])
    assert not np.array_equal(a["obs"], c["obs"])


@pytest.mark.parametrize("env", [RepeatFirst(length=6), RepeatPrevious(k=2, length=6)])
def test_repeat_rewards_correct_answers_only(env: RepeatFirst | RepeatPrevious) -> None:
    out = run(env, random_policy(env.num_symbols), None, steps=60, n_envs=20)
    t = out["state"].time  # [T, N]
    symbols = out["state"].symbols  # [T, N, length + 1]
    np.testing.assert_array_equal(
        out["obs"].argmax(-1), np.take_along_axis(symbols, t[..., None], -1)[..., 0]
    )
    k = 0 if isinstance(env, RepeatFirst) else env.k
    target_index = np.zeros_like(t) if isinstance(env, RepeatFirst) else t - k
    target = np.take_along_axis(symbols, np.maximum(target_index, 0)[..., None], -1)[..., 0]
    correct = (out["action"] == target) & (target_index >= 0)
    np.testing.assert_allclose(out["reward"], correct / (env.length - k), atol=1e-7)
    assert correct.any() and (~correct).any()
    assert out["terminated"].sum() == 200 and not out["truncated"].any()  # 60 / 6 per env
    np.testing.assert_array_equal(out["terminated"], t == env.length - 1)


@pytest.mark.parametrize("env", [RepeatFirst(), RepeatPrevious()])
def test_repeat_oracle_scores_one_and_guessing_does_not(env: RepeatFirst | RepeatPrevious) -> None:
    k = 0 if isinstance(env, RepeatFirst) else env.k

    def oracle(obs: jax.Array, carry: tuple[jax.Array, jax.Array], key: jax.Array):  # type: ignore[no-untyped-def]
        history, t = carry  # the symbols seen this episode, and the step
        history = history.at[t].set(jnp.argmax(obs))
        answer = history[0] if isinstance(env, RepeatFirst) else history[jnp.maximum(t - k, 0)]
        return answer, (history, (t + 1) % env.length)

    carry = (jnp.zeros(env.length, jnp.int32), jnp.zeros((), jnp.int32))
    returns = episode_returns(run(env, oracle, carry, steps=env.length * 5, n_envs=10))
    np.testing.assert_allclose(returns, 1.0, atol=1e-5)

    def echo(obs: jax.Array, carry: None, key: jax.Array) -> tuple[jax.Array, None]:
        return jnp.argmax(obs), carry  # memoryless: repeat what is shown

    returns = episode_returns(run(env, echo, None, steps=env.length * 50, n_envs=20))
    chance = 1 / env.num_symbols
    expected = 1 / env.length + (1 - 1 / env.length) * chance if k == 0 else chance
    assert abs(returns.mean() - expected) < 0.03


@pytest.mark.parametrize("env", [RepeatFirst(length=5), RepeatPrevious(k=1, length=5)])
def test_repeat_auto_reset_keeps_the_true_final_obs(env: RepeatFirst | RepeatPrevious) -> None:
    out = run(env, random_policy(env.num_symbols), None, steps=6, n_envs=30)
    eye = np.eye(env.num_symbols)
    old, new = out["state"].symbols[4], out["state"].symbols[5]  # [N, length + 1]
    assert out["terminated"][4].all() and not out["terminated"][:4].any()
    np.testing.assert_array_equal(out["next_obs"][4], eye[old[:, 5]])  # the step's true result
    np.testing.assert_array_equal(out["obs"][5], eye[new[:, 0]])  # a fresh episode
    np.testing.assert_array_equal(out["state"].time[5], 0)
    assert (old != new).any(axis=1).all()
    np.testing.assert_array_equal(out["next_obs"][:4], out["obs"][1:5])
