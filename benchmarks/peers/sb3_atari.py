"""One Stable-Baselines3 PPO run on Atari for benchmarks/pixels.py, in the peer's own
virtualenv (benchmarks/envs/sb3: torch 2.13.0 CPU, ale-py, OpenCV); prints one JSON
object on its last line.

    taskset -c 0 benchmarks/envs/sb3/bin/python benchmarks/peers/sb3_atari.py \\
        --steps 50000 --seed 0 --threads 1

PPO with the `CnnPolicy` (the Nature CNN, Mnih et al. 2015, one torso shared by the
policy and value heads) and RL-Zoo's atari settings (DLR-RM/rl-baselines3-zoo,
hyperparams/ppo.yml, `atari:`): 8 environments through `AtariWrapper` (no-op starts, frame
skip 4 with max-pooling, 84x84 grey, end of life as end of episode, rewards clipped to
their sign) and a stack of 4 frames, 128 steps, 4 epochs, minibatches of 256, learning
rate 2.5e-4 and clip range 0.1 both decayed linearly to 0, vf_coef 0.5, ent_coef 0.01;
SB3's defaults for the rest (gamma 0.99, gae_lambda 0.95, max_grad_norm 0.5). `--config`
takes Ascent's field names (`n_envs`, `n_steps`, `n_epochs`, `minibatch_size`, `lr`,
`clip_eps`, `vf_coef`, `ent_coef`, `gamma`, `gae_lambda`, `max_grad_norm`; schedules as
"linear(a, b)") over these, so both libraries can be handed the same preset.

The environment is `BreakoutNoFrameskip-v4` from ale-py (frameskip 1, sticky actions
off: the frame skip is AtariWrapper's), vectorised in-process (`DummyVecEnv`, RL-Zoo's
default) unless `--vec subproc`.

Timing: `learn_s` is `model.learn` from start to end; within it `train_s` is the time
in `PPO.train` (the update: every epoch and minibatch) and `collect_s` the time in
`collect_rollouts` (acting and stepping the environments); the rest is SB3's
bookkeeping. `score` is the mean raw (unclipped, whole-game) score of the last
training episodes (at most 100, from the Monitor under AtariWrapper), or null when no
game ended. `peak_rss_mb` is the process's peak resident memory. It never imports
Ascent.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

# RL-Zoo's atari PPO, in Ascent's field names.
ZOO: dict[str, Any] = {
    "n_envs": 8,
    "n_steps": 128,
    "n_epochs": 4,
    "minibatch_size": 256,
    "lr": "linear(2.5e-4, 0.0)",
    "clip_eps": "linear(0.1, 0.0)",
    "vf_coef": 0.5,
    "ent_coef": 0.01,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "max_grad_norm": 0.5,
}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--env", default="BreakoutNoFrameskip-v4", help="an ale-py Gymnasium id")
    p.add_argument("--steps", type=int, default=50_000, help="environment steps (agent steps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--vec", choices=["dummy", "subproc"], default="dummy")
    p.add_argument("--config", default="{}", help="Ascent-named fields over RL-Zoo's, as JSON")
    return p.parse_args()


def schedule(value: Any) -> Any:
    """Ascent's "linear(a, b)" (over training) as SB3's function of progress_remaining."""
    if isinstance(value, str):
        kind, args = value.split("(", 1)
        start, end = (float(x) for x in args.rstrip(")").split(","))
        assert kind.strip() == "linear", value
        return lambda remaining: end + (start - end) * remaining
    return float(value)


def main() -> None:
    args = parse()
    import ale_py
    import gymnasium as gym
    import numpy as np
    import stable_baselines3 as sb3
    import torch
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecFrameStack

    torch.set_num_threads(args.threads)
    gym.register_envs(ale_py)
    c = {**ZOO, **{k: v for k, v in json.loads(args.config).items() if k in ZOO}}
    vec_cls = {"dummy": DummyVecEnv, "subproc": SubprocVecEnv}[args.vec]
    env = make_atari_env(args.env, n_envs=c["n_envs"], seed=args.seed, vec_env_cls=vec_cls)
    env = VecFrameStack(env, n_stack=4)
    model = sb3.PPO(
        "CnnPolicy", env, seed=args.seed, device="cpu", verbose=0,
        n_steps=c["n_steps"], n_epochs=c["n_epochs"], batch_size=c["minibatch_size"],
        learning_rate=schedule(c["lr"]), clip_range=schedule(c["clip_eps"]),
        vf_coef=c["vf_coef"], ent_coef=float(c["ent_coef"]), gamma=c["gamma"],
        gae_lambda=c["gae_lambda"], max_grad_norm=c["max_grad_norm"],
    )  # fmt: skip

    spent = {"train": 0.0, "collect": 0.0}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] += time.perf_counter() - start

        return wrapper

    model.train = timed("train", model.train)  # type: ignore[method-assign]
    model.collect_rollouts = timed("collect", model.collect_rollouts)  # type: ignore[method-assign]
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    learn = time.perf_counter() - start
    scores = [float(info["r"]) for info in model.ep_info_buffer]
    env.close()
    print(
        json.dumps(
            {
                "env": args.env,
                "env_steps": int(model.num_timesteps),
                "learn_s": learn,
                "steps_per_s": model.num_timesteps / learn,
                "train_s": spent["train"],
                "collect_s": spent["collect"],
                "updates": int(model._n_updates // c["n_epochs"]),
                "score": float(np.mean(scores)) if scores else None,
                "episodes_scored": len(scores),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                # the largest subprocess (--vec subproc), once env.close() has reaped them
                "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                "threads": torch.get_num_threads(),
                "vec": args.vec,
                "seed": args.seed,
                "config": c,
                "versions": {
                    "stable-baselines3": sb3.__version__,
                    "torch": torch.__version__,
                    "ale-py": ale_py.__version__,
                    "gymnasium": gym.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
