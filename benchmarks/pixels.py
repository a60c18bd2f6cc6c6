"""Pixels benchmark (issue 29): MinAtar on the compiled door, Atari on the Gymnasium door.

Every contestant runs in its own process pinned to core 0 (`compare.launch`: one XLA
thread, torch one thread), one at a time, Ascent and its peer interleaved seed by seed;
the Atari case also on both cores (`--atari-threads 2`: XLA's pool and torch's threads
two, pinned to cores 0 and 1), its figures kept apart (`atari-2-cores`).

- minatar: Ascent's PPO preset (`gymnax/<game>`: gymnax-blines' MinAtar settings,
  MinAtar's small CNN) on Breakout-MinAtar and SpaceInvaders-MinAtar, 3 seeds, `--steps`
  each: `learn()` time (compiling included), steps per second, the training curve and
  the final deterministic return over 20 games, beside gymnax-blines' published 10M-step
  PPO returns (Breakout 28, SpaceInvaders 131). After each Ascent run, rejax's PPO with
  the same network (MinAtar's CNN, put into rejax as its actor and critic, its
  convolution written as patches times a matrix as Ascent's is: `--network cnn-patches`;
  with flax's Conv rejax runs about 13 times slower on this CPU), the same settings and
  the same number of steps (`peers/rejax_minatar.py`).
- atari: PPO with the Nature CNN and RL-Zoo's atari settings on Breakout, `--atari-steps`
  steps: Ascent on the ale-py engine and on EnvPool (after an untimed short run that
  fills the persistent compilation cache), Stable-Baselines3's PPO `CnnPolicy`
  (`peers/sb3_atari.py`). Steps per second, the time in updates against a floor (the
  Nature CNN's forward + backward + Adam on one minibatch of 256, timed alone in XLA with
  Ascent's torso and in PyTorch: `peers/xla_floor.py`, `peers/torch_floor.py`, times the
  run's minibatch count), and each process's peak resident memory (the preset's 8
  environments × 128 steps: under 2 GB).

Figures go to benchmarks/results/pixels.json by case (a case run alone replaces only its
own); pixels.md and pixels_minatar.png are rebuilt from that file.

    .venv/bin/python benchmarks/pixels.py --setup                 # the peers' virtualenvs
    .venv/bin/python benchmarks/pixels.py --only minatar --steps 500000
    .venv/bin/python benchmarks/pixels.py --only gymnax                # the environments alone
    .venv/bin/python benchmarks/pixels.py --only atari --atari-steps 50000
    .venv/bin/python benchmarks/pixels.py --only atari --atari-threads 2 --atari-rounds 3
    .venv/bin/python benchmarks/pixels.py --report-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import ROOT, launch, setup_peers, venv_python  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FIGURES = RESULTS / "pixels.json"
CACHE = ROOT / "benchmarks" / "out" / "pixels-cache"
ASCENT = [str(ROOT / ".venv" / "bin" / "python"), "benchmarks/peers/ascent_run.py"]
GAMES = {"Breakout-MinAtar": 28.0, "SpaceInvaders-MinAtar": 131.0}  # gymnax-blines, 10M
ATARI_GAME = "Breakout"
EVAL_GAMES = 20
MEMORY_LIMIT_MB = 2048
WARM_COMPILE_S = 3.0  # a run whose compiling took less found its programs in the cache
WARM_UP_STEPS = 2048  # the Atari case's untimed first run, which fills the cache


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()


def load() -> dict[str, Any]:
    return json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}


def save(case: str, figures: Any) -> None:
    everything = load()
    everything[case] = figures
    FIGURES.write_text(json.dumps(everything, indent=1) + "\n")


def show(who: str, out: dict[str, Any]) -> None:
    if "error" in out:
        print(f"  {who}: ERROR {out['error']}", flush=True)
        return
    keys = ("learn_s", "run_s", "steps_per_s", "eval_return", "score", "peak_rss_mb")
    print(f"  {who}: " + ", ".join(f"{k} {out[k]:.4g}" for k in keys
                                   if isinstance(out.get(k), int | float)), flush=True)  # fmt: skip


def minatar(args: argparse.Namespace) -> None:
    rows: list[dict[str, Any]] = []
    for game in GAMES:
        for seed in args.seeds:
            print(f"{game} seed {seed}", flush=True)
            ascent = launch([*ASCENT, "run", "ppo", f"gymnax/{game}", "--seed", str(seed),
                             "--steps", str(args.steps), "--episodes", str(EVAL_GAMES),
                             "--curve", "--cache", str(CACHE / "ascent")], 1)  # fmt: skip
            show("ascent", ascent)
            rejax = launch([str(venv_python("rejax")), "benchmarks/peers/rejax_minatar.py",
                            game, "--steps", str(args.steps), "--seed", str(seed),
                            "--network", "cnn-patches", "--episodes", str(EVAL_GAMES),
                            "--cache", str(CACHE / "rejax")], 1)  # fmt: skip
            show("rejax", rejax)
            rows.append({"game": game, "seed": seed, "steps": args.steps,
                         "ascent": ascent, "rejax": rejax})  # fmt: skip
            save("minatar", {"rows": rows, "commit": commit(), "date": str(dt.date.today())})


def gymnax_steps(args: argparse.Namespace) -> None:
    del args
    rows = []
    for game in GAMES:
        for who, python in (("ascent", ASCENT[0]), ("rejax", str(venv_python("rejax")))):
            out = launch([python, "benchmarks/peers/gymnax_steps.py", game], 1)
            print(f"{game} {who}: {out}", flush=True)
            rows.append({"game": game, "who": who, **out})
    save("gymnax", {"rows": rows, "commit": commit(), "date": str(dt.date.today())})


def atari_case(threads: int) -> str:
    """pixels.json's key for the Atari case on `threads` cores."""
    return "atari" if threads == 1 else f"atari-{threads}-cores"


