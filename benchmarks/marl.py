"""IPPO against MAPPO on MPE's spread and speaker-listener, 5 seeds each, against the
random and do-nothing baselines and a scripted heuristic; and the training speed of the
compiled door (JaxMARL's MPE) against the PettingZoo door (mpe2, stepped from Python).

    .venv/bin/python benchmarks/marl.py                   # all of it (about an hour)
    .venv/bin/python benchmarks/marl.py --phase train     # the 4 learning cases only
    .venv/bin/python benchmarks/marl.py --phase speed     # steps/s of both doors, alone
    .venv/bin/python benchmarks/marl.py --phase report    # table and plot from out/marl

Learning: each (task, algorithm) trains its 5 seeds in one compiled program on the
compiled door (`ascent.train.seeds.train_seeds`, the presets of ascent/catalog/presets/ippo.toml
and mappo.toml: Yu et al. 2022's MPE settings), two cases at a time (one per core). Each
seed's final policy is then evaluated, deterministically, for 100 episodes on both
doors: JaxMARL's MPE and mpe2's (the environment the baselines of
benchmarks/marl_baselines.py were measured on). A seed passes when its per-agent return
on mpe2 is above the issue's bar: do-nothing + ½ (heuristic − do-nothing).

Speed: one seed of each algorithm, alone on the machine, through the command line
(`ascent train <algo> --env jaxmarl/simple_spread_v3`): its wall-clock is the budget a
user waits for; then steady-state training steps/s of MAPPO with the preset on each door
(compiling excluded). Writes benchmarks/results/marl.md, marl.json and marl.png.
Returns are per agent (an agent's own reward summed over its 25-step episode, averaged
over agents), as in marl_baselines.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from processes import run_watched

from ascent._xla import XLA_FLAGS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "benchmarks" / "out" / "marl"
TASKS = ("simple_spread_v3", "simple_speaker_listener_v4")
ALGOS = ("ippo", "mappo")
SEEDS = (0, 1, 2, 3, 4)
STEPS = 5_000_000  # the presets' total_steps
EVAL_EPISODES = 100
EVAL_SEED = 100_000  # evaluation episodes never share seeds with training ones
CURVE_POINTS = 200


def train_case(task: str, algo: str, seeds: list[int], steps: int) -> dict[str, Any]:
    """Train `seeds` of `algo` on `jaxmarl/<task>` in one program; evaluate every seed on
    both doors. Returns the figures (written to out/marl/<task>-<algo>.json)."""
    import jax
    import numpy as np

    import ascent
    from ascent.runtime import enable_compile_cache
    from ascent.train.seeds import train_seeds

    enable_compile_cache()
    start = time.perf_counter()
    result = train_seeds(
        algo, f"jaxmarl/{task}", seeds, {"total_steps": steps}, eval_episodes=EVAL_EPISODES
    )
    wall = time.perf_counter() - start
    # the same configuration on the PettingZoo door, each seed's parameters in turn
    on_mpe2 = ascent.make(algo, env=f"mpe2/{task}", seed=0, total_steps=steps)
    evaluations = []
    for i, seed in enumerate(seeds):
        trained = jax.tree.map(lambda x, i=i: x[i], result.states.algo)
        on_mpe2.state = on_mpe2.state._replace(algo=trained)
        evaluations.append(on_mpe2.evaluate(EVAL_EPISODES, seed=EVAL_SEED + seed).to_dict())
    on_mpe2.close()
    every = max(1, len(result.env_steps) // CURVE_POINTS)
    curve = result.episode_return[:, every - 1 :: every]
    return {
        "task": task,
        "algo": algo,
        "seeds": list(seeds),
        "steps": steps,
        "compile_seconds": result.compile_seconds,
        "train_seconds": result.train_seconds,
        "wall_seconds": wall,
        "curve_steps": result.env_steps[every - 1 :: every].tolist(),
        "curve": np.nan_to_num(curve, nan=float("nan")).tolist(),  # [S, points]
        "eval_jaxmarl": result.mean_eval_return.tolist(),
        "eval_jaxmarl_by_agent": np.asarray(result.eval_agent_returns).mean(axis=1).tolist(),
        "eval_mpe2": [e["mean_return"] for e in evaluations],
        "eval_mpe2_se": [e["std_return"] / EVAL_EPISODES**0.5 for e in evaluations],
        "eval_mpe2_by_agent": [e["agent_mean_returns"] for e in evaluations],
    }


def run_train(jobs: int, seeds: list[int], steps: int) -> None:
    """The 4 cases, `jobs` processes at a time, each restarted if XLA hangs
    (`processes.run_watched`). The restarts are counted in out/marl/restarts.json."""
    OUT.mkdir(parents=True, exist_ok=True)
    cases = [
        (f"{task}-{algo}", [sys.executable, __file__, "--phase", "case", "--task", task,
                            "--algo", algo, "--steps", str(steps), "--seeds", *map(str, seeds)])
        for task in TASKS for algo in ALGOS
    ]  # fmt: skip
    restarts = run_watched(cases, jobs)
    (OUT / "restarts.json").write_text(json.dumps(restarts))


def cli_seconds(algo: str, task: str, steps: int) -> float:
    """Wall-clock of one seed through the command line, compiling and evaluation included."""
    run_dir = OUT / f"cli-{algo}-{task}"
    command = [str(Path(sys.executable).parent / "ascent"), "train", algo, "--env",
               f"jaxmarl/{task}", "--total-steps", str(steps), "--run-dir", str(run_dir),
               "--no-progress"]  # fmt: skip
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "XLA_FLAGS": XLA_FLAGS})
    return time.perf_counter() - start


def door_speed(algo: str, env_id: str, iterations: int) -> dict[str, float]:
    """Steady-state training steps/s of `algo`'s preset on `env_id` (one warm-up
    iteration compiles first)."""
    import ascent

    agent = ascent.make(algo, env=env_id, seed=0)
    per_iteration = agent.loop.steps_per_iteration
    # compiles, and runs each call the timed part makes once (chunks of 10 iterations)
    agent.learn(per_iteration * 20, progress=False, log_every=1)
    start = time.perf_counter()
    agent.learn(per_iteration * (20 + iterations), progress=False, log_every=1)
    seconds = time.perf_counter() - start
    agent.close()
    return {"steps": per_iteration * iterations, "seconds": seconds,
            "steps_per_second": per_iteration * iterations / seconds}  # fmt: skip


def run_speed(steps: int) -> None:
    """The wall-clock of one seed of each algorithm, then both doors' steps/s."""
    figures: dict[str, Any] = {"cli_seconds": {}}
    for algo in ALGOS:
        seconds = cli_seconds(algo, TASKS[0], steps)
        figures["cli_seconds"][algo] = seconds
        print(f"{algo} on jaxmarl/{TASKS[0]}, {steps:,} steps: {seconds:.0f} s", flush=True)
    env = {**os.environ, "XLA_FLAGS": XLA_FLAGS}
    for door, env_id, iterations in (("compiled", f"jaxmarl/{TASKS[0]}", 100),
                                     ("pettingzoo", f"mpe2/{TASKS[0]}", 5)):  # fmt: skip
        command = [sys.executable, __file__, "--phase", "door", "--env", env_id,
                   "--iterations", str(iterations)]  # fmt: skip
        out = subprocess.run(command, check=True, env=env, capture_output=True, text=True).stdout
        figures[door] = json.loads(out.strip().splitlines()[-1])
        print(f"{door}: {figures[door]['steps_per_second']:,.0f} steps/s", flush=True)
    (OUT / "speed.json").write_text(json.dumps(figures, indent=1))


