"""Ascent's side of benchmarks/sweep.py: a grid of PPO configurations × seeds trained
as one sweep (`vmapped`: `ascent.sweep`, one compiled program) or one run after another
(`sequential`: `ascent.make(...).learn()` for each, as a for loop would); prints one
JSON object on its last line.

    .venv/bin/python benchmarks/peers/ascent_sweep.py vmapped --grid '{"lr": [...]}' \\
        --seeds 0,1 --steps 50000 --episodes 20

The persistent compilation cache is the folder in ASCENT_CACHE_DIR (benchmarks/sweep.py
gives each contestant an empty one: every program compiles cold).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["vmapped", "sequential"])
    p.add_argument("--env", default="gymnax/CartPole-v1")
    p.add_argument("--grid", required=True, help="JSON: {field: [values]}")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--episodes", type=int, default=20)
    args = p.parse_args()
    start = time.perf_counter()
    import numpy as np

    import ascent
    from ascent.runtime import enable_compile_cache

    enable_compile_cache()
    grid = json.loads(args.grid)
    seeds = [int(s) for s in args.seeds.split(",")]
    overrides = {"total_steps": args.steps}
    if args.mode == "vmapped":
        result = ascent.sweep("ppo", args.env, grid, seeds, overrides, eval_episodes=args.episodes)
        finals = result.final_returns.tolist()
        programs = len(result.groups)
        compile_s = sum(g.compile_seconds for g in result.groups)
    else:
        names = list(grid)
        finals, compile_s = [], 0.0
        for combination in itertools.product(*(grid[n] for n in names)):
            row = []
            for seed in seeds:
                values = {**overrides, **dict(zip(names, combination, strict=True))}
                agent = ascent.make("ppo", env=args.env, seed=seed, **values)
                agent.learn(progress=False)
                row.append(agent.evaluate(args.episodes, seed=seed).mean_return)
            finals.append(row)
        programs = len(finals) * len(seeds)
        compile_s = float("nan")  # inside each learn()
    total = time.perf_counter() - start
    mean = float(np.mean(finals))
    print(json.dumps({"total_s": total, "compile_s": compile_s, "programs": programs,
                      "final_returns": finals, "mean_final_return": mean}))  # fmt: skip


if __name__ == "__main__":
    main()
