"""One rejax run for benchmarks/compare.py, in the peer's own virtualenv
(benchmarks/envs/rejax); prints one JSON object on its last line.

    benchmarks/envs/rejax/bin/python benchmarks/peers/rejax_run.py ppo CartPole-v1 \\
        --config '{"n_envs": 8, ...}' --seed 0 --cache DIR --episodes 20

rejax trains on gymnax's environments, the whole run one compiled program. `--config`
is Ascent's config (as `config_to_dict` writes it); the fields rejax has are mapped
onto it. What rejax cannot take is listed in the JSON's "differences": PPO's clip range
stays constant (Ascent and SB3 decay it linearly to 0) and rejax always clips the value
loss with it. Noise scales are in the environment's action units in rejax, in units of
half the action range in Ascent and SB3, so they are converted. TD3's networks are fixed
at 64×64 in rejax's `create`; they are replaced by networks of Ascent's sizes, so all
three libraries train the same architecture.

Timing: `learn_s` is compiling (from the persistent cache when it is warm) plus running,
as Ascent's `learn` is timed; `run_s` is the run alone. The evaluation is deterministic
(the mode of the policy), over `--episodes` episodes. It never imports Ascent.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("algo", choices=["ppo", "sac", "td3"])
    p.add_argument("env", help="a gymnax id, e.g. CartPole-v1")
    p.add_argument("--config", required=True, help="Ascent's config as JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument(
        "--shared-episodes",
        type=int,
        default=0,
        help="also run the Gymnasium episodes every contestant shares (episodes.py)",
    )
    p.add_argument("--cache", default=None, help="persistent compilation cache folder")
    return p.parse_args()


def linear(value: Any, count: int) -> Any:
    """Ascent's "linear(a, b)" as an optax schedule over `count` optimiser steps."""
    import optax

    if isinstance(value, str):
        start, end = (float(x) for x in value.split("(", 1)[1].rstrip(")").split(","))
        return optax.linear_schedule(start, end, count)
    return float(value)


