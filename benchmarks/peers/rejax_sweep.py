"""rejax's side of benchmarks/sweep.py, in its own virtualenv (benchmarks/envs/rejax):
a grid of PPO configurations × seeds as rejax's vmapped search — the algorithm object's
hyperparameters are pytree leaves, so the configurations are stacked into one object and
`train` is vmapped over it and over the seeds, one compiled program. Prints one JSON
object on its last line. It never imports Ascent.

    benchmarks/envs/rejax/bin/python benchmarks/peers/rejax_sweep.py --config '{...}' \\
        --grid '{"lr": [...]}' --seeds 0,1 --episodes 20

`--config` is Ascent's config for the case (config_to_dict), mapped as rejax_run.py
maps it; the grid's Ascent names become rejax's (lr: learning_rate). Each run ends with
a deterministic evaluation of `--episodes` episodes inside the program, as Ascent's
sweep does. rejax always clips the value loss with clip_eps (Ascent: clip_vf unset).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

NAMES = {"lr": "learning_rate", "clip_eps": "clip_eps", "ent_coef": "ent_coef",
         "gae_lambda": "gae_lambda", "gamma": "gamma", "vf_coef": "vf_coef"}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--config", required=True)
    p.add_argument("--grid", required=True)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--episodes", type=int, default=20)
    args = p.parse_args()
    start = time.perf_counter()
    import jax
    import jax.numpy as jnp
    import numpy as np
    from rejax.evaluate import evaluate
    from rejax_run import deterministic_act, make_ppo

    config, grid = json.loads(args.config), json.loads(args.grid)
    seeds = [int(s) for s in args.seeds.split(",")]
    base, differences = make_ppo(config, args.env)

    def final_evaluation(algo, ts, rng):  # type: ignore[no-untyped-def]
        act = deterministic_act("ppo", algo, ts)
        return evaluate(act, rng, algo.env, algo.env_params, args.episodes,
                        algo.env_params.max_steps_in_episode)  # fmt: skip

    base = base.replace(eval_callback=final_evaluation)
    names = list(grid)
    algos = [
        base.replace(**{NAMES[n]: jnp.float32(v) for n, v in zip(names, combination, strict=True)})
        for combination in itertools.product(*(grid[n] for n in names))
    ]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *algos)
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))

    def one(algo, key):  # type: ignore[no-untyped-def]
        return algo.train(key)

    train = jax.jit(jax.vmap(jax.vmap(one, in_axes=(None, 0)), in_axes=(0, None)))
    compiled_at = time.perf_counter()
    compiled = train.lower(stacked, keys).compile()
    compile_s = time.perf_counter() - compiled_at
    _, (lengths, returns) = jax.block_until_ready(compiled(stacked, keys))
    total = time.perf_counter() - start
    returns = np.asarray(returns)  # [C, S, evaluations, episodes]
    finals = returns.reshape(len(algos), len(seeds), -1).mean(axis=-1)
    print(json.dumps({"total_s": total, "compile_s": compile_s, "programs": 1,
                      "final_returns": finals.tolist(), "mean_final_return": float(finals.mean()),
                      "differences": differences}))  # fmt: skip


if __name__ == "__main__":
    main()
