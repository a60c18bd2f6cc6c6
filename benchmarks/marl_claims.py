"""The course's claims about teams of agents, each as a measured experiment.

    .venv/bin/python benchmarks/marl_claims.py --only channel     # run, then report
    .venv/bin/python benchmarks/marl_claims.py --phase report     # tables, plots from out/

- **channel**: does the listener of MPE's speaker-listener need the speaker's messages?
  MAPPO (the preset of ascent/presets/mappo.toml, 5M steps) on
  jaxmarl/simple_speaker_listener_v4, 5 seeds, with the channel and with it cut
  (`ascent.envs.multiagent.CutChannel`: the listener's 3 message entries are always 0;
  the global state the critic reads during training is left whole). Each seed's final
  policy is evaluated deterministically over 100 episodes on the compiled door. A seed
  with messages passes when its per-agent return is at least 10 above the mean of the
  cut seeds (the margin of shared/MARL-ANCHORS.md).

Each case trains its seeds in one compiled program (`ascent.train.seeds.train_seeds`) in
its own process, two at a time, restarted if XLA hangs (`processes.run_watched`).
Returns are per agent (an agent's own reward summed over its episode, averaged over
agents), the convention of marl_baselines.md. Writes benchmarks/results/marl_claims.md,
.json and one plot per experiment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from processes import run_watched

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "benchmarks" / "out" / "marl_claims"
SEEDS = (0, 1, 2, 3, 4)
EVAL_EPISODES = 100
CURVE_POINTS = 200
SPEAKER_LISTENER = "jaxmarl/simple_speaker_listener_v4"
MESSAGE_DIMS = (8, 9, 10)  # the listener's [velocity 2, landmarks 6, message 3]
MARGIN = 10.0

CASES = {
    "channel": ("channel-messages", "channel-cut"),
}


def make_case_env(case: str) -> Any:
    from ascent.envs import make
    from ascent.envs.multiagent import CutChannel

    if case == "channel-messages":
        return make(SPEAKER_LISTENER)
    if case == "channel-cut":
        return CutChannel(make(SPEAKER_LISTENER), "listener_0", MESSAGE_DIMS)
    raise SystemExit(f"unknown case {case}")


def run_case(case: str, seeds: list[int], steps: int | None) -> None:
    """Train `seeds` on the case's environment in one program, evaluate each, and write
    out/marl_claims/<case>.json."""
    import numpy as np

    from ascent.algos.registry import preset
    from ascent.runtime import enable_compile_cache
    from ascent.train.seeds import train_seeds

    enable_compile_cache()
    overrides = preset("mappo", SPEAKER_LISTENER)  # by id: a cut environment has its own
    if steps is not None:
        overrides["total_steps"] = steps
    start = time.perf_counter()
    result = train_seeds("mappo", make_case_env(case), seeds, overrides,
                         eval_episodes=EVAL_EPISODES, use_preset=False)  # fmt: skip
    wall = time.perf_counter() - start
    every = max(1, len(result.env_steps) // CURVE_POINTS)
    figures = {
        "case": case,
        "algo": "mappo",
        "seeds": seeds,
        "steps": overrides["total_steps"],
        "wall_seconds": wall,
        "train_seconds": result.train_seconds,
        "compile_seconds": result.compile_seconds,
        "curve_steps": result.env_steps[every - 1 :: every].tolist(),
        "curve": result.episode_return[:, every - 1 :: every].tolist(),
        "eval": result.mean_eval_return.tolist(),
        "eval_by_agent": np.asarray(result.eval_agent_returns).mean(axis=1).tolist(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{case}.json").write_text(json.dumps(figures))


def report_channel() -> tuple[list[str], dict[str, Any]]:
    import numpy as np

    talk, cut = (json.loads((OUT / f"{c}.json").read_text()) for c in CASES["channel"])
    with_msg, without = np.asarray(talk["eval"]), np.asarray(cut["eval"])
    bar = without.mean() + MARGIN
    passed = int((with_msg >= bar).sum())
    by_agent = {c["case"]: np.asarray(c["eval_by_agent"]).mean(0).round(2).tolist()
                for c in (talk, cut)}  # fmt: skip
    lines = [
        "## Speaker-listener with and without the message channel",
        "",
        f"MAPPO, {talk['steps']:,} steps, {len(talk['seeds'])} seeds each; per-agent return "
        f"of each seed's final policy ({EVAL_EPISODES} deterministic episodes, compiled "
        f"door). A seed with messages passes at {bar:.2f}: the cut seeds' mean + {MARGIN:.0f}.",
        "",
        "| channel | per seed | mean ± sd | speaker, listener (mean) | all seeds' wall-clock |",
        "|---|---|---|---|---|",
    ]
    for name, c, x in (("messages", talk, with_msg), ("cut", cut, without)):
        lines.append(f"| {name} | " + ", ".join(f"{v:.2f}" for v in x)
                     + f" | {x.mean():.2f} ± {x.std():.2f} | "
                     + ", ".join(f"{v:.2f}" for v in by_agent[c["case"]])
                     + f" | {c['wall_seconds']:.0f} s |")  # fmt: skip
    gap = with_msg.mean() - without.mean()
    lines += [
        "",
        f"Seeds with messages at least {MARGIN:.0f} above the cut mean: **{passed}/"
        f"{len(with_msg)}**. Messages are worth {gap:.2f} per agent on average.",
        "",
        "![speaker-listener with and without messages](marl_claims_channel.png)",
    ]
    plot_curves("channel", [("messages", talk), ("channel cut", cut)],
                "speaker-listener, MAPPO (training episodes)")  # fmt: skip
    summary = {"passed": passed, "bar": bar, "with_messages": talk["eval"],
               "cut": cut["eval"], "gap": gap}  # fmt: skip
    return lines, summary


def plot_curves(name: str, cases: list[tuple[str, dict]], title: str) -> None:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for (label, c), color in zip(cases, ("tab:blue", "tab:orange", "tab:green", "tab:red"),
                                 strict=False):  # fmt: skip
        steps, curve = np.asarray(c["curve_steps"]), np.asarray(c["curve"], float)
        ax.plot(steps, np.nanmean(curve, 0), color=color, label=f"{label} (mean over seeds)")
        ax.fill_between(steps, np.nanmin(curve, 0), np.nanmax(curve, 0), color=color,
                        alpha=0.2, linewidth=0)  # fmt: skip
    ax.set_title(title)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return per agent")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(RESULTS / f"marl_claims_{name}.png", dpi=110)


REPORTS = {"channel": report_channel}


def report() -> None:
    """One section per experiment whose cases have all run."""
    lines = [
        "# The course's claims about teams of agents",
        "",
        f"`python benchmarks/marl_claims.py` ({dt.date.today()}); the protocol of each "
        "experiment is in the script's docstring. Returns are per agent.",
        "",
    ]
    summary: dict[str, Any] = {"date": str(dt.date.today())}
    restarts_file = OUT / "restarts.json"
    restarts = json.loads(restarts_file.read_text()) if restarts_file.exists() else {}
    for name, make_report in REPORTS.items():
        if not all((OUT / f"{c}.json").exists() for c in CASES[name]):
            continue
        section, summary[name] = make_report()
        lines += [*section, ""]
    stuck = {k: v for k, v in restarts.items() if v}
    named = f" ({', '.join(f'{k} {v}' for k, v in stuck.items())})." if stuck else "."
    lines.append(f"Restarts of a stuck case: {sum(stuck.values())}{named}")
    summary["restarts"] = restarts
    (RESULTS / "marl_claims.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "marl_claims.json").write_text(json.dumps(summary, indent=1))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("all", "run", "report", "case"), default="all")
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    parser.add_argument("--case", help="(--phase case) the case to run in this process")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    parser.add_argument("--jobs", type=int, default=2, help="cases at a time")
    args = parser.parse_args()
    if args.phase == "case":
        run_case(args.case, args.seeds, args.steps)
        return
    if args.phase in ("all", "run"):
        steps = ["--steps", str(args.steps)] if args.steps else []
        cases = [(case, [sys.executable, __file__, "--phase", "case", "--case", case,
                         "--seeds", *map(str, args.seeds), *steps])
                 for name in args.only for case in CASES[name]]  # fmt: skip
        restarts_file = OUT / "restarts.json"
        OUT.mkdir(parents=True, exist_ok=True)
        old = json.loads(restarts_file.read_text()) if restarts_file.exists() else {}
        restarts_file.write_text(json.dumps({**old, **run_watched(cases, args.jobs)}))
    if args.phase in ("all", "report"):
        report()


if __name__ == "__main__":
    main()
