"""Learning benchmark: does each on-policy algorithm solve CartPole-v1, seed after seed?

For every (algorithm, budget) below, trains 5 seeds and evaluates each final policy
on 20 deterministic episodes, then writes a Markdown table with every seed's figure
to benchmarks/results/learning_cartpole.md.

    .venv/bin/python benchmarks/learning.py                 # Gymnasium door (CartPole-v1)
    .venv/bin/python benchmarks/learning.py --door jax      # compiled door (gymnax/CartPole-v1)
    .venv/bin/python benchmarks/learning.py --only ppo --seeds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ascent._xla import set_xla_flags

set_xla_flags()  # before JAX starts: one XLA thread


@dataclass(frozen=True)
class Case:
    algo: str
    steps: int
    threshold: float
    needed: int  # seeds of 5 that must reach the threshold
    overrides: tuple[tuple[str, object], ...] = ()


# The targets of issue 2; settings are each algorithm's defaults or its CartPole preset.
CASES = [
    Case("ppo", 100_000, 475, 4),
    Case("a2c", 200_000, 475, 4),
    Case("reinforce", 500_000, 475, 3, (("baseline", "learned"),)),
    Case("actor-critic", 200_000, 195, 3, (("critic", "v"),)),
]


def run_host(case: Case, seeds: list[int], episodes: int) -> tuple[list[float], float]:
    import ascent

    returns = []
    start = time.perf_counter()
    for seed in seeds:
        agent = ascent.make(
            case.algo, env="CartPole-v1", seed=seed, total_steps=case.steps, **dict(case.overrides)
        )
        agent.learn(progress=False)
        returns.append(agent.evaluate(episodes).mean_return)
        agent.close()
        print(f"  {case.algo} seed {seed}: {returns[-1]:.1f}", flush=True)
    return returns, time.perf_counter() - start


def run_jax(case: Case, seeds: list[int], episodes: int) -> tuple[list[float], float]:
    from ascent.train.seeds import train_seeds

    start = time.perf_counter()
    overrides = {"total_steps": case.steps, **dict(case.overrides)}
    result = train_seeds(case.algo, "gymnax/CartPole-v1", seeds, overrides, eval_episodes=episodes)
    return [float(r) for r in result.mean_eval_return], time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--door", choices=["host", "jax"], default="host")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=None, help="algorithms to run")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from ascent.runtime import enable_compile_cache

    enable_compile_cache()
    env_id = "CartPole-v1" if args.door == "host" else "gymnax/CartPole-v1"
    seeds = list(range(args.seeds))
    rows = []
    for case in CASES:
        if args.only and case.algo not in args.only:
            continue
        print(f"{case.algo}: {case.steps:,} steps, {len(seeds)} seeds on {env_id}", flush=True)
        returns, seconds = (run_host if args.door == "host" else run_jax)(
            case, seeds, args.episodes
        )
        passed = sum(r >= case.threshold for r in returns)
        needed = round(case.needed * len(seeds) / 5)
        rows.append((case, returns, passed, needed, seconds))

    command = "python benchmarks/learning.py " + " ".join(sys.argv[1:])
    lines = [
        f"# Learning on {env_id}",
        "",
        f"Command: `{command.strip()}`  ",
        f"Date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}  ",
        f"Versions: ascent {version('ascent-rl')}, jax {version('jax')}, flax {version('flax')}, "
        f"optax {version('optax')}, gymnasium {version('gymnasium')}"
        + (f", gymnax {version('gymnax')}" if args.door == "jax" else "")
        + f"; Python {platform.python_version()}  ",
        f"Machine: {os.cpu_count()} CPU cores, XLA on one thread; {args.episodes} deterministic "
        "evaluation episodes per seed after training.",
        "",
        "| algorithm | steps | target | seeds reaching it | needed | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | wall-clock (all seeds) |",
        "|---|---|---|---|---|" + "---|" * len(seeds) + "---|",
    ]
    for case, returns, passed, needed, seconds in rows:
        verdict = "yes" if passed >= needed else "**no**"
        settings = ", ".join(f"{k}={v}" for k, v in case.overrides)
        name = f"{case.algo} ({settings})" if settings else case.algo
        lines.append(
            f"| {name} | {case.steps:,} | >= {case.threshold:g} | "
            f"{passed}/{len(returns)} ({verdict}) | "
            f"{needed}/{len(returns)} | "
            + " | ".join(f"{r:.1f}" for r in returns)
            + f" | {seconds:.0f} s |"
        )
    text = "\n".join(lines) + "\n"
    out = args.out or Path(__file__).parent / "results" / f"learning_cartpole_{args.door}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"wrote {out}")
    return 0 if all(p >= n for _, _, p, n, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
