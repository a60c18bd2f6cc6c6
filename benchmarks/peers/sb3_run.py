"""One Stable-Baselines3 / sb3-contrib run for benchmarks/compare.py, in the peer's own
virtualenv (benchmarks/envs/sb3); prints one JSON object on its last line.

    benchmarks/envs/sb3/bin/python benchmarks/peers/sb3_run.py ppo CartPole-v1 \\
        --config '{"n_envs": 8, ...}' --seed 0 --threads 1 --episodes 20

`--config` is Ascent's config for the same algorithm and environment (its preset, as
`ascent.algos.config.config_to_dict` writes it); this script maps every field that has a
Stable-Baselines3 counterpart onto it, so both run the same hyperparameters. It never
imports Ascent.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("algo", choices=["ppo", "a2c", "trpo", "sac", "td3"])
    p.add_argument("env")
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
    return p.parse_args()


def schedule(value: Any) -> Any:
    """Ascent's "linear(a, b)" (over training) as SB3's function of progress_remaining."""
    if isinstance(value, str):
        kind, args = value.split("(", 1)
        start, end = (float(x) for x in args.rstrip(")").split(","))
        assert kind.strip() == "linear", value
        return lambda remaining: end + (start - end) * remaining
    return float(value)


def on_policy_kwargs(algo: str, c: dict[str, Any]) -> dict[str, Any]:
    import torch

    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[c["activation"]]
    hidden = list(c["hidden"])
    kwargs: dict[str, Any] = {
        "n_steps": c["n_steps"],
        "gamma": c["gamma"],
        "gae_lambda": c["gae_lambda"],
        "normalize_advantage": c["normalize_advantages"],
        "policy_kwargs": {
            "net_arch": {"pi": hidden, "vf": hidden},
            "activation_fn": activation,
            "ortho_init": True,
            "log_std_init": c["log_std_init"],
        },
    }
    assert not c.get("shared_trunk", False) and c.get("core", {}).get("kind", "mlp") == "mlp"
    if algo == "ppo":
        assert c["objective"] == "clip" and c["target_kl"] is None and c["clip_vf"] is None
        kwargs.update(
            learning_rate=schedule(c["lr"]),
            batch_size=c["minibatch_size"],
            n_epochs=c["n_epochs"],
            clip_range=schedule(c["clip_eps"]),
            ent_coef=float(c["ent_coef"]),
            vf_coef=c["vf_coef"],
            max_grad_norm=c["max_grad_norm"],
        )
    elif algo == "a2c":
        assert c["optimizer"] == "rmsprop"
        kwargs.update(
            learning_rate=schedule(c["lr"]),
            ent_coef=float(c["ent_coef"]),
            vf_coef=c["vf_coef"],
            max_grad_norm=c["max_grad_norm"],
            use_rms_prop=True,
            rms_prop_eps=c["opt_eps"],
        )
    elif algo == "trpo":
        kwargs.update(
            learning_rate=schedule(c["critic_lr"]),
            batch_size=c["critic_minibatch_size"],
            n_critic_updates=c["n_critic_epochs"],
            cg_max_steps=c["cg_iters"],
            cg_damping=c["cg_damping"],
            line_search_shrinking_factor=c["backtrack_coef"],
            line_search_max_iter=c["backtrack_iters"],
            target_kl=c["target_kl"],
        )
    return kwargs


def off_policy_kwargs(algo: str, c: dict[str, Any], n_actions: int) -> dict[str, Any]:
    import numpy as np
    import torch
    from stable_baselines3.common.noise import NormalActionNoise

    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[c["activation"]]
    assert c["n_envs"] == 1 and not c["normalize_obs"]
    kwargs: dict[str, Any] = {
        "learning_rate": schedule(c["lr"]),
        "buffer_size": c["buffer_size"],
        "learning_starts": c["learning_starts"],
        "batch_size": c["minibatch_size"],
        "tau": c["tau"],
        "gamma": c["gamma"],
        "train_freq": c["train_freq"],
        "gradient_steps": c["gradient_steps"],
        "policy_kwargs": {"net_arch": list(c["hidden"]), "activation_fn": activation},
    }
    if c["action_noise"] == "normal":
        # SB3's noise acts on actions scaled to [-1, 1], as Ascent's σ × half the range
        sigma = float(schedule(c["noise_std"]))
        kwargs["action_noise"] = NormalActionNoise(np.zeros(n_actions), sigma * np.ones(n_actions))
    else:
        assert c["action_noise"] == "none"
    if algo == "sac":
        assert c["autotune"]
        target = "auto" if c["target_entropy"] is None else c["target_entropy"]
        kwargs.update(ent_coef=f"auto_{c['alpha']}", target_entropy=target)
    else:
        kwargs.update(
            policy_delay=c["policy_delay"],
            target_policy_noise=c["target_policy_noise"],
            target_noise_clip=c["target_noise_clip"],
        )
    return kwargs


def main() -> None:
    args = parse()
    import gymnasium as gym
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import sb3_contrib
    import stable_baselines3 as sb3
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    c = json.loads(args.config)
    classes = {"ppo": sb3.PPO, "a2c": sb3.A2C, "trpo": sb3_contrib.TRPO, "sac": sb3.SAC,
               "td3": sb3.TD3}  # fmt: skip
    env = make_vec_env(args.env, n_envs=c["n_envs"], seed=args.seed)
    normalized = c.get("normalize_obs", False) or c.get("normalize_reward", False)
    if normalized:  # Ascent's normalize_obs / normalize_reward are VecNormalize's
        from stable_baselines3.common.vec_env import VecNormalize

        env = VecNormalize(env, norm_obs=c["normalize_obs"], norm_reward=c["normalize_reward"],
                           clip_obs=c["clip_obs"], gamma=c["gamma"])  # fmt: skip
    if args.algo in ("ppo", "a2c", "trpo"):
        kwargs = on_policy_kwargs(args.algo, c)
    else:
        kwargs = off_policy_kwargs(args.algo, c, int(np.prod(env.action_space.shape)))
    model = classes[args.algo]("MlpPolicy", env, seed=args.seed, device="cpu", verbose=0,
                               **kwargs)  # fmt: skip
    start = time.perf_counter()
    model.learn(total_timesteps=c["total_steps"])
    learn = time.perf_counter() - start
    eval_env = Monitor(gym.make(args.env))
    eval_env.reset(seed=args.seed + 1_000_003)
    if normalized:  # the training statistics, frozen; raw rewards
        from stable_baselines3.common.vec_env import DummyVecEnv

        eval_env = VecNormalize(DummyVecEnv([lambda: eval_env]), training=False,
                                norm_obs=c["normalize_obs"], norm_reward=False,
                                clip_obs=c["clip_obs"])  # fmt: skip
        eval_env.obs_rms = env.obs_rms
    returns, _ = evaluate_policy(
        model, eval_env, n_eval_episodes=args.episodes, deterministic=True,
        return_episode_rewards=True,
    )  # fmt: skip
    shared = {}
    if args.shared_episodes:
        from episodes import shared_returns

        act = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
        returns_ = shared_returns(act, args.env, args.shared_episodes)
        shared = {"shared_return": float(np.mean(returns_)), "shared_returns": returns_}
    print(
        json.dumps(
            {
                "learn_s": learn,
                "env_steps": int(model.num_timesteps),
                "steps_per_s": model.num_timesteps / learn,
                "eval_return": float(np.mean(returns)),
                "eval_returns": [float(r) for r in returns],
                **shared,
                "threads": torch.get_num_threads(),
                "versions": {
                    "stable-baselines3": sb3.__version__,
                    "sb3-contrib": sb3_contrib.__version__,
                    "torch": torch.__version__,
                    "gymnasium": gym.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
