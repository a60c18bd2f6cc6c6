"""How much batching runs helps on one core (benchmarks/sweep.py): one sweep program of
R identical PPO runs on gymnax's CartPole-v1 (the preset, constant numbers traced as a
sweep traces them) computed B side by side (`ascent.tuning.sweep.blocked`), compiled,
then timed on a second call; prints the milliseconds per run and iteration for each
(R, B) as one JSON object on its last line.

    .venv/bin/python benchmarks/peers/sweep_throughput.py --cases 1x1,64x64,64x8
"""

from __future__ import annotations

import argparse
import json
import time

ITERATION_STEPS = 256  # the preset's 8 environments × 32 steps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cases", default="1x1,64x64,64x16,64x8,64x4", help="RUNSxBLOCK,...")
    p.add_argument("--run-iterations", type=int, default=1280, help="runs × iterations timed")
    args = p.parse_args()
    import jax
    import jax.numpy as jnp

    from ascent.catalog.registry import algorithm_class, make_config
    from ascent.envs import make as make_env
    from ascent.tuning.sweep import _run_fn, blocked

    numbers = {"lr": 1e-3, "clip_eps": 0.2, "ent_coef": 0.0, "gae_lambda": 0.9}
    forms = {"lr": "constant", "clip_eps": "constant", "ent_coef": "constant",
             "gae_lambda": "float"}  # fmt: skip
    out = {}
    for case in args.cases.split(","):
        runs, block = (int(x) for x in case.split("x"))
        iterations = max(1, args.run_iterations // runs)
        config = make_config("ppo", "gymnax/CartPole-v1",
                             {"total_steps": iterations * ITERATION_STEPS, **numbers})  # fmt: skip
        env = make_env("gymnax/CartPole-v1", n_envs=config.n_envs)
        one = _run_fn(algorithm_class("ppo"), env, config, forms, iterations, 4)
        values = {k: jnp.full((runs, 2), v, jnp.float32) for k, v in numbers.items()}
        seeds = jnp.arange(runs, dtype=jnp.uint32)
        compiled = blocked(one, block).lower(values, seeds).compile()
        jax.block_until_ready(compiled(values, seeds))
        start = time.perf_counter()
        jax.block_until_ready(compiled(values, seeds))
        seconds = time.perf_counter() - start
        out[case] = 1000 * seconds / (runs * iterations)
    print(json.dumps({"ms_per_run_iteration": out}))


if __name__ == "__main__":
    main()
