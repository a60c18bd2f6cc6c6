"""An Optuna study on Gymnasium's Acrobot-v1 (issue 33): `ascent tune ppo` with RL-Zoo's
PPO space, 30 trials, 2 at a time; then the best trial's config (its best.toml) and PPO's
defaults (ascent/catalog/presets/ppo.toml has no Acrobot entry) trained fresh with the
same 3 seeds, none of them the study's, at the study's steps, each scored by a
deterministic evaluation of 20 episodes.

    flock /tmp/ascent-timing.lock .venv/bin/python benchmarks/tune_acrobot.py [--steps 50000]
    .venv/bin/python benchmarks/tune_acrobot.py --report   # rebuild the report from the JSON

The study's folder (study.db, trials.csv, plots, the runs) is benchmarks/out/tune_acrobot/;
writes benchmarks/results/sweep_study.json and sweep_study.md (a section that
benchmarks/sweep.py appends to sweep.md), and copies the study's plots beside them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ascent._xla import XLA_FLAGS  # noqa: E402  (the standard library only)

RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "benchmarks" / "out" / "tune_acrobot"
ASCENT = [str(ROOT / ".venv" / "bin" / "python"), "-m", "ascent.cli"]
ENV_ID, JOBS, STUDY_SEED, SEEDS, EPISODES = "Acrobot-v1", 2, 0, (1, 2, 3), 20


def environment() -> dict[str, str]:
    return {**os.environ, "XLA_FLAGS": XLA_FLAGS, "JAX_PLATFORMS": "cpu"}


def study(steps: int, trials: int) -> dict[str, Any]:
    """The study from scratch, its output passed through; its wall-clock and trials."""
    shutil.rmtree(OUT, ignore_errors=True)
    command = [*ASCENT, "tune", "ppo", "--env", ENV_ID, "--trials", str(trials), "--jobs",
               str(JOBS), "--total-steps", str(steps), "--seed", str(STUDY_SEED), "--out",
               str(OUT)]  # fmt: skip
    start = time.perf_counter()
    run = subprocess.run(command, env=environment(), cwd=ROOT, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"ascent tune failed with status {run.returncode}")
    with (OUT / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (OUT / "best.toml").open("rb") as f:
        best = tomllib.load(f)
    complete = [t for t in rows if t["state"] == "COMPLETE"]
    top = max(complete, key=lambda t: float(t["value"]))
    return {
        "command": " ".join(["ascent", *command[3:]]).replace(str(OUT), "OUT"),
        "seconds": seconds,
        "trials": trials,
        "states": {s: sum(t["state"] == s for t in rows) for s in {t["state"] for t in rows}},
        "best_trial": int(top["number"]),
        "best_value": float(top["value"]),
        "best_config": best,
        "rows": rows,
    }


def train(label: str, seed: int, steps: int, core: int, config: Path | None) -> dict[str, Any]:
    """One fresh run on `core`; its final deterministic evaluation."""
    run_dir = OUT / "runs" / f"{label}-{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    command = ["taskset", "-c", str(core), *ASCENT, "train", "ppo", "--env", ENV_ID, "--seed",
               str(seed), "--total-steps", str(steps), "--eval-episodes", str(EPISODES),
               "--run-dir", str(run_dir), "--no-progress"]  # fmt: skip
    if config is not None:
        command += ["--config", str(config)]
    done = subprocess.run(command, env=environment(), cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{label} seed {seed} failed: {done.stderr.strip()[-2000:]}")
    result = json.loads((run_dir / "eval.json").read_text())
    meta = json.loads((run_dir / "config.json").read_text())
    return {"label": label, "seed": seed, "mean_return": result["mean_return"],
            "returns": result["returns"], "train_seconds": meta["train_seconds"]}  # fmt: skip


def compare(steps: int) -> list[dict[str, Any]]:
    """The tuned config and the defaults, each seed, two runs at a time (one per core)."""
    jobs = [(label, seed) for label in ("tuned", "defaults") for seed in SEEDS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(train, label, seed, steps, i % 2,
                        OUT / "best.toml" if label == "tuned" else None)
            for i, (label, seed) in enumerate(jobs)
        ]  # fmt: skip
        return [f.result() for f in futures]


def report(r: dict[str, Any]) -> str:
    s = r["study"]
    by = {label: [x for x in r["runs"] if x["label"] == label] for label in ("tuned", "defaults")}
    mean = {k: sum(x["mean_return"] for x in v) / len(v) for k, v in by.items()}
    shown = ("lr", "n_steps", "minibatch_size", "n_epochs", "gamma", "gae_lambda", "ent_coef",
             "clip_eps", "max_grad_norm", "hidden", "activation")  # fmt: skip
    tuned = ", ".join(f"{k} {_fmt(s['best_config'][k])}" for k in shown)
    states = ", ".join(f"{n} {k.lower()}" for k, n in sorted(s["states"].items()))
    lines = [
        f"## An Optuna study on Acrobot-v1 (PPO, {s['trials']} trials, {JOBS} jobs)",
        "",
        f"`flock /tmp/ascent-timing.lock .venv/bin/python benchmarks/tune_acrobot.py --steps "
        f"{r['steps']}` at {r['commit']} on a 2-core machine: `{s['command']}` — RL-Zoo's "
        f"PPO space, TPE, the median pruner on an evaluation of 10 episodes every "
        f"{r['steps'] // 5:,} steps, every trial {r['steps']:,} steps with seed {STUDY_SEED}, "
        "two worker processes with XLA on one thread each. Then the best trial's config "
        "(its `best.toml`) and PPO's defaults (ppo.toml has no Acrobot-v1 entry) trained "
        f"fresh with seeds {', '.join(map(str, SEEDS))} (not the study's) at the same "
        f"{r['steps']:,} steps, two at a time, one per core; the final deterministic "
        f"evaluation over {EPISODES} episodes.",
        "",
        f"- The study: **{s['seconds'] / 60:.1f} min** wall-clock for {s['trials']} trials "
        f"({states}); the best, trial {s['best_trial']}, scored {s['best_value']:.1f}.",
        f"- Its config: {tuned}.",
        "",
        "| config | " + " | ".join(f"seed {seed}" for seed in SEEDS) + " | mean | training |",
        "|---|" + "---|" * (len(SEEDS) + 2),
    ]
    for label, name in (("tuned", "the study's best"), ("defaults", "PPO's defaults")):
        cells = " | ".join(f"{x['mean_return']:.1f}" for x in by[label])
        train_s = sum(x["train_seconds"] for x in by[label]) / len(by[label])
        lines.append(f"| {name} | {cells} | **{mean[label]:.1f}** | {train_s:.0f} s a run |")
    diff = mean["tuned"] - mean["defaults"]
    spread = max(
        max(v) - min(v) for v in ([x["mean_return"] for x in runs] for runs in by.values())
    )
    verdict = (
        "within the spread of one config's seeds: no measurable gain from tuning at this budget"
        if abs(diff) <= spread
        else ("the tuned config is better" if diff > 0 else "the defaults are better")
        + " by more than the spread of one config's seeds"
    )
    lines += [
        "",
        f"The tuned config's mean return over the 3 seeds is {mean['tuned']:.1f} against "
        f"{mean['defaults']:.1f} for the defaults ({diff:+.1f}; the seeds of one config span "
        f"up to {spread:.1f}): {verdict}. Acrobot-v1 gives -1 a step, -500 for an episode "
        "that never swings up. The study scored each trial on one seed, so its best value "
        "is optimistic. Plots: [history](sweep_study_history.png), "
        "[importance](sweep_study_importance.png).",
    ]
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, list) else str(value)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50_000, help="environment steps per trial")
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--report", action="store_true", help="only rebuild sweep_study.md")
    args = p.parse_args()
    path = RESULTS / "sweep_study.json"
    if not args.report:
        result = {"steps": args.steps, "study": study(args.steps, args.trials)}
        result["runs"] = compare(args.steps)
        commit = ["git", "rev-parse", "--short", "HEAD"]
        result["commit"] = subprocess.run(
            commit, cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        path.write_text(json.dumps(result, indent=2) + "\n")
        for name in ("history", "importance"):
            if (OUT / f"{name}.png").is_file():
                shutil.copyfile(OUT / f"{name}.png", RESULTS / f"sweep_study_{name}.png")
    (RESULTS / "sweep_study.md").write_text(report(json.loads(path.read_text())))
    print((RESULTS / "sweep_study.md").read_text())


if __name__ == "__main__":
    main()
