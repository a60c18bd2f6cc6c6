"""Spaces benchmark (issue 28): PPO learns through every kind of Gymnasium space.

Four experiments, 5 seeds each, every final policy evaluated on deterministic episodes:

- frozenlake: FrozenLake-v1 with `is_slippery=False` (a Discrete observation, one-hot
  encoded), Gymnasium door: success (return 1.0) in >= 4 of 5 seeds.
- taxi: Taxi-v4 (Discrete(500) observation) with and without its action mask
  (`ascent.make(..., action_mask="info")`: the six actions' `info["action_mask"]`),
  Gymnasium door, under two settings of the entropy bonus: the masked runs must reach a
  mean training return >= 7 (the optimum is about 8) in fewer steps than the unmasked
  ones. The curves are the `episode_return` column of each run's metrics.csv against
  `env_steps`, averaged over seeds.
- diallock: ascent/DialLock-v0 (a Dict observation {"code": MultiDiscrete([3, 3, 4]),
  "clock": Box(1)} and a MultiDiscrete([3, 3, 4]) action; optimum 8), JAX door.
- switches: ascent/Switches-v0 (a MultiBinary(6) action; optimum 8), JAX door.
  Both: within 5% of the optimum (>= 7.6) in >= 4 of 5 seeds; their seeds are vmapped
  in one compiled program (`ascent.train.seeds.train_seeds`).

Each experiment's figures go to benchmarks/results/spaces.json under its name (an
experiment run alone replaces only its own); benchmarks/results/spaces.md and
spaces_taxi.png are rebuilt from that file.

    .venv/bin/python benchmarks/spaces.py                    # everything (about 25 min)
    .venv/bin/python benchmarks/spaces.py --only taxi        # one experiment
    .venv/bin/python benchmarks/spaces.py --report-only      # spaces.md from spaces.json
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ascent._xla import set_xla_flags

set_xla_flags()  # before JAX starts: one XLA thread

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "benchmarks" / "out" / "spaces"  # run folders of the Taxi runs
FIGURES = RESULTS / "spaces.json"
EXPERIMENTS = ("frozenlake", "taxi", "diallock", "switches")
HOST_EVAL_EPISODES = 20
JAX_EVAL_EPISODES = 100

LAKE = {"total_steps": 20_000, "n_envs": 4, "n_steps": 64, "minibatch_size": 64,
        "ent_coef": 0.01}  # fmt: skip
# Taxi: the same PPO for both arms; only the entropy bonus (and the budget) differ
# between the two settings. With a small bonus the unmasked agent learns to avoid the
# -10 of illegal pick-ups and drop-offs and then wanders until the 200-step limit.
TAXI_BASE = {"n_envs": 8, "n_steps": 128, "gamma": 0.99, "lr": "linear(1e-3, 0)"}
TAXI_SETTINGS = {
    "small bonus": {**TAXI_BASE, "ent_coef": "linear(0.01, 0)", "total_steps": 300_000},
    "large bonus": {**TAXI_BASE, "ent_coef": "linear(0.1, 0)", "total_steps": 1_000_000},
}
TAXI_TARGET = 7.0
MULTI = {"total_steps": 50_000, "n_envs": 8, "n_steps": 16}
MULTI_TASKS = {
    "diallock": ("ascent/DialLock-v0", "Dict {code: MultiDiscrete([3, 3, 4]), clock: Box(1)}",
                 "MultiDiscrete([3, 3, 4])", 2.6),
    "switches": ("ascent/Switches-v0", "Box(1)", "MultiBinary(6)", 4.0),
}  # fmt: skip
OPTIMUM, WITHIN = 8.0, 0.05
NEEDED = 0.8  # the share of seeds that must reach a target: 4 of 5


def needed(n_seeds: int) -> int:
    return math.ceil(round(NEEDED * n_seeds, 6))


# --- experiments ------------------------------------------------------------------


def budget(settings: dict[str, Any], steps: int | None) -> dict[str, Any]:
    return settings if steps is None else {**settings, "total_steps": steps}


def frozenlake(seeds: list[int], steps: int | None = None) -> dict[str, Any]:
    """PPO on the non-slippery lake, one Gymnasium-door agent per seed."""
    import gymnasium

    import ascent

    lake = functools.partial(gymnasium.make, "FrozenLake-v1", is_slippery=False)
    settings = budget(LAKE, steps)
    runs = []
    for seed in seeds:
        agent = ascent.make("ppo", env=lake, seed=seed, **settings)
        agent.learn(progress=False)
        result = agent.evaluate(HOST_EVAL_EPISODES)
        runs.append({"seed": seed, "eval_return": result.mean_return,
                     "env_steps": agent.env_steps,
                     "train_seconds": agent.train_seconds})  # fmt: skip
        agent.close()
        print(f"  frozenlake seed {seed}: {result.mean_return:.2f}", flush=True)
    return {"seeds": seeds, "settings": settings, "runs": runs}


def taxi_run(settings: dict[str, Any], masked: bool, seed: int, run_dir: Path) -> dict[str, Any]:
    """One Taxi run with its run folder; its curve from metrics.csv."""
    import ascent

    shutil.rmtree(run_dir, ignore_errors=True)
    agent = ascent.make("ppo", env="Taxi-v4", seed=seed,
                        action_mask="info" if masked else None, **settings)  # fmt: skip
    agent.learn(run_dir=run_dir, progress=False)
    result = agent.evaluate(HOST_EVAL_EPISODES)
    run = {"seed": seed, "eval_return": result.mean_return, "env_steps": agent.env_steps,
           "train_seconds": agent.train_seconds}  # fmt: skip
    agent.close()
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    run["curve_steps"] = [int(r["env_steps"]) for r in rows]
    run["curve"] = [float(r["episode_return"] or "nan") for r in rows]
    return run


def taxi(seeds: list[int], steps: int | None = None) -> dict[str, Any]:
    cases = []
    chosen = {name: budget(settings, steps) for name, settings in TAXI_SETTINGS.items()}
    for name, settings in chosen.items():
        for masked in (True, False):
            runs = []
            for seed in seeds:
                folder = f"{name.replace(' ', '-')}-{'masked' if masked else 'unmasked'}-{seed}"
                runs.append(taxi_run(settings, masked, seed, OUT / folder))
                print(f"  taxi {name} masked={masked} seed {seed}: final "
                      f"{runs[-1]['eval_return']:.2f}", flush=True)  # fmt: skip
            cases.append({"setting": name, "masked": masked, "runs": runs})
    return {"seeds": seeds, "settings": chosen, "cases": cases}


def multi(name: str, seeds: list[int], steps: int | None = None) -> dict[str, Any]:
    """A multi-action task on the JAX door, every seed in one compiled program."""
    from ascent.train.seeds import train_seeds

    env_id, settings = MULTI_TASKS[name][0], budget(MULTI, steps)
    result = train_seeds("ppo", env_id, seeds, settings, eval_episodes=JAX_EVAL_EPISODES)
    final = [float(r) for r in result.mean_eval_return]
    print(f"  {name}: {np.round(final, 2)}", flush=True)
    return {
        "env_id": env_id,
        "seeds": seeds,
        "settings": settings,
        "final": final,
        "env_steps": int(result.env_steps[-1]),
        "compile_seconds": result.compile_seconds,
        "train_seconds": result.train_seconds,
        "steps_per_second": int(result.env_steps[-1]) * len(seeds) / result.train_seconds,
    }


# --- the report -------------------------------------------------------------------


def mean_curve(runs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The seeds' curves on the steps of the first (every seed logs at the same steps)."""
    n = min(len(r["curve"]) for r in runs)
    curves = np.asarray([r["curve"][:n] for r in runs], dtype=float)
    with warnings.catch_warnings():  # a row where no seed finished an episode is NaN
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.asarray(runs[0]["curve_steps"][:n]), np.nanmean(curves, axis=0)


