"""A2C against A3C (threads and Ray) and IMPALA, on the same step budget.

    .venv/bin/python benchmarks/a3c.py                          # every case, 5 seeds
    .venv/bin/python benchmarks/a3c.py --only a3c-2 --seeds 0 1

Each run is a process of its own on the compiled door (gymnax/CartPole-v1): train
with metrics rows every few updates, then 20 deterministic evaluation episodes.
Measured per run: wall-clock of `learn` (compiling and, for Ray, starting the
cluster included), the wall-clock at which the last 20 training episodes first
averaged 475 or more, steps per second, the machine's CPU use over the run
(busy time of every core from /proc/stat, over wall-clock · cores: Ray's processes
are not children of the run), and every gradient's staleness. Writes
benchmarks/results/a3c.md, a3c.json and a3c.png.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ascent._xla import XLA_FLAGS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TARGET = 475.0
WINDOW = 20  # training episodes averaged for the time to TARGET
ENV = "gymnax/CartPole-v1"
# name: (algorithm, steps, settings); every case uses the CartPole preset (8 envs and
# 5 steps per gradient: for A3C and IMPALA, per worker)
CASES: dict[str, tuple[str, int, dict[str, Any]]] = {
    "a2c": ("a2c", 200_000, {}),
    "a3c-1": ("a3c", 200_000, {"workers": 1}),
    "a3c-2": ("a3c", 200_000, {"workers": 2}),
    "a3c-2-lock": ("a3c", 200_000, {"workers": 2, "lock": True}),
    "a3c-ray-2": ("a3c", 200_000, {"workers": 2, "ray_address": "local"}),
    "impala-2": ("impala", 300_000, {"workers": 2}),
    "impala-ray-2": ("impala", 300_000, {"workers": 2, "ray_address": "local"}),
}


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of every core since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def first_reached(curve: list[tuple[float, int, float, float]]) -> tuple[Any, Any]:
    """(seconds, steps) of the first row at which the last `WINDOW` training episodes
    (whole rows, counted back from it) average >= TARGET; (None, None) if none does."""
    for i, (seconds, steps, _, _) in enumerate(curve):
        total, count = 0.0, 0.0
        for _, _, mean, episodes in reversed(curve[: i + 1]):
            total, count = total + mean * episodes, count + episodes
            if count >= WINDOW:
                break
        if count >= WINDOW and total / count >= TARGET:
            return seconds, steps
    return None, None


def one(case: str, seed: int) -> dict[str, Any]:
    """Train one case and seed in this process; returns its figures."""
    import numpy as np

    import ascent
    from ascent.runtime import enable_compile_cache

    enable_compile_cache(ROOT / "benchmarks" / "out" / "a3c-cache")  # Ray's workers too
    algo, steps, settings = CASES[case]
    agent = ascent.make(algo, ENV, seed=seed, total_steps=steps, **settings)
    with tempfile.TemporaryDirectory() as run_dir:
        busy0, total0 = busy_jiffies()
        t0 = time.perf_counter()
        agent.learn(steps, run_dir=run_dir, progress=False, log_every=10)
        wall = time.perf_counter() - t0
        busy1, total1 = busy_jiffies()
        rows = (Path(run_dir) / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    curve = []  # (seconds, steps, mean return of the episodes that ended in the row, their number)
    for line in rows[1:]:
        row = dict(zip(header, line.split(","), strict=True))
        if row.get("episode_return"):
            curve.append((float(row["train_seconds"]), int(row["env_steps"]),
                          float(row["episode_return"]), float(row["episodes"])))  # fmt: skip
    reached = first_reached(curve)
    result = agent.evaluate(20)
    driver = agent.runner.driver
    counts = getattr(driver, "staleness_counts", {})
    return {
        "case": case,
        "seed": seed,
        "steps": steps,
        "learn_s": wall,
        "steps_per_s": steps / wall,
        "cpu_use": (busy1 - busy0) / max(1, total1 - total0),
        "cores": os.cpu_count(),
        "seconds_to_target": reached[0],
        "steps_to_target": reached[1],
        "eval_return": float(np.mean(result.returns)),
        "staleness": {str(k): v for k, v in sorted(counts.items())},
        "restarts": getattr(driver, "restarts", 0),
        "curve": curve,
    }


def launch(case: str, seed: int) -> dict[str, Any]:
    environ = {**os.environ, "XLA_FLAGS": XLA_FLAGS, "JAX_PLATFORMS": "cpu",
               "PYTHONPATH": str(ROOT)}  # fmt: skip
    run = subprocess.run([sys.executable, __file__, "--one", case, str(seed)], env=environ,
                         capture_output=True, text=True, timeout=3600, cwd=ROOT)  # fmt: skip
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines:
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        raise SystemExit(f"{case} seed {seed} failed: {' | '.join(tail)}")
    return json.loads(lines[-1])


def _median(values: list[float | None], form: str = ".1f") -> str:
    known = [v for v in values if v is not None]
    return format(statistics.median(known), form) if known else "–"


def write(runs: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    commands = ", then ".join(f"`{c}`" for c in dict.fromkeys(r["command"] for r in runs))
    lines = [
        "# A2C, A3C and IMPALA on CartPole-v1 (compiled door)",
        "",
        f"{commands} (written {when}; {runs[0]['cores']} cores). Each run its own process; "
        "`learn` wall-clock includes compiling (and starting Ray). Reached: the seeds whose "
        "20 deterministic evaluation episodes average >= 475. Time / steps to 475: the first "
        "metrics row (10 updates) at which the last 20 training episodes average >= 475, "
        "median over the seeds that got there. CPU: busy share of all cores over the run.",
        "",
        "| case | steps | seeds | reached 475 | eval return mean ± sd | learn s (median) | "
        "steps/s (median) | s to 475 | steps to 475 | CPU use | staleness mean (max) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_case: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_case.setdefault(r["case"], []).append(r)
    for case, group in by_case.items():
        returns = [r["eval_return"] for r in group]
        reached = sum(x >= TARGET for x in returns)
        stale: dict[int, int] = {}
        for r in group:
            for k, v in r["staleness"].items():
                stale[int(k)] = stale.get(int(k), 0) + v
        total = sum(stale.values())
        stale_text = (f"{sum(k * v for k, v in stale.items()) / total:.2f} ({max(stale)})"
                      if total else "–")  # fmt: skip
        sd = statistics.stdev(returns) if len(returns) > 1 else 0.0
        lines.append(
            f"| {case} | {group[0]['steps']:,} | {len(group)} | {reached}/{len(group)} | "
            f"{statistics.mean(returns):.1f} ± {sd:.1f} | "
            f"{statistics.median(r['learn_s'] for r in group):.1f} | "
            f"{statistics.median(r['steps_per_s'] for r in group):,.0f} | "
            f"{_median([r['seconds_to_target'] for r in group])} | "
            f"{_median([r['steps_to_target'] for r in group], ',.0f')} | "
            f"{statistics.mean(r['cpu_use'] for r in group):.0%} | {stale_text} |"
        )
    lines += ["", "Every run:", "",
              "| case | seed | learn s | steps/s | s to 475 | eval return | CPU use | restarts |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in runs:
        to = "–" if r["seconds_to_target"] is None else f"{r['seconds_to_target']:.1f}"
        lines.append(f"| {r['case']} | {r['seed']} | {r['learn_s']:.1f} | "
                     f"{r['steps_per_s']:,.0f} | {to} | {r['eval_return']:.1f} | "
                     f"{r['cpu_use']:.0%} | {r['restarts']} |")  # fmt: skip
    lines += ["", "![curves and staleness](a3c.png)", ""]
    (RESULTS / "a3c.md").write_text("\n".join(lines))

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (case, group) in enumerate(by_case.items()):
        color = f"C{i}"
        for j, r in enumerate(group):
            if r["curve"]:
                seconds, _, returns, _ = zip(*r["curve"], strict=True)
                left.plot(seconds, returns, color=color, alpha=0.6, lw=1,
                          label=case if j == 0 else None)  # fmt: skip
        stale: dict[int, int] = {}
        for r in group:
            for k, v in r["staleness"].items():
                stale[int(k)] = stale.get(int(k), 0) + v
        if stale and max(stale) > 0:
            ks = np.array(sorted(stale))  # the lags that occurred (a log axis has no 0)
            share = np.array([stale[int(k)] for k in ks], float) / sum(stale.values())
            right.plot(ks, share, "o-", color=color, label=case, ms=4)
    left.axhline(TARGET, color="gray", ls="--", lw=0.8)
    left.set(xlabel="wall-clock seconds of learn (log scale)", xscale="log",
             ylabel="training episode return",
             title="CartPole-v1: return against wall-clock (every seed)")  # fmt: skip
    left.legend()
    right.set(xlabel="staleness (updates between read and apply)", ylabel="share of gradients",
              yscale="log", title="staleness")  # fmt: skip
    right.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "a3c.png", dpi=120)
    print(f"wrote {RESULTS / 'a3c.md'}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--one", nargs=2, metavar=("CASE", "SEED"), help=argparse.SUPPRESS)
    p.add_argument("--append", action="store_true", help="add to a3c.json's runs")
    p.add_argument("--report", action="store_true", help="only redo a3c.md and .png")
    args = p.parse_args()
    if args.report:
        write(json.loads((RESULTS / "a3c.json").read_text()))
        return
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]))))
        return
    saved = RESULTS / "a3c.json"
    runs: list[dict[str, Any]] = json.loads(saved.read_text()) if args.append else []
    for case in args.only:
        launch(case, 0)  # warms the compilation cache; not counted
        for seed in args.seeds:
            r = launch(case, seed)
            r["command"] = " ".join(["python benchmarks/a3c.py", *sys.argv[1:]])
            runs.append(r)
            saved.write_text(json.dumps(runs, indent=1))
            print(f"{case} seed {seed}: {r['learn_s']:.1f} s, return {r['eval_return']:.1f}, "
                  f"to 475 {r['seconds_to_target']}", flush=True)  # fmt: skip
    write(runs)


if __name__ == "__main__":
    main()
