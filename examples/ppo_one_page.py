"""PPO on CartPole in one page: a whole training run as one compiled function.

Ascent's own pieces, in the order one iteration runs them:
  1. collect: `RolloutCollector` steps N gymnax CartPoles (`ascent.envs.make`) for T
     steps under the policy (`acting.Policy` → `PPO.act`), giving a `Rollout` [T, N];
  2. advantages: GAE(λ) from `ascent.core.returns.gae`, the first thing `PPO.update`
     computes (in `PPO.minibatch_units`); computed here a second time only to log them;
  3. update: `PPO.update`, n_epochs passes over shuffled minibatches of the clipped
     surrogate loss.
One iteration is traced once, and `jax.lax.scan` runs them all in one `jax.jit` call.
It is the library's loop (`ascent.make("ppo", ...).learn()`, `OnPolicyLoop`) written
out: tests/test_examples.py checks that both end on the same bits.

Run:  .venv/bin/python examples/ppo_one_page.py
It trains for 100k steps in one call, then prints the mean return of the episodes that
ended in each stretch of 40 iterations and evaluates the greedy policy on fresh
environments.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp

from ascent.algos.ppo import PPO, PPOConfig
from ascent.buffers import Rollout
from ascent.core.returns import gae
from ascent.core.schedules import Schedule
from ascent.envs import JaxEnv, make
from ascent.nn.encoders import ObsSpec
from ascent.train.acting import Policy
from ascent.train.collectors import RolloutCollector
from ascent.train.loop import (
    LoopState,
    Normalizer,
    init_loop_state,
    split_iteration_key,
    track_episodes,
)

ENV = "gymnax/CartPole-v1"
# RL Baselines3 Zoo's CartPole settings, which are also Ascent's preset (presets/ppo.toml)
CONFIG = PPOConfig(
    total_steps=100_000,
    n_envs=8,
    n_steps=32,
    minibatch_size=256,
    n_epochs=20,
    gamma=0.98,
    gae_lambda=0.8,
    lr=Schedule("linear", 1e-3, 0.0),
    clip_eps=Schedule("linear", 0.2, 0.0),
)


def pieces(config: PPOConfig) -> tuple[JaxEnv, PPO, Policy]:
    """One unbatched environment (the collector vmaps it), the algorithm and its policy."""
    # the update below sees raw observations and rewards: normalising them is the job of
    # OnPolicyLearner, left out of this page (CartPole needs none)
    assert not (config.normalize_obs or config.normalize_reward)
    env = make(ENV)
    ppo = PPO(config, env.observation_space, env.action_space)
    return env, ppo, Policy(ppo, Normalizer(config, ObsSpec.of(env.observation_space)))


def advantages(ppo: PPO, algo: Any, rollout: Rollout) -> jax.Array:
    """GAE(λ) advantages [T, N], the same call as in `PPO.minibatch_units`."""
    _, values = ppo.model.unroll(algo.params, rollout)  # V(obs[t]) [T, N]
    next_values = ppo.model.bootstrap_values(algo.params, rollout)  # V(next_obs[t]) [T, N]
    return gae(
        rewards=rollout.rewards,
        values=values,
        next_values=next_values,
        terminated=rollout.terminated,  # no bootstrap past a true end
        truncated=rollout.truncated,  # bootstrap from V(next_obs), then restart
        gamma=ppo.config.gamma,
        gae_lambda=ppo.config.gae_lambda,
    )


def train(config: PPOConfig, seed: int, iterations: int | None = None) -> tuple[LoopState, dict]:
    """`iterations` collect → update iterations (default: the config's total_updates)
    from `seed` in one compiled call; returns (final state, metrics {name: [iterations]})."""
    iterations = config.total_updates if iterations is None else iterations
    env, ppo, policy = pieces(config)
    collector = RolloutCollector(env, policy, config.n_envs)

    def iteration(state: LoopState, _: None) -> tuple[LoopState, dict]:
        key, act_keys, env_keys, learn_key = split_iteration_key(state.key, config.n_steps)
        state, rollout = collector.collect(state, act_keys, env_keys)  # rollout [T, N]
        adv = advantages(ppo, state.algo, rollout)  # for the log: the update makes its own
        algo, metrics = ppo.update(state.algo, rollout, learn_key)  # GAE, then the epochs
        dones = rollout.terminated | rollout.truncated
        episodes, ended = track_episodes(state.episodes, rollout.rewards, dones)
        state = state._replace(
            algo=algo,
            key=key,
            episodes=episodes,
            env_steps=state.env_steps.add(config.batch_size),
            iteration=state.iteration.add(1),
        )
        return state, {**metrics, **ended, "adv_mean": adv.mean(), "adv_std": adv.std()}

    run = jax.jit(lambda state: jax.lax.scan(iteration, state, length=iterations))
    return run(init_loop_state(ppo, env, config.n_envs, seed, is_jax=True))


def evaluate(config: PPOConfig, state: LoopState, seed: int, n_envs: int = 16) -> jax.Array:
    """Returns [n_envs] of one greedy episode in each of n_envs fresh environments."""
    env, _, policy = pieces(config)

    def step(carry: tuple, key: jax.Array) -> tuple[tuple, None]:
        obs, env_state, ret, running = carry
        action, _ = policy.act(state.algo, state.norm, obs, key, deterministic=True)
        step_env = jax.vmap(env.step)
        obs, env_state, reward, term, trunc, _ = step_env(
            jax.random.split(key, n_envs), env_state, action
        )
        return (obs, env_state, ret + reward * running, running & ~(term | trunc)), None

    obs, env_state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(seed), n_envs))
    start = (obs, env_state, jnp.zeros(n_envs), jnp.ones(n_envs, bool))
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), env.max_episode_steps)
    return jax.jit(lambda: jax.lax.scan(step, start, keys)[0][2])()


if __name__ == "__main__":
    began = time.perf_counter()
    state, metrics = jax.block_until_ready(train(CONFIG, seed=0))
    seconds = time.perf_counter() - began
    every = 40
    for i in range(every, CONFIG.total_updates + every, every):
        last = slice(i - every, i)
        mean = metrics["episode_return_sum"][last].sum() / metrics["episodes"][last].sum()
        print(
            f"iteration {min(i, CONFIG.total_updates):4d}  mean return {mean:6.1f}  "
            f"advantages {metrics['adv_mean'][last].mean():+.3f} ± "
            f"{metrics['adv_std'][last].mean():.3f}"
        )
    print(f"{int(state.env_steps)} steps in {seconds:.1f} s, compiling included")
    returns = evaluate(CONFIG, state, seed=1_000_003)
    print(f"greedy policy, {returns.size} episodes: return {returns.mean():.1f}")