def report() -> None:
    """Table and plot from out/marl (written to benchmarks/results/marl.*)."""
    import numpy as np

    baselines = json.loads((RESULTS / "marl_baselines.json").read_text())["tasks"]
    cases = {(c["task"], c["algo"]): c for c in (
        json.loads((OUT / f"{t}-{a}.json").read_text()) for t in TASKS for a in ALGOS
    )}  # fmt: skip
    speed = json.loads((OUT / "speed.json").read_text())
    restarts = json.loads((OUT / "restarts.json").read_text())
    lines = [
        "# IPPO and MAPPO on MPE",
        "",
        f"`python benchmarks/marl.py` ({dt.date.today()}): see the script's docstring for the "
        "protocol. Per-agent returns (an agent's own reward summed over its 25-step episode, "
        "averaged over agents), the convention of marl_baselines.md. Training on the "
        "compiled door (jaxmarl/...), 5 seeds in one program per case, "
        f"{cases[TASKS[0], ALGOS[0]]['steps']:,} steps each, the presets of "
        "ascent/catalog/presets/ippo.toml and mappo.toml; each seed's final policy evaluated "
        f"deterministically over {EVAL_EPISODES} episodes on mpe2 (the PettingZoo door, where "
        "the baselines were measured) and on JaxMARL.",
        "",
    ]
    summary: dict[str, Any] = {"date": str(dt.date.today()), "tasks": {}}
    for task in TASKS:
        base = baselines[task]
        bar = base["pass_bar"]
        policies = base["policies"]
        do_nothing, random_ = policies["do_nothing"]["mean"], policies["random"]["mean"]
        heuristic = base["heuristic"]["mean"]
        lines += [
            f"## {task}",
            "",
            f"Baselines on mpe2: random {random_:.2f}, do-nothing {do_nothing:.2f}, scripted "
            f"heuristic {heuristic:.2f}; pass bar {bar:.2f}.",
            "",
            "| algorithm | seeds above the bar | per seed on mpe2 | mean ± sd (mpe2) | "
            "mean on JaxMARL | above do-nothing, share of the gap to the heuristic | "
            "5 seeds' wall-clock |",
            "|---|---|---|---|---|---|---|",
        ]
        summary["tasks"][task] = {"pass_bar": bar, "algos": {}}
        for algo in ALGOS:
            c = cases[task, algo]
            mpe2, jaxmarl = np.asarray(c["eval_mpe2"]), np.asarray(c["eval_jaxmarl"])
            passed = int((mpe2 > bar).sum())
            share = (mpe2.mean() - do_nothing) / (heuristic - do_nothing)
            lines.append(
                f"| {algo} | **{passed}/{len(mpe2)}** | "
                + ", ".join(f"{x:.2f}" for x in mpe2)
                + f" | {mpe2.mean():.2f} ± {mpe2.std():.2f} | {jaxmarl.mean():.2f} | "
                f"{share:.2f} | {c['wall_seconds']:.0f} s |"
            )
            summary["tasks"][task]["algos"][algo] = {
                "passed": passed, "eval_mpe2": c["eval_mpe2"], "eval_jaxmarl": c["eval_jaxmarl"],
                "eval_mpe2_by_agent": c["eval_mpe2_by_agent"], "gap_share": share,
                "wall_seconds": c["wall_seconds"], "train_seconds": c["train_seconds"],
            }  # fmt: skip
        lines.append("")
    cli = speed["cli_seconds"]
    compiled, python = speed["compiled"], speed["pettingzoo"]
    ratio = compiled["steps_per_second"] / python["steps_per_second"]
    lines += [
        "## Speed",
        "",
        f"One seed through the command line, alone on the machine (`ascent train <algo> "
        f"--env jaxmarl/{TASKS[0]}`, compiling and the final evaluation included): "
        + ", ".join(f"{a} {s / 60:.1f} min" for a, s in cli.items())
        + ".",
        "",
        "| door | MAPPO training steps/s (preset: 128 environments × 25 steps, 10 epochs) |",
        "|---|---|",
        f"| compiled (jaxmarl/{TASKS[0]}) | {compiled['steps_per_second']:,.0f} |",
        f"| PettingZoo (mpe2/{TASKS[0]}, stepped from Python) | "
        f"{python['steps_per_second']:,.0f} |",
        "",
        f"The compiled door trains {ratio:.1f}× as many steps per second.",
    ]
    stuck = sum(restarts.values())
    lines += [
        "",
        f"Restarts of a stuck learning case (see `run_train`): {stuck}"
        + (f" ({', '.join(f'{k} {v}' for k, v in restarts.items() if v)})." if stuck else "."),
    ]
    summary["restarts"] = restarts
    summary["speed"] = {**speed, "ratio": ratio}
    (RESULTS / "marl.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "marl.json").write_text(json.dumps(summary, indent=1))
    plot(cases, baselines)
    print("\n".join(lines))


def plot(cases: dict, baselines: dict) -> None:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, task in zip(fig.subplots(1, len(TASKS)), TASKS, strict=True):
        for algo, color in zip(ALGOS, ("tab:blue", "tab:orange"), strict=True):
            c = cases[task, algo]
            steps, curve = np.asarray(c["curve_steps"]), np.asarray(c["curve"])
            ax.plot(steps, np.nanmean(curve, 0), color=color, label=f"{algo} (mean of 5 seeds)")
            ax.fill_between(steps, np.nanmin(curve, 0), np.nanmax(curve, 0), color=color,
                            alpha=0.2, linewidth=0)  # fmt: skip
        base = baselines[task]
        for name, value, style in (
            ("random", base["policies"]["random"]["mean"], ":"),
            ("do-nothing", base["policies"]["do_nothing"]["mean"], "--"),
            ("scripted heuristic", base["heuristic"]["mean"], "-."),
            ("pass bar", base["pass_bar"], "-"),
        ):
            ax.axhline(value, color="grey" if name != "pass bar" else "red", linestyle=style,
                       linewidth=1, label=f"{name} ({value:.1f})")  # fmt: skip
        ax.set_title(f"{task} (training episodes, compiled door)")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("episode return per agent")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    fig.savefig(RESULTS / "marl.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("all", "train", "speed", "report", "case", "door"),
                        default="all")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=2, help="learning cases at a time")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--algo", choices=ALGOS)
    parser.add_argument("--env", help="--phase door: the environment id")
    parser.add_argument("--iterations", type=int, default=5, help="--phase door")
    args = parser.parse_args()
    if args.phase == "door":  # one door's steps/s, in this process
        print(json.dumps(door_speed("mappo", args.env, args.iterations)))
        return
    if args.phase == "case":  # one learning case, in this process
        figures = train_case(args.task, args.algo, args.seeds, args.steps)
        (OUT / f"{args.task}-{args.algo}.json").write_text(json.dumps(figures))
        return
    if args.phase in ("all", "train"):
        run_train(args.jobs, args.seeds, args.steps)
    if args.phase in ("all", "speed"):
        run_speed(args.steps)
    if args.phase in ("all", "report"):
        report()


if __name__ == "__main__":
    main()