def first_reaching(steps: np.ndarray, curve: np.ndarray, target: float) -> int | None:
    hits = np.flatnonzero(np.nan_to_num(curve, nan=-np.inf) >= target)
    return int(steps[hits[0]]) if len(hits) else None


def host_speed(runs: list[dict[str, Any]]) -> float:
    return sum(r["env_steps"] for r in runs) / sum(r["train_seconds"] for r in runs)


def steps_text(step: int | None) -> str:
    return "never" if step is None else f"{step:,}"


def reaches(step: int | None) -> str:
    return "the mean never reaches 7" if step is None else f"the mean reaches 7 at {step:,}"


def seeds_cells(values: list[float]) -> str:
    return " | ".join(f"{v:.2f}" for v in values)


def overrides_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items() if k != "total_steps")


def cli_sets(settings: dict[str, Any]) -> str:
    sets = [f"--set '{k}={v}'" if " " in str(v) else f"--set {k}={v}"
            for k, v in settings.items() if k != "total_steps"]  # fmt: skip
    return f"--total-steps {settings['total_steps']} " + " ".join(sets)


def taxi_summary(case: dict[str, Any]) -> dict[str, Any]:
    steps, curve = mean_curve(case["runs"])
    tail = curve[-max(1, len(curve) // 20) :]
    return {
        "first": first_reaching(steps, curve, TAXI_TARGET),
        "first_zero": first_reaching(steps, curve, 0.0),
        "per_seed": [
            first_reaching(np.asarray(r["curve_steps"]), np.asarray(r["curve"]), TAXI_TARGET)
            for r in case["runs"]
        ],
        "final_training": float(np.nanmean(tail)),
        "eval": [r["eval_return"] for r in case["runs"]],
        "steps_per_second": host_speed(case["runs"]),
    }


def plot_taxi(figures: dict[str, Any]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(figures["settings"])
    fig = Figure(figsize=(6 * len(names), 8), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(2, len(names), squeeze=False)
    for column, name in enumerate(names):
        settings = figures["settings"][name]
        title = f"Taxi-v4, PPO, {name}: ent_coef {settings['ent_coef']}"
        draw_taxi(grid[0, column], figures, name, (-250, 12), title, each_seed=False)
        draw_taxi(grid[1, column], figures, name, (-10, 10), f"{title}, near the target",
                  each_seed=True)  # fmt: skip
    fig.savefig(RESULTS / "spaces_taxi.png", dpi=110)


def draw_taxi(ax: Any, figures: dict[str, Any], name: str, ylim: tuple[float, float],
              title: str, *, each_seed: bool) -> None:  # fmt: skip
    """One setting's masked and unmasked curves: the mean of the seeds, and their range
    shaded or each seed's curve as a thin line."""
    for case in (c for c in figures["cases"] if c["setting"] == name):
        color = "tab:blue" if case["masked"] else "tab:red"
        label = "masked (info['action_mask'])" if case["masked"] else "unmasked"
        steps, curve = mean_curve(case["runs"])
        n = len(steps)
        seeds = np.asarray([r["curve"][:n] for r in case["runs"]], dtype=float)
        ax.plot(steps, curve, color=color, label=f"{label}, mean of seeds")
        if each_seed:
            for seed_curve in seeds:
                ax.plot(steps, seed_curve, color=color, alpha=0.3, linewidth=0.7)
        else:
            with warnings.catch_warnings():  # rows before any episode ended are NaN
                warnings.simplefilter("ignore", category=RuntimeWarning)
                low, high = np.nanmin(seeds, 0), np.nanmax(seeds, 0)
            ax.fill_between(steps, low, high, color=color, alpha=0.15, linewidth=0)
        first = first_reaching(steps, curve, TAXI_TARGET)
        if first is not None:
            ax.axvline(first, color=color, linestyle=":", linewidth=1)
    ax.axhline(TAXI_TARGET, color="grey", linestyle="--", linewidth=1,
               label=f"target {TAXI_TARGET:.0f}")  # fmt: skip
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("environment steps")
    shown = "each seed thin" if each_seed else "seeds' range shaded"
    ax.set_ylabel(f"training episode return ({shown})")
    ax.set_ylim(*ylim)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small", framealpha=0.9)


def report(figures: dict[str, dict[str, Any]]) -> str:
    done = [name for name in EXPERIMENTS if name in figures]
    metas = {name: figures[name]["meta"] for name in done}
    first = next(iter(metas.values()))
    lines = [
        "# Every Gymnasium space: PPO on Discrete, Dict, MultiDiscrete and MultiBinary "
        "spaces and with action masks",
        "",
        "Issue 28's benchmark, `python benchmarks/spaces.py` (the protocol is in its "
        "docstring; `--report-only` rebuilds this file from `spaces.json`).",
        "",
    ]
    lines += [f"- {name}: `{m['command']}`, {m['date']}, commit {m['commit']}, "
              f"{m['seconds'] / 60:.1f} min" for name, m in metas.items()]  # fmt: skip
    notes = dict.fromkeys(m["note"] for m in metas.values() if m.get("note"))
    lines += ["", *[f"Note on the source: {note}." for note in notes]] if notes else []
    v = first["versions"]
    n = len(figures[done[0]]["seeds"])
    lines += [
        "",
        f"Versions: ascent {v['ascent']}, jax {v['jax']}, gymnasium {v['gymnasium']}; Python "
        f"{first['python']}. Machine: {first['cores']} CPU cores shared with other jobs, XLA "
        "on one thread: steps/s are indicative. Gymnasium door: steps/s of `learn`, "
        "compiling included (from the persistent cache after the first seed), over all "
        f"seeds. JAX door: steps/s of the {n} vmapped seeds together, compiling excluded.",
        "",
        "| task | observation → action | door | steps | target | seeds reaching it | "
        + " | ".join(f"seed {i}" for i in range(n))
        + " | steps/s | verdict |",
        "|---|---|---|---|---|---|" + "---|" * n + "---|---|",
    ]
    commands = []
    if "frozenlake" in figures:
        f = figures["frozenlake"]
        final = [r["eval_return"] for r in f["runs"]]
        met = sum(r == 1.0 for r in final)
        lines.append(
            f"| FrozenLake-v1 (is_slippery=False) | Discrete(16), one-hot → Discrete(4) | "
            f"Gymnasium | {f['settings']['total_steps']:,} | success 1.0 in >= "
            f"{needed(n)}/{n} | {met}/{len(final)} | {seeds_cells(final)} | "
            f"{host_speed(f['runs']):,.0f} | {'yes' if met >= needed(n) else '**no**'} |"
        )
        commands.append(
            "FrozenLake: `python benchmarks/spaces.py --only frozenlake`, i.e. for each seed "
            '`ascent.make("ppo", env=functools.partial(gymnasium.make, "FrozenLake-v1", '
            f"is_slippery=False), seed=seed, {overrides_text(f['settings'])}, "
            f"total_steps={f['settings']['total_steps']})` then `learn()` and "
            f"`evaluate({HOST_EVAL_EPISODES})` (a function, not an id: the command line "
            "has no option for `gymnasium.make`'s keyword arguments)."
        )
    summaries: dict[str, dict[str, Any]] = {}
    if "taxi" in figures:
        t = figures["taxi"]
        for case in t["cases"]:
            summaries[f"{case['setting']}/{case['masked']}"] = taxi_summary(case)
        for name, settings in t["settings"].items():
            masked, unmasked = summaries[f"{name}/True"], summaries[f"{name}/False"]
            earlier = masked["first"] is not None and (
                unmasked["first"] is None or masked["first"] < unmasked["first"]
            )
            for arm, s in (("masked", masked), ("unmasked", unmasked)):
                target = (
                    f"seeds' mean training return >= {TAXI_TARGET:.0f} before the unmasked run's"
                    if arm == "masked"
                    else "(the reference)"
                )
                reached = sum(x is not None for x in s["per_seed"])
                verdict = ("yes" if earlier else "**no**") if arm == "masked" else "—"
                lines.append(
                    f"| Taxi-v4, {arm}, {name} | Discrete(500), one-hot → Discrete(6)"
                    f"{' + info mask' if arm == 'masked' else ''} | Gymnasium | "
                    f"{settings['total_steps']:,} | {target} | {reaches(s['first'])}; "
                    f"{reached}/{len(s['eval'])} seeds reach 7 | "
                    f"{seeds_cells(s['eval'])} | {s['steps_per_second']:,.0f} | {verdict} |"
                )
            commands.append(
                f"Taxi, {name}: `python benchmarks/spaces.py --only taxi`, i.e. for each seed "
                f"`ascent train ppo --env Taxi-v4 [--action-mask info] --seed S "
                f"{cli_sets(settings)}`."
            )
    for name in ("diallock", "switches"):
        if name not in figures:
            continue
        m = figures[name]
        env_id, obs, action, uniform = MULTI_TASKS[name]
        bar = (1 - WITHIN) * OPTIMUM
        met = sum(r >= bar for r in m["final"])
        lines.append(
            f"| {env_id} | {obs} → {action} | JAX | {m['env_steps']:,} | >= {bar:.1f} "
            f"(optimum {OPTIMUM:.0f}, uniform {uniform:.1f}) in >= {needed(n)}/{n} | "
            f"{met}/{len(m['final'])} | {seeds_cells(m['final'])} | "
            f"{m['steps_per_second']:,.0f} | {'yes' if met >= needed(n) else '**no**'} |"
        )
        commands.append(
            f"{env_id}: `python benchmarks/spaces.py --only {name}` (the seeds in one compiled "
            f"program); one seed: `ascent train ppo --env {env_id} --seed S "
            f"{cli_sets(m['settings'])}`."
        )
    lines += [
        "",
        f"Seed columns: the final policy's mean return over {HOST_EVAL_EPISODES} "
        f"(Gymnasium door) or {JAX_EVAL_EPISODES} (JAX door) deterministic episodes. The "
        "Dict-observation row on the JAX door is ascent/DialLock-v0: its observation is a "
        "Dict of a MultiDiscrete (one-hot per component) and a Box, its action "
        "MultiDiscrete. Settings not named are PPO's defaults (10 epochs, minibatches of "
        "64, clip 0.2, GAE λ 0.95, two 64-wide tanh layers).",
        "",
        "Commands:",
        "",
        *[f"- {c}" for c in commands],
        "",
    ]
    if "taxi" in figures:
        lines += taxi_section(figures["taxi"], summaries)
    return "\n".join(lines).rstrip() + "\n"


def taxi_section(t: dict[str, Any], summaries: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Taxi-v4 with and without its action mask",
        "",
        "Taxi-v4 gives the actions that do something in each state in "
        "`info['action_mask']`: it forbids moves into a wall or off the grid (-1, nothing "
        "happens), a pick-up where the passenger is not (-10) and a drop-off away from the "
        "four stands (-10). Masked, those actions get a logit of −∞ in training and "
        "evaluation. Curves: each run's metrics.csv, "
        "`episode_return` (the mean return of the training episodes that ended in the "
        "row's updates, stochastic policy and entropy bonus included) against `env_steps`; "
        "the first step at which the mean of the seeds reaches 7 (optimum about 8). PPO "
        f"with {overrides_text(TAXI_BASE)} in both settings; only the entropy bonus and the "
        "budget differ. The training return is that of the sampled actions: with the large "
        "bonus it stays under 7 until the bonus has decayed, masked or not, so the step at "
        "which the mean first passes 0 shows better when each arm learns to deliver.",
        "",
        "| setting | mask | steps | first step where the seeds' mean reaches 0 | first "
        "step where the seeds' mean reaches 7 | each seed's first step at 7 | training "
        "return at the end (last 5% of rows) | final evaluation, mean of seeds "
        f"({HOST_EVAL_EPISODES} deterministic episodes each) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, settings in t["settings"].items():
        for masked in (True, False):
            s = summaries[f"{name}/{masked}"]
            lines.append(
                f"| {name} (ent_coef {settings['ent_coef']}) | {'yes' if masked else 'no'} | "
                f"{settings['total_steps']:,} | {steps_text(s['first_zero'])} | "
                f"{steps_text(s['first'])} | "
                f"{', '.join(steps_text(x) for x in s['per_seed'])} | "
                f"{s['final_training']:.2f} | {np.mean(s['eval']):.2f} |"
            )
    lines.append("")
    for name in t["settings"]:
        masked, unmasked = summaries[f"{name}/True"], summaries[f"{name}/False"]
        lines.append(f"- {name}: {mask_effect(masked, unmasked)}")
    lines += ["", "![Taxi-v4 learning curves](spaces_taxi.png)", ""]
    return lines


def mask_effect(masked: dict[str, Any], unmasked: dict[str, Any]) -> str:
    """One sentence comparing the arms: where each mean crosses 0 and 7, seed by seed."""

    def passes(step: int | None) -> str:
        return "never passes 0" if step is None else f"passes 0 at {step:,} steps"

    zero = (f"the masked runs' mean {passes(masked['first_zero'])}, the unmasked runs' "
            f"{passes(unmasked['first_zero'])}")  # fmt: skip
    m = [x for x in masked["per_seed"] if x is not None]
    u = [x for x in unmasked["per_seed"] if x is not None]
    if not m:
        return f"{zero}; no masked seed reaches 7."
    if not u:
        return f"{zero}; {len(m)} masked seeds reach 7 (the last at {max(m):,}), no unmasked one."
    order = "after the last masked one" if min(u) > max(m) else "not all after the masked ones"
    return (f"{zero}; seed by seed, the masked runs reach 7 at {min(m):,} to {max(m):,} "
            f"(median {int(np.median(m)):,}), the {len(u)} unmasked seeds that do at "
            f"{min(u):,} to {max(u):,} (median {int(np.median(u)):,}), {order}.")  # fmt: skip


# --- running ----------------------------------------------------------------------


def source() -> str:
    """The commit the code comes from, read when the process starts (others may commit
    in this checkout while it runs), and whether ascent/ differed from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, text=True, capture_output=True).stdout

    commit = git("rev-parse", "--short", "HEAD").strip() or "?"
    dirty = git("status", "--porcelain", "--", "ascent").strip()
    return commit + (" + uncommitted changes in ascent/" if dirty else "")


def meta(seconds: float, commit: str) -> dict[str, Any]:
    return {
        "command": " ".join(["python benchmarks/spaces.py", *sys.argv[1:]]),
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "commit": commit,
        "seconds": seconds,
        "versions": {name: version(dist) for name, dist in
                     [("ascent", "ascent-rl"), ("jax", "jax"), ("gymnasium", "gymnasium")]},
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=list(EXPERIMENTS))
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1")
    parser.add_argument("--steps", type=int, help="every run's total_steps (a smoke run)")
    parser.add_argument("--report-only", action="store_true",
                        help="rebuild spaces.md and the plot from spaces.json")  # fmt: skip
    args = parser.parse_args()
    figures = json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}
    if not args.report_only:
        from ascent.runtime import enable_compile_cache

        enable_compile_cache()
        commit = source()
        seeds = list(range(args.seeds))
        runners = {
            "frozenlake": lambda: frozenlake(seeds, args.steps),
            "taxi": lambda: taxi(seeds, args.steps),
            "diallock": lambda: multi("diallock", seeds, args.steps),
            "switches": lambda: multi("switches", seeds, args.steps),
        }
        for name in args.only:
            print(f"{name}:", flush=True)
            start = time.perf_counter()
            result = runners[name]()
            figures[name] = {"meta": meta(time.perf_counter() - start, commit), **result}
            RESULTS.mkdir(parents=True, exist_ok=True)
            FIGURES.write_text(json.dumps(figures, indent=1))
    if not figures:
        raise SystemExit(f"no figures in {FIGURES}: run an experiment first")
    if "taxi" in figures:
        plot_taxi(figures["taxi"])
    text = report(figures)
    (RESULTS / "spaces.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