def atari(args: argparse.Namespace) -> None:
    steps, n = str(args.atari_steps), args.atari_threads
    cache = CACHE / ("ascent" if n == 1 else f"ascent-{n}-cores")
    common = ["--steps", steps, "--episodes", "1", "--cache", str(cache), "--threads", str(n)]
    ascent = [*ASCENT, "breakdown", "ppo", f"atari/{ATARI_GAME}", *common]
    sb3 = [str(venv_python("sb3")), "benchmarks/peers/sb3_atari.py", "--steps", steps,
           "--seed", "0", "--threads", str(n)]  # fmt: skip
    runs: dict[str, Any] = {}
    # a user's second run finds its programs in the persistent cache (on by default): the
    # first WARM_UP_STEPS of the same run fill it first (the same programs: a run's length
    # is in them, through its schedules), so neither engine's timed run compiles
    print("ascent warm-up (fills the compilation cache; not timed)", flush=True)
    launch([*ascent, "--learn-steps", str(WARM_UP_STEPS)], n)
    for engine in ("ale", "envpool"):
        print(f"ascent {engine}", flush=True)
        runs[f"ascent-{engine}"] = launch([*ascent, "--env-option", f"engine={engine}"], n)
        show(f"ascent-{engine}", runs[f"ascent-{engine}"])
    print("sb3", flush=True)
    runs["sb3"] = launch(sb3, n)
    show("sb3", runs["sb3"])
    # ale-py and SB3 again, in turn: the machine's speed drifts by 10-30% within a sitting
    rounds = [{k: runs[k].get("steps_per_s") for k in ("ascent-ale", "sb3")}]
    for number in range(2, args.atari_rounds + 1):
        print(f"round {number}: ascent ale, sb3", flush=True)
        ale = launch([*ascent, "--env-option", "engine=ale"], n)
        rounds.append({"ascent-ale": ale.get("steps_per_s"),
                       "sb3": launch(sb3, n).get("steps_per_s")})  # fmt: skip
        print(f"  {rounds[-1]}", flush=True)
    runs["rounds"] = rounds
    print("floors", flush=True)
    threads = ["--threads", str(n)]
    runs["floor-xla"] = launch([*ASCENT[:1], "benchmarks/peers/xla_floor.py", *threads], n)
    runs["floor-torch"] = launch([str(venv_python("sb3")), "benchmarks/peers/torch_floor.py",
                                  *threads], n)  # fmt: skip
    show("floor-xla", runs["floor-xla"])
    show("floor-torch", runs["floor-torch"])
    save(atari_case(n), {"runs": runs, "steps": args.atari_steps, "threads": n,
                         "commit": commit(), "date": str(dt.date.today())})  # fmt: skip


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def minibatch_updates(steps: int) -> int:
    """Minibatch steps of the Atari preset's run: iterations × 4 epochs × 4 minibatches."""
    return math.ceil(steps / (8 * 128)) * 4 * 4


