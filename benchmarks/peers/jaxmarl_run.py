"""One JaxMARL baseline run for benchmarks/marl_speed.py; prints one JSON object on its last
line. Runs in benchmarks/envs/jaxmarl (jaxmarl, distrax, pyyaml), never in Ascent's.

    benchmarks/envs/jaxmarl/bin/python benchmarks/peers/jaxmarl_run.py ippo --steps 1000000 --seed 0
    benchmarks/envs/jaxmarl/bin/python benchmarks/peers/jaxmarl_run.py mappo-rnn --steps 1000000
    benchmarks/envs/jaxmarl/bin/python benchmarks/peers/jaxmarl_run.py ippo --steps 0 --profile DIR

- ippo: JaxMARL's baselines/IPPO/ippo_ff_mpe.py with its ippo_ff_mpe.yaml, as kept in
  ../shared/peers/jaxmarl/ (hydra and wandb removed, its per-update io_callback kept).
- mappo-rnn: baselines/MAPPO/mappo_rnn_mpe.py with mappo_homogenous_rnn_mpe.yaml, adapted
  the same way; the copy lives in benchmarks/peers/jaxmarl/ and is not committed (see
  benchmarks/marl_speed.py).

The script's own `make_train(config)` is jitted and timed as its `__main__` does: lowering
and compiling (`compile_s`), then one call waited for (`run_s`). The training curve is,
per update, the mean return of the episodes that ended in it, from JaxMARL's
`MPELogWrapper`, which logs every agent's return times the number of agents: divided
here by that number, so the curve is per agent (an agent's own rewards summed over its
episode, averaged over agents), as Ascent's `episode_return` is.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPTS = {
    "ippo": ROOT.parent / "shared" / "peers" / "jaxmarl" / "ippo_ff_mpe",
    "mappo-rnn": ROOT / "benchmarks" / "peers" / "jaxmarl" / "mappo_rnn_mpe",
}
N_AGENTS = 3  # simple_spread_v3


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("algo", choices=sorted(SCRIPTS))
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", default=None, help="folder: profile PROFILED updates instead")
    return p.parse_args()


PROFILED = 1  # update: XLA:CPU runs some 10^5 ops in one, and a trace keeps 10^6 events


def profile(args: argparse.Namespace) -> None:
    """Per-op profile of a `PROFILED`-update run of the script's `train`, compiled and
    called once before (peers/op_profile.py); the summary in OUT/ops.json."""
    import op_profile

    out = Path(args.profile)
    os.environ["XLA_FLAGS"] = op_profile.flags(out)
    import jax

    config = load_config(args.algo)
    config["TOTAL_TIMESTEPS"] = float(PROFILED * config["NUM_ENVS"] * config["NUM_STEPS"])
    rng = jax.random.PRNGKey(args.seed)
    train = jax.jit(load(SCRIPTS[args.algo]).make_train(config)).lower(rng).compile()
    jax.block_until_ready(train(rng))
    seconds = op_profile.trace(lambda: train(rng), out)
    summary = op_profile.report(out, seconds, PROFILED)
    summary.pop("ops")
    print(json.dumps({"who": f"jaxmarl-{args.algo}", **summary}))


def load_config(algo: str) -> dict[str, Any]:
    import yaml

    config = yaml.safe_load(SCRIPTS[algo].with_suffix(".yaml").read_text())
    return {k: number(v) for k, v in config.items()}


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.name, path.with_suffix(".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def number(value: Any) -> Any:
    """A YAML 1.1 string such as "2e-3" (PyYAML reads a float without a dot as text) as
    the float that hydra, which the scripts were written for, reads it as."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def per_update_returns(algo: str, metrics: dict[str, Any], config: dict) -> tuple[Any, Any]:
    """(mean return per agent, environment episodes it averages), per update [U].

    mappo-rnn: the episodes that ended in the update (the adapted copy sums them in its
    program). ippo: the script keeps only each update's mean, over its steps and actors,
    of the wrapper's last finished return, which every actor holds until its next
    episode ends: with every episode 25 steps long, the mean of the latest episodes'
    returns weighted by the steps each is held (before the first one ends the held
    value is 0: the first update only)."""
    import numpy as np

    if algo == "mappo-rnn":  # sums over [T, actors]; an actor is an agent of an env
        ended = np.asarray(metrics["ended"])
        returns = np.asarray(metrics["ended_return_sum"]) / np.maximum(ended, 1)
        return returns / N_AGENTS, ended / N_AGENTS
    held = np.asarray(metrics["returned_episode_returns"])  # [U]
    share = np.asarray(metrics["returned_episode"])  # [U]: the share of steps ending one
    return held / N_AGENTS, share * config["NUM_STEPS"] * config["NUM_ENVS"]


def first_steps_curve(metrics: dict[str, Any], curve: list) -> dict[str, Any]:
    """The recurrent copy's ended episodes' mean length (`episode_length`, over the run)
    and, beside `curve`, `curve_but_last`: each row's return without its episodes' last
    step (per agent): JaxMARL 0.2.0's MPE episodes are 26 steps, mpe2's (Ascent's) 25, so
    this is the return over the same 25 steps as Ascent's."""
    import numpy as np

    ended = np.asarray(metrics["ended"])
    lengths = float(np.asarray(metrics["ended_length_sum"]).sum() / max(ended.sum(), 1))
    last = np.asarray(metrics["ended_last_reward_sum"]) / np.maximum(ended, 1)  # per agent
    rows = [i for i, n in enumerate(ended) if n > 0]
    but_last = [[s, r - float(last[i]), n] for i, (s, r, n) in zip(rows, curve, strict=True)]
    return {"episode_length": lengths, "curve_but_last": but_last}


def main() -> None:
    args = parse()
    if args.profile:
        profile(args)
        return
    import jax

    module = load(SCRIPTS[args.algo])
    config = load_config(args.algo)
    config["TOTAL_TIMESTEPS"] = float(args.steps)
    config["SEED"] = args.seed
    rng = jax.random.PRNGKey(args.seed)
    train = jax.jit(module.make_train(config))
    start = time.perf_counter()
    compiled = train.lower(rng).compile()
    compiled_at = time.perf_counter()
    out = jax.block_until_ready(compiled(rng))
    done = time.perf_counter()
    returns, episodes = per_update_returns(args.algo, out["metrics"], config)
    per_update = config["NUM_ENVS"] * config["NUM_STEPS"]
    curve = [
        [float((i + 1) * per_update), float(r), float(n)]
        for i, (r, n) in enumerate(zip(returns, episodes, strict=True))
        if n > 0
    ]
    extra = first_steps_curve(out["metrics"], curve) if args.algo == "mappo-rnn" else {}
    print(json.dumps({
        **extra,
        "who": f"jaxmarl-{args.algo}",
        "steps": int(config["NUM_UPDATES"]) * per_update,
        "seed": args.seed,
        "learn_s": done - start,
        "compile_s": compiled_at - start,
        "run_s": done - compiled_at,
        "curve": curve,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