def make_ppo(c: dict[str, Any], env: str) -> tuple[Any, list[str]]:
    from rejax import PPO

    differences = []
    batch = c["n_envs"] * c["n_steps"]
    iterations = -(-c["total_steps"] // batch)
    minibatches = batch // c["minibatch_size"]
    clip = c["clip_eps"]
    if isinstance(clip, str):  # rejax's clip_eps is a number
        clip = float(clip.split("(", 1)[1].split(",")[0])
        differences.append(f"clip_eps constant {clip} (Ascent: {c['clip_eps']})")
    differences.append("value loss clipped with clip_eps (rejax always does)")
    algo = PPO.create(
        env=env,
        num_envs=c["n_envs"],
        num_steps=c["n_steps"],
        num_minibatches=minibatches,
        num_epochs=c["n_epochs"],
        gamma=c["gamma"],
        gae_lambda=c["gae_lambda"],
        learning_rate=linear(c["lr"], iterations * c["n_epochs"] * minibatches),
        clip_eps=clip,
        vf_coef=c["vf_coef"],
        ent_coef=float(c["ent_coef"]),
        max_grad_norm=c["max_grad_norm"],
        total_timesteps=c["total_steps"],
        eval_freq=c["total_steps"],
        skip_initial_evaluation=True,
        agent_kwargs={"activation": c["activation"], "hidden_layer_sizes": tuple(c["hidden"])},
    )
    return algo, differences


def make_offpolicy(algo_name: str, c: dict[str, Any], env: str) -> tuple[Any, list[str]]:
    import gymnax
    import numpy as np
    from rejax import SAC, TD3
    from rejax.networks import DeterministicPolicy, QNetwork

    assert c["n_envs"] == 1 and c["train_freq"] == 1 and c["gradient_steps"] == 1
    _, params = gymnax.make(env)
    space = gymnax.make(env)[0].action_space(params)
    half_range = float(np.max((space.high - space.low) / 2))
    common = dict(
        env=env,
        num_envs=1,
        buffer_size=c["buffer_size"],
        fill_buffer=c["learning_starts"],
        batch_size=c["minibatch_size"],
        gamma=c["gamma"],
        polyak=1.0 - c["tau"],
        learning_rate=float(c["lr"]),
        total_timesteps=c["total_steps"],
        eval_freq=c["total_steps"],
        skip_initial_evaluation=True,
    )
    if algo_name == "sac":
        assert c["autotune"] and c["alpha"] == 1.0 and c["target_entropy"] is None
        algo = SAC.create(
            **common,
            hidden_layer_sizes=tuple(c["hidden"]),
            agent_kwargs={"activation": c["activation"]},
        )
        return algo, []
    algo = TD3.create(
        **common,
        exploration_noise=float(c["noise_std"]) * half_range,
        target_noise=c["target_policy_noise"] * half_range,
        target_noise_clip=c["target_noise_clip"] * half_range,
        policy_delay=c["policy_delay"],
    )
    import flax.linen as nn

    activation = getattr(nn, c["activation"])
    hidden = tuple(c["hidden"])
    actor = DeterministicPolicy(
        algo.actor.action_dim, algo.actor.action_range, hidden_layer_sizes=hidden,
        activation=activation,
    )  # fmt: skip
    critic = QNetwork(hidden_layer_sizes=hidden, activation=activation)
    return algo.replace(actor=actor, critic=critic), []


def deterministic_act(name: str, algo: Any, ts: Any) -> Any:
    """act(obs, rng) -> the policy's most likely action, for one observation."""
    import jax.numpy as jnp

    def act(obs: Any, rng: Any) -> Any:
        obs = jnp.expand_dims(obs, 0)
        if name == "ppo":
            dist = algo.actor.apply(ts.actor_ts.params, obs, method="_action_dist")
            return jnp.squeeze(dist.mode())
        if name == "sac":
            dist = algo.actor.apply(ts.actor_ts.params, obs, method="_action_dist")
            action = jnp.tanh(dist.mean())
            return jnp.squeeze(algo.actor.action_loc + action * algo.actor.action_scale, 0)
        return jnp.squeeze(algo.actor.apply(ts.actor_ts.params, obs), 0)

    return act


def main() -> None:
    args = parse()
    import jax

    if args.cache:
        jax.config.update("jax_compilation_cache_dir", args.cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    import gymnax
    import numpy as np
    import rejax
    from rejax.evaluate import evaluate

    c = json.loads(args.config)
    if args.algo == "ppo":
        algo, differences = make_ppo(c, args.env)
    else:
        algo, differences = make_offpolicy(args.algo, c, args.env)
    rng = jax.random.PRNGKey(args.seed)
    start = time.perf_counter()
    train = jax.jit(algo.train).lower(rng).compile()
    compiled = time.perf_counter()
    ts, _ = jax.block_until_ready(train(rng))
    end = time.perf_counter()
    env, env_params = gymnax.make(args.env)
    act = deterministic_act(args.algo, algo, ts)
    lengths, returns = evaluate(
        act, jax.random.PRNGKey(args.seed + 1_000_003), env, env_params, args.episodes,
        env_params.max_steps_in_episode,
    )  # fmt: skip
    returns = np.asarray(returns, np.float64)
    shared = {}
    if args.shared_episodes:
        from episodes import shared_returns

        act_one = jax.jit(act)
        key = jax.random.PRNGKey(0)  # unused: the actions are deterministic
        returns_ = shared_returns(
            lambda obs: act_one(np.asarray(obs, np.float32), key), args.env, args.shared_episodes
        )
        shared = {"shared_return": float(np.mean(returns_)), "shared_returns": returns_}
    steps = int(ts.global_step)
    print(
        json.dumps(
            {
                "learn_s": end - start,
                "run_s": end - compiled,
                "compile_s": compiled - start,
                "env_steps": steps,
                "steps_per_s": steps / (end - start),
                "eval_return": float(returns.mean()),
                "eval_returns": [float(r) for r in returns],
                **shared,
                "differences": differences,
                "versions": {
                    "rejax": rejax.__version__ if hasattr(rejax, "__version__") else "?",
                    "jax": jax.__version__,
                },  # fmt: skip
            }
        )
    )


if __name__ == "__main__":
    main()
