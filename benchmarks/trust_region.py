"""TRPO against PPO: learning thresholds, the cost of an update, return against steps
and against seconds (PPO's claim to be cheaper than TRPO, measured).

    .venv/bin/python benchmarks/trust_region.py              # 5 seeds, Gymnasium door
    .venv/bin/python benchmarks/trust_region.py --seeds 2 --only trpo-CartPole

Writes benchmarks/results/trust_region.md (every seed's figures, the command, date
and versions) and benchmarks/results/trust_region.png (median return and its range
over seeds, against environment steps and against wall-clock seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ascent._xla import set_xla_flags

set_xla_flags()  # before JAX starts: one XLA thread

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    name: str
    algo: str
    env: str
    steps: int
    threshold: float
    needed: int  # of 5 seeds
    overrides: dict[str, Any] = field(default_factory=dict)


# The targets of issue 3; each algorithm runs its preset for the environment.
CASES = [
    Case("trpo-CartPole", "trpo", "CartPole-v1", 100_000, 475, 4),
    Case("ppo-kl-CartPole", "ppo", "CartPole-v1", 100_000, 475, 4, {"objective": "kl_penalty"}),
    Case("ppo-clip-CartPole", "ppo", "CartPole-v1", 100_000, 475, 4),
    Case("trpo-Pendulum", "trpo", "Pendulum-v1", 200_000, -300, 3),
    Case("ppo-clip-Pendulum", "ppo", "Pendulum-v1", 200_000, -300, 3),
]


def gradient_work(algo: Any, config: Any, metrics: dict[str, np.ndarray]) -> str:
    """What one update computes, from the config (and the measured line search)."""
    batch = config.n_steps * config.n_envs
    if algo == "ppo":
        steps = config.n_epochs * (batch // config.minibatch_size)
        return f"{steps} minibatch gradients ({config.minibatch_size} samples each)"
    critic = config.n_critic_epochs * (batch // config.critic_minibatch_size)
    searches = float(np.mean(metrics.get("line_search_iters", np.nan)))
    return (
        f"1 policy gradient + {config.cg_iters} Fisher-vector products ({batch} samples), "
        f"{searches:.1f} line-search passes, {critic} critic minibatch gradients"
    )


def time_update(agent: Any, repeats: int = 20) -> float:
    """Median seconds of the jitted update alone, on the last rollout the agent collected."""
    import jax

    rollout = agent.loop._buffer.rollout()  # the host door keeps its last rollout here
    update = jax.jit(agent.algorithm.update)
    key = jax.random.PRNGKey(0)
    jax.block_until_ready(update(agent.state.algo, rollout, key))  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(update(agent.state.algo, rollout, key))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run_case(case: Case, seeds: list[int], episodes: int, out: Path) -> dict[str, Any]:
    import ascent
    from ascent.io import read_metrics

    finals, curves, update_s, work = [], [], [], ""
    for seed in seeds:
        run_dir = out / case.name / f"seed{seed}"
        agent = ascent.make(
            case.algo, env=case.env, seed=seed, total_steps=case.steps, **case.overrides
        )
        agent.learn(run_dir=run_dir, progress=False)
        finals.append(agent.evaluate(episodes).mean_return)
        metrics = read_metrics(run_dir)
        curves.append(metrics)
        update_s.append(time_update(agent))
        work = gradient_work(case.algo, agent.config, metrics)
        agent.close()
        print(f"  {case.name} seed {seed}: {finals[-1]:.1f}", flush=True)
    return {"finals": finals, "curves": curves, "update_s": update_s, "work": work}


def plot(results: dict[str, dict[str, Any]], out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    envs = sorted({name.rsplit("-", 1)[1] for name in results})
    fig = Figure(figsize=(11, 4 * len(envs)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(envs), 2, squeeze=False)
    for row, env in enumerate(envs):
        for col, x_key in enumerate(["env_steps", "train_seconds"]):
            ax = axes[row][col]
            for name, result in results.items():
                if not name.endswith(env):
                    continue
                xs = [c[x_key] for c in result["curves"]]
                ys = [c["episode_return"] for c in result["curves"]]
                grid = np.linspace(0, min(x.max() for x in xs), 100)
                stacked = np.stack(
                    [
                        np.interp(grid, x[~np.isnan(y)], y[~np.isnan(y)])
                        for x, y in zip(xs, ys, strict=True)
                    ]
                )
                label = name.rsplit("-", 1)[0]
                ax.plot(grid, np.median(stacked, axis=0), label=label)
                ax.fill_between(grid, stacked.min(axis=0), stacked.max(axis=0), alpha=0.2)
            ax.set_xlabel("environment steps" if col == 0 else "wall-clock seconds (training)")
            ax.set_ylabel(f"{env} episode return")
            ax.grid(alpha=0.3)
            ax.legend()
    fig.suptitle("TRPO and PPO: median and range over seeds")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=None, help="case names to run")
    args = parser.parse_args()

    from ascent.runtime import enable_compile_cache

    enable_compile_cache()
    seeds = list(range(args.seeds))
    out = HERE / "out" / "trust_region"
    results = {}
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        print(
            f"{case.name}: {case.algo} on {case.env}, {case.steps:,} steps, {len(seeds)} seeds",
            flush=True,
        )
        results[case.name] = run_case(case, seeds, args.episodes, out)

    lines = [
        "# TRPO and PPO",
        "",
        f"Command: `python benchmarks/trust_region.py {' '.join(sys.argv[1:])}`  ",
        f"Date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}  ",
        f"Versions: ascent {version('ascent-rl')}, jax {version('jax')}, flax {version('flax')}, "
        f"optax {version('optax')}, gymnasium {version('gymnasium')}; "
        f"Python {platform.python_version()}  ",
        f"Machine: {os.cpu_count()} CPU cores, XLA on one thread, Gymnasium door. "
        f"{args.episodes} deterministic evaluation episodes per seed after training.",
        "",
        "## Does it learn?",
        "",
        "| case | settings | steps | target | seeds reaching it | needed | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(seeds),
    ]
    for case in CASES:
        if case.name not in results:
            continue
        finals = results[case.name]["finals"]
        passed = sum(r >= case.threshold for r in finals)
        needed = round(case.needed * len(seeds) / 5)
        verdict = "yes" if passed >= needed else "**no**"
        settings = ", ".join(f"{k}={v}" for k, v in case.overrides.items()) or "preset"
        lines.append(
            f"| {case.name} | {settings} | {case.steps:,} | >= {case.threshold:g} | "
            f"{passed}/{len(finals)} ({verdict}) | {needed}/{len(finals)} | "
            + " | ".join(f"{r:.1f}" for r in finals)
            + " |"
        )
    lines += [
        "",
        "## What an update costs",
        "",
        "Wall-clock of the jitted update alone (median of 20 calls on the run's last rollout, "
        "median over seeds), and what it computes.",
        "",
        "| case | update (ms) | training wall-clock per seed (s, median) "
        "| gradient work per update |",
        "|---|---|---|---|",
    ]
    for name, result in results.items():
        seconds = np.median([c["train_seconds"][-1] for c in result["curves"]])
        update_ms = 1000 * np.median(result["update_s"])
        lines.append(f"| {name} | {update_ms:.1f} | {seconds:.1f} | {result['work']} |")
    lines += ["", "![return against steps and seconds](trust_region.png)", ""]
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    plot(results, results_dir / "trust_region.png")
    text = "\n".join(lines)
    (results_dir / "trust_region.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