def report() -> None:
    figures = load()
    lines = ["# Pixels (issue 29)", "",
             "Made by `benchmarks/pixels.py` (commands in its docstring); every process "
             "pinned to one core of this machine (the Atari case also on both), one at a "
             "time. "
             f"{platform.processor() or platform.machine()}, Python {platform.python_version()}.",
             ""]  # fmt: skip
    if "minatar" in figures:
        lines += minatar_report(figures["minatar"])
    if "gymnax" in figures:
        lines += ["The environments alone (`peers/gymnax_steps.py`: one rollout of the "
                  "preset, 128 steps × 64 games, random actions), in each library's "
                  "virtualenv:", "", "| game | library | gymnax | ms per rollout |",
                  "|---|---|---|---|"]  # fmt: skip
        lines += [f"| {r['game']} | {r['who']} | {r.get('gymnax', '?')} "
                  f"| {r.get('ms_per_rollout', math.nan):.1f} |"
                  for r in figures["gymnax"]["rows"]]  # fmt: skip
        lines += [""]
    for case in sorted(k for k in figures if k.startswith("atari")):
        lines += atari_report(figures[case])
    lines += ["## On a GPU", "",
              "Not measured: no GPU machine was lent to the session that ran this benchmark.",
              ""]  # fmt: skip
    (RESULTS / "pixels.md").write_text("\n".join(lines))
    print((RESULTS / "pixels.md").read_text())


