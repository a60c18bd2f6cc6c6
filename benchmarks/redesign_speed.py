"""Speed kept through the train/ redesign (issue 14): Ascent at an old commit against
Ascent now, in interleaved pairs, on the cases of `compare.py`'s table.

    .venv/bin/python benchmarks/redesign_speed.py                      # against 67b4daa
    .venv/bin/python benchmarks/redesign_speed.py --old 67b4daa --only ppo a2c --seeds 0 1

Both commits (the old one and HEAD) are checked out in git worktrees under
benchmarks/out/redesign/; each
run is `benchmarks/peers/ascent_run.py run` of its own tree, in a process of its own
pinned to core 0 (one XLA thread) with that tree first on the path and its own warm
compilation cache (one cold run per tree, case and door first, not counted). Seeds
alternate which tree goes first. A case passes when the median of new/old *learn*
times (the training call, compiling from a warm cache included) is at most 1.05.
Writes benchmarks/results/redesign_speed.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from ascent._xla import XLA_FLAGS_BY_AFFINITY

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "out" / "redesign"
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = ROOT / ".venv" / "bin" / "python"
# (key, algo, env, steps, evaluation episodes, seeds by default): compare.py's cases
CASES = {
    "ppo": ("ppo", "CartPole-v1", 100_000, 20, 5),
    "a2c": ("a2c", "CartPole-v1", 100_000, 20, 5),
    "trpo": ("trpo", "CartPole-v1", 100_000, 20, 5),
    "sac": ("sac", "Pendulum-v1", 20_000, 10, 3),
}
LIMIT = 1.05


def old_tree(commit: str) -> Path:
    tree = WORK / f"tree-{commit}"
    if not (tree / "ascent").is_dir():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
    return tree


def launch(tree: Path, algo: str, env: str, steps: int, episodes: int, seed: int, cache: Path
           ) -> dict[str, Any]:  # fmt: skip
    command = ["taskset", "-c", "0", str(PYTHON), str(tree / "benchmarks/peers/ascent_run.py"),
               "run", algo, env, "--steps", str(steps), "--episodes", str(episodes),
               "--seed", str(seed), "--threads", "1", "--cache", str(cache)]  # fmt: skip
    environ = {**os.environ, "PYTHONPATH": str(tree), "XLA_FLAGS": XLA_FLAGS_BY_AFFINITY,
               "JAX_PLATFORMS": "cpu", "OMP_NUM_THREADS": "1"}  # fmt: skip
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env=environ, cwd=tree,
                         timeout=3600)  # fmt: skip
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines:
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        raise SystemExit(f"{tree.name} {algo} {env} seed {seed} failed: {' | '.join(tail)}")
    out = json.loads(lines[-1])
    out["process_s"] = time.perf_counter() - start
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--old", default="67b4daa")
    p.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    p.add_argument("--seeds", nargs="+", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="instead of each case's budget")
    doors = ["Gymnasium", "compiled"]
    p.add_argument("--doors", nargs="+", choices=doors, default=doors)
    p.add_argument("--append", action="store_true", help="add to redesign_speed.json's pairs")
    p.add_argument("--report", action="store_true", help="only redo the .md from the .json")
    p.add_argument("--name", default="redesign_speed",
                   help="results/<name>.md and .json (another change than issue 14's)")  # fmt: skip
    args = p.parse_args()
    if args.report:
        report(args.old, args.name)
        return
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                          capture_output=True, check=True).stdout.strip()  # fmt: skip
    # the new side runs from a checkout of HEAD too, so edits made meanwhile do not count
    trees = {"old": old_tree(args.old), "new": old_tree(head)}
    saved = RESULTS / f"{args.name}.json"
    rows: list[dict[str, Any]] = json.loads(saved.read_text()) if args.append else []
    for key in args.only:
        algo, env_id, steps, episodes, n_seeds = CASES[key]
        steps = args.steps or steps
        seeds = args.seeds if args.seeds is not None else list(range(n_seeds))
        for door, env in (("Gymnasium", env_id), ("compiled", f"gymnax/{env_id}")):
            if door not in args.doors:
                continue
            caches = {who: WORK / "cache" / who / key / door for who in trees}
            for who, tree in trees.items():  # cold: fills the cache, not counted
                launch(tree, algo, env, steps, episodes, 0, caches[who])
            for i, seed in enumerate(seeds):
                order = ["old", "new"] if i % 2 == 0 else ["new", "old"]
                got = {who: launch(trees[who], algo, env, steps, episodes, seed, caches[who])
                       for who in order}  # fmt: skip
                row = {"case": key, "door": door, "seed": seed, "steps": steps,
                       **{f"{who}_s": got[who]["learn_s"] for who in trees},
                       **{f"{who}_return": got[who]["eval_return"] for who in trees},
                       "new_commit": head, "date": dt.date.today().isoformat()}  # fmt: skip
                rows.append(row)
                saved.write_text(json.dumps(rows, indent=1))  # kept as the pairs come
                print(f"{key} {door} seed {seed}: old {row['old_s']:.2f} s, "
                      f"new {row['new_s']:.2f} s", flush=True)  # fmt: skip
    write(rows, args.old, head, args.name)


def report(old: str, name: str = "redesign_speed") -> None:
    """Write the tables again from results/<name>.json."""
    write(json.loads((RESULTS / f"{name}.json").read_text()), old, "", name)


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"  # the first pairs' log kept times only


def write(
    rows: list[dict[str, Any]], old: str, head: str, name: str = "redesign_speed"
) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    title = "the train/ redesign (issue 14)" if name == "redesign_speed" else f"results/{name}"
    lines = [
        f"# Speed through {title}",
        "",
        f"`python benchmarks/redesign_speed.py` (written {when}; each case's date and "
        f"commit in the table): Ascent at {old} (old) against a later commit (new), "
        "interleaved pairs, one core, warm compilation caches; learn = the training "
        f"call's wall-clock. A case passes when the median new/old ratio is at most {LIMIT}.",
        "",
        "| case | door | steps | pairs | new commit | measured | old median | new median | "
        "median new/old | pass |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["case"], row["door"], row["steps"]), []).append(row)
    for (case, door, steps), group in groups.items():
        ratio = statistics.median(r["new_s"] / r["old_s"] for r in group)
        old_s = statistics.median(r["old_s"] for r in group)
        new_s = statistics.median(r["new_s"] for r in group)
        verdict = "yes" if ratio <= LIMIT else "no"
        commits = ", ".join(sorted({r.get("new_commit", head) for r in group}))
        dates = ", ".join(sorted({r.get("date", "") for r in group}))
        lines.append(f"| {case} | {door} | {steps} | {len(group)} | {commits} | {dates} | "
                     f"{old_s:.2f} s | {new_s:.2f} s | {ratio:.3f} | {verdict} |")  # fmt: skip
    loaded = RESULTS / "redesign_speed_loaded.json"
    # issue 14's pairs measured while other work shared the machine, replaced
    if loaded.is_file() and name == "redesign_speed":
        earlier: dict[tuple[str, str], list[float]] = {}
        for r in json.loads(loaded.read_text()):
            earlier.setdefault((r["case"], r["door"]), []).append(r["new_s"] / r["old_s"])
        medians = "; ".join(f"{c} {d} {statistics.median(v):.3f}"
                            for (c, d), v in earlier.items())  # fmt: skip
        lines += ["", "The 2026-12-03 pairs ran while tests and other benchmarks used the "
                  "machine's other core. That day's A2C and SAC-compiled pairs (median "
                  f"new/old: {medians}; redesign_speed_loaded.json) were measured again on "
                  "an idle machine, above."]  # fmt: skip
    lines += ["", "Every pair (seconds; evaluation return of each):", "",
              "| case | door | seed | old | new | new/old | old return | new return |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['case']} | {r['door']} | {r['seed']} | {r['old_s']:.2f} | "
                     f"{r['new_s']:.2f} | {r['new_s'] / r['old_s']:.3f} | "
                     f"{_num(r['old_return'])} | {_num(r['new_return'])} |")  # fmt: skip
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / f'{name}.md'}")


if __name__ == "__main__":
    main()
