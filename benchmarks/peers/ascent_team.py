"""One Ascent team run for benchmarks/marl_speed.py; prints one JSON object on its last line.

    .venv/bin/python benchmarks/peers/ascent_team.py ippo --steps 1000000 --seed 0
    .venv/bin/python benchmarks/peers/ascent_team.py mappo --steps 1000000 --seed 0 --cache DIR
    .venv/bin/python benchmarks/peers/ascent_team.py ippo --steps 0 --profile DIR

`ascent.make(algo, env="jaxmarl/simple_spread_v3", seed=..., **SETTINGS)`, then
`Agent.learn` timed from Python, compiling included (`learn_s`); `compile_s` is JAX's own
count of tracing, lowering and XLA compiling during it (`ascent_run.CompileClock`), and
`run_s` the rest. The training curve is [environment steps, return, episodes] for each
logged row: the mean return of the episodes that ended in it, per agent (an agent's own
rewards summed over its episode, averaged over agents: Ascent's `episode_return`), and
how many environment episodes that is.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ENV = "jaxmarl/simple_spread_v3"
# JaxMARL's ippo_ff_mpe.yaml in Ascent's words: 16 environments × 128 steps, 4 epochs of
# 4 minibatches (a minibatch counts joint steps, each with all 3 agents: 16·128/4), lr
# 2.5e-4 annealed linearly to 0, clip 0.2 on both the ratio and the value, entropy 0.01,
# gradient norm 0.5, tanh 64×64, shared parameters without agent ids (its network reads
# the observation alone). Its value term is VF_COEF 0.5 × ½ mean squared error; Ascent's
# value loss has no ½ (`core.losses.value_loss`), so vf_coef 0.25 is the same loss.
SETTINGS: dict[str, Any] = {
    "n_envs": 16,
    "n_steps": 128,
    "n_epochs": 4,
    "minibatch_size": 16 * 128 // 4,
    "lr": "linear(2.5e-4, 0)",
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_eps": 0.2,
    "clip_vf": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.25,
    "max_grad_norm": 0.5,
    "hidden": [64, 64],
    "activation": "tanh",
    "agent_ids": False,
}


# JaxMARL's mappo_homogenous_rnn_mpe.yaml in Ascent's words: 128 environments × 128 steps,
# 4 epochs of 4 minibatches (32 environment sequences of 128 steps each), lr 2e-3 annealed
# to 0, clip 0.2 on ratio and value, entropy 0.01, vf 0.5 × ½ MSE (0.25 here), gradient
# norm 0.5; its networks (mappo_rnn_mpe.py): dense 128 relu → GRU 128 → dense 128 relu →
# head, the actor on an agent's observation, the critic on every agent's observation
# concatenated, no agent ids; Ascent's the same (`core.input_dim` the dense layer before
# the GRU, `hidden_gain` the initial scale of the one after), the critic on the global
# state (the same concatenation).
RNN_SETTINGS: dict[str, Any] = {
    **SETTINGS,
    "n_envs": 128,
    "minibatch_size": 128 * 128 // 4,
    "lr": "linear(2e-3, 0)",
    "hidden": [128],
    "activation": "relu",
    "core.kind": "gru",
    "core.embed_dim": 128,
    "core.input_dim": 128,
    # its actor and critic have an optimiser each, each clipping its own gradient norm
    "clip_per_network": True,
    # and it ends an episode at the time limit as at a terminal state (no bootstrap)
    "bootstrap_truncation": False,
    # its layer after the GRU starts orthogonal with gain 2 (`orthogonal(2)`), not √2
    "hidden_gain": 2.0,
}
ALGOS = {"ippo": ("ippo", SETTINGS), "mappo": ("mappo", SETTINGS),
         "mappo-rnn": ("mappo", RNN_SETTINGS)}  # fmt: skip


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("algo", choices=list(ALGOS))
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default=None, help="persistent compilation cache folder")
    p.add_argument("--profile", default=None, help="folder: profile PROFILED iterations instead")
    return p.parse_args()


PROFILED = 1  # iteration: XLA:CPU runs some 10^5 ops in one, and a trace keeps 10^6 events


def profile(args: argparse.Namespace) -> None:
    """Per-op profile of `PROFILED` iterations of `learn()`, after as many that compile
    (peers/op_profile.py); the summary in OUT/ops.json, its total on the last line."""
    from pathlib import Path

    import op_profile

    out = Path(args.profile)
    os.environ["XLA_FLAGS"] = op_profile.flags(out)
    os.environ["ASCENT_COMPILE_CACHE"] = "0"  # compile here, so that the HLO is dumped
    import ascent

    per_iteration = SETTINGS["n_envs"] * SETTINGS["n_steps"]
    agent = ascent.make(
        args.algo, env=ENV, seed=args.seed, total_steps=2 * PROFILED * per_iteration, **SETTINGS
    )
    agent.learn(steps=PROFILED * per_iteration, progress=False)
    seconds = op_profile.trace(
        lambda: agent.learn(steps=PROFILED * per_iteration, progress=False).state, out
    )
    summary = op_profile.report(out, seconds, PROFILED)
    summary.pop("ops")
    print(json.dumps({"who": f"ascent-{args.algo}", **summary}))


def main() -> None:
    args = parse()
    if args.profile:
        profile(args)
        return
    if args.cache:
        os.environ["ASCENT_CACHE_DIR"] = args.cache
    from ascent_run import CompileClock

    import ascent

    clock = CompileClock()
    algo, settings = ALGOS[args.algo]
    agent = ascent.make(algo, env=ENV, seed=args.seed, total_steps=args.steps, **settings)
    curve: list[list[float]] = []

    def record(agent: Any, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row.get("episodes", 0) > 0 and "episode_return" in row:
                curve.append(
                    [float(row["env_steps"]), float(row["episode_return"]), float(row["episodes"])]
                )

    clock.on = True
    start = time.perf_counter()
    agent.learn(progress=False, callback=record)
    learn = time.perf_counter() - start
    clock.on = False
    steps = int(agent.env_steps)
    agent.close()
    compile_s = clock.total()
    print(json.dumps({
        "who": f"ascent-{args.algo}",
        "steps": steps,
        "seed": args.seed,
        "learn_s": learn,
        "compile_s": compile_s,
        "run_s": learn - compile_s,
        "compile_parts_s": dict(clock.seconds),
        "curve": curve,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