def minatar_report(data: dict[str, Any]) -> list[str]:
    rows = data["rows"]
    lines = ["## MinAtar, compiled door (PPO, MinAtar's CNN)", "",
             f"Commit {data['commit']}, {data['date']}. Settings: the PPO preset for "
             "`gymnax/<game>` (gymnax-blines' MinAtar PPO: 64 environments × 128 steps, 4 "
             "epochs × 8 minibatches, lr 5e-4, clip 0.2, value clip 0.2, γ 0.999), "
             "MinAtar's network (conv 16 3×3, dense 128) for actor and critic each; rejax "
             "given the same network (`--network cnn-patches`) and settings. Return: "
             f"deterministic, mean over {EVAL_GAMES} games.", "",
             "| game | seed | steps | Ascent return | rejax return | gymnax-blines 10M "
             "| Ascent learn() s | rejax compile + run s | Ascent steps/s | rejax run steps/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    ratios, warm = [], []
    for r in rows:
        a, x = r["ascent"], r["rejax"]
        ok = "error" not in a and "error" not in x
        if ok:  # like for like: each library's training call, compiling included
            ratios.append(x["learn_s"] / a["learn_s"])
            if max(a.get("compile_s", math.inf), x.get("compile_s", math.inf)) < WARM_COMPILE_S:
                warm.append(ratios[-1])
        lines.append(
            f"| {r['game']} | {r['seed']} | {r['steps']:,} | {a.get('eval_return', math.nan):.1f} "
            f"| {x.get('eval_return', math.nan):.1f} | {GAMES[r['game']]:.0f} "
            f"| {a.get('learn_s', math.nan):.1f} "
            f"| {x.get('compile_s', math.nan):.1f} + {x.get('run_s', math.nan):.1f} "
            f"| {a.get('steps_per_s', math.nan):,.0f} | {x.get('steps_per_s', math.nan):,.0f} |"
        )
    if ratios:
        lines += ["", "Ascent's speed over rejax's, each library's training call timed with "
                  "its compiling (from a warm persistent cache after the first seed; "
                  "Ascent's `learn()` also cuts the run into chunks to log and check it): "
                  f"mean {mean(ratios):.2f}×, range {min(ratios):.2f}–{max(ratios):.2f}× "
                  "(above 1: Ascent faster)."]  # fmt: skip
        if warm:
            lines += [f"The {len(warm)} runs where both libraries found their programs in "
                      f"the cache (compiling under {WARM_COMPILE_S:.0f} s each; a first "
                      "seed can find one library's cache cold and the other's warm): "
                      f"mean {mean(warm):.2f}×, "
                      f"range {min(warm):.2f}–{max(warm):.2f}×."]  # fmt: skip
        lines += ["Both libraries run the same products; most of an iteration is the "
                  "minibatches' dense layers (1024 frames × 1024 → 128). From abe1125 "
                  "Ascent computes their weight gradients weights-last "
                  "(`ascent/nn/products.py`), which XLA:CPU runs through YNNPACK instead "
                  "of Eigen, about twice as fast: one iteration 1341 → 1056 ms (before it, "
                  "0.97× rejax at af0d0a8 and ef070c2).", ""]  # fmt: skip
    plot_minatar(rows)
    lines += ["![MinAtar curves](pixels_minatar.png)", ""]
    return lines


def plot_minatar(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(GAMES), figsize=(5 * len(GAMES), 3.5))
    for ax, game in zip(axes, GAMES, strict=True):
        for r in rows:
            curve = r["ascent"].get("curve") if r["game"] == game else None
            if curve:
                xs, ys = zip(*curve, strict=True)
                ax.plot(xs, ys, label=f"seed {r['seed']}")
        ax.axhline(GAMES[game], ls="--", c="grey", label="gymnax-blines, 10M steps")
        ax.set_title(f"{game}: Ascent PPO, training episodes")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("episode return")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "pixels_minatar.png", dpi=110)


def atari_report(data: dict[str, Any]) -> list[str]:
    runs, steps = data["runs"], data["steps"]
    n_updates = minibatch_updates(steps)
    # the XLA step as PPO's update runs it (inside a scan); PyTorch's has no such loop
    floors = {"xla": runs["floor-xla"].get("scan_step_ms", math.nan) / 1e3,
              "torch": runs["floor-torch"].get("step_ms", math.nan) / 1e3}  # fmt: skip
    n = data.get("threads", 1)
    cores = "one core" if n == 1 else f"{n} cores"
    lines = [f"## Atari Breakout, Gymnasium door (PPO, Nature CNN), {steps:,} steps, "
             f"{cores} each", "",
             f"Commit {data['commit']}, {data['date']}. Every process pinned to {cores} "
             f"(XLA's pool and PyTorch's threads: {n}). RL-Zoo's atari PPO settings for "
             "all three (8 environments × 128 steps, 4 epochs × minibatches of 256, lr "
             "2.5e-4 and clip 0.1 decayed linearly), frames (4, 84, 84) uint8. Update "
             f"floor: one minibatch's forward + backward + Adam, alone, × {n_updates} "
             f"minibatch steps: XLA {floors['xla'] * n_updates:.0f} s "
             f"({floors['xla'] * 1e3:.0f} ms each), PyTorch "
             f"{floors['torch'] * n_updates:.0f} s ({floors['torch'] * 1e3:.0f} ms each). "
             f"Ascent's runs find their programs in the persistent compilation cache (the "
             f"untimed first {WARM_UP_STEPS:,} steps of the same run fill it), as a user's "
             "second run does; each run's compile time is in pixels.json.", "",
             "| run | steps/s | wall s | updates s | updates / XLA floor | collecting s "
             "| peak memory MB |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in ("ascent-ale", "ascent-envpool", "sb3"):
        r = runs.get(name, {})
        if "error" in r or not r:
            lines.append(f"| {name} | error: {r.get('error', 'not run')} | | | | | |")
            continue
        if name == "sb3":
            wall, update, collect = r["learn_s"], r["train_s"], r["collect_s"]
        else:
            parts = r["parts_s"]
            wall, update = r["learn_s"], parts.get("update", math.nan)
            collect = parts.get("env", 0.0) + parts.get("act", 0.0)
        lines.append(
            f"| {name} | {r['steps_per_s']:.0f} | {wall:.0f} | {update:.0f} "
            f"| {update / (floors['xla'] * n_updates):.2f} | {collect:.0f} "
            f"| {r.get('peak_rss_mb', math.nan):.0f} |"
        )
    sb3 = runs.get("sb3", {}).get("steps_per_s")
    for engine in ("ale", "envpool"):
        mine = runs.get(f"ascent-{engine}", {}).get("steps_per_s")
        if sb3 and mine:
            lines.append(f"\nAscent ({engine}) / SB3 steps per second: {mine / sb3:.2f}×.")
    rounds = [r for r in runs.get("rounds", []) if r.get("ascent-ale") and r.get("sb3")]
    if len(rounds) > 1:
        each = ", ".join(f"{r['ascent-ale'] / r['sb3']:.2f}×" for r in rounds)
        lines.append(f"\nAscent (ale) / SB3 in {len(rounds)} rounds, one after the other in "
                     f"turn (the first is the table's): {each}.")  # fmt: skip
    ale = runs.get("ascent-ale", {})
    if "parts_s" in ale and "train_s" in runs.get("sb3", {}):
        update = ale["parts_s"].get("update", math.nan)
        lines += ["", f"Where the time goes: Ascent's updates take "
                  f"{update / (floors['xla'] * n_updates):.2f}× the XLA floor (measured "
                  "alone, in its own process), SB3's "
                  f"{runs['sb3']['train_s'] / (floors['torch'] * n_updates):.2f}× the "
                  "PyTorch floor: the libraries differ as their floors do, one minibatch "
                  f"step {floors['xla'] * 1e3:.0f} ms in XLA (each convolution one matrix "
                  "product, its sum over the kernel's offsets taken before or after the "
                  "product, whichever array is smaller: `ascent/nn/cnn.py`) against "
                  f"{floors['torch'] * 1e3:.0f} ms in PyTorch (oneDNN's convolutions). "
                  "Collecting (acting and stepping) is the rest: the table's column."]  # fmt: skip
        below = (update / (floors["xla"] * n_updates),
                 runs["sb3"]["train_s"] / (floors["torch"] * n_updates))  # fmt: skip
        if max(below) < 0.9:
            lines += ["", "Here a floor measured alone ran slower than the same step inside "
                      "both libraries' runs (their updates under 0.9× their floors): "
                      "there the floors are no yardstick; the runs, one after another in "
                      "the same sitting, compare the libraries."]  # fmt: skip
    peaks = [runs[k].get("peak_rss_mb", math.nan) for k in ("ascent-ale", "ascent-envpool")
             if k in runs]  # fmt: skip
    if peaks:
        verdict = "under" if max(peaks) < MEMORY_LIMIT_MB else "OVER"
        lines += ["", f"Ascent's peak resident memory with the preset: {max(peaks):.0f} MB, "
                  f"{verdict} the 2 GB target.", ""]  # fmt: skip
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=["minatar", "gymnax", "atari"],
                   default=["minatar", "gymnax", "atari"])  # fmt: skip
    p.add_argument("--steps", type=int, default=500_000, help="MinAtar steps per run")
    p.add_argument("--atari-steps", type=int, default=50_000)
    p.add_argument("--atari-threads", type=int, default=1, help="cores each Atari run uses")
    p.add_argument("--atari-rounds", type=int, default=1, help="ale-py and SB3 runs, in turn")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--setup", action="store_true", help="only make the peers' virtualenvs")
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args()
    if args.setup:
        setup_peers()
        return
    if not args.report_only:
        setup_peers()
        if "minatar" in args.only:
            minatar(args)
        if "gymnax" in args.only:
            gymnax_steps(args)
        if "atari" in args.only:
            atari(args)
    report()


if __name__ == "__main__":
    main()
