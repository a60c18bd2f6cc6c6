"""Speed, side by side: Ascent against Stable-Baselines3 / sb3-contrib and rejax (issue 7).

    .venv/bin/python benchmarks/compare.py                        # all cases, 1 then 2 threads
    .venv/bin/python benchmarks/compare.py --threads 1 --only ppo a2c --seeds 0 1 2
    .venv/bin/python benchmarks/compare.py --setup                # only make the peers' venvs
    .venv/bin/python benchmarks/compare.py --report               # redo compare.md and .png
    .venv/bin/python benchmarks/compare.py --threads 1 --only ppo --floors-only  # breakdown, floors
    .venv/bin/python benchmarks/compare.py --profile ppo --label after

Every contestant runs in a process of its own, from its own virtualenv: Ascent from
.venv, the peers from virtualenvs this script makes under benchmarks/envs/ (never
imported by Ascent): `sb3` (torch 2.13.0 CPU, stable-baselines3, sb3-contrib, the
gymnasium Ascent has, ale-py and OpenCV for Atari) and `rejax` (rejax, with gymnax < 1.0,
whose step API it uses; its MinAtar games serve benchmarks/pixels.py).
The run scripts are benchmarks/peers/*_run.py; each prints one JSON line.

For each case and thread count: a cold run of each JAX contestant with an empty
compilation cache (its compile time is the cold figure), then for each seed the
contestants one after another (Ascent, peer, Ascent, peer), so machine noise hits them
alike, with the cache warm. All are pinned with `taskset` to the same cores (1 thread:
core 0; 2 threads: cores 0-1) and told the thread count (XLA through Ascent's
`use_threads` or the affinity, torch through `set_num_threads`). Then, for Ascent's
Gymnasium door, a run with each part timed (environment, acting, updates) and the
floors: (a) the door's vector env (`HostVecEnv`: N Gymnasium environments, same-step
autoreset) stepped with random actions, (b) the jitted policy
alone on the same batches, (c) the jitted update alone on the same shapes (and, for
off-policy algorithms, its compute alone: many updates in one `lax.scan`).

The hyperparameters are Ascent's presets (RL-Zoo's), handed to the peers' scripts as
JSON, so every library trains the same settings. Results go to
benchmarks/results/compare.json (every run), compare.md and compare.png.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ascent._xla import XLA_FLAGS_BY_AFFINITY

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "benchmarks" / "peers"
VENVS = ROOT / "benchmarks" / "envs"
WORK = ROOT / "benchmarks" / "out" / "compare"  # compilation caches, raw profiles
RESULTS = ROOT / "benchmarks" / "results"
JSON_OUT = RESULTS / "compare.json"
ASCENT_PY = ROOT / ".venv" / "bin" / "python"

# What each peer's virtualenv holds; torch first, alone, so pip takes the CPU wheel.
PEER_PACKAGES = {
    "sb3": [
        ["torch==2.13.0"],
        [
            "stable-baselines3==2.9.2",
            "sb3-contrib==2.9.2",
            f"gymnasium[mujoco]=={version('gymnasium')}",
        ],  # MuJoCo for benchmarks/mujoco_tables.py
        # Atari for benchmarks/pixels.py (peers/sb3_atari.py): ROMs ship in ale-py's wheel
        ["ale-py>=0.12", "opencv-python-headless"],
    ],
    # rejax 0.1.3 unpacks five outputs from env.step: gymnax's API before 1.0
    "rejax": [["rejax==0.1.3", "gymnax<1.0"]],
}


@dataclass(frozen=True)
class Case:
    key: str
    algo: str
    env: str  # Gymnasium id; the compiled door and rejax use gymnax's of the same name
    steps: int
    episodes: int  # deterministic evaluation episodes per run, each library's own evaluator
    shared_episodes: int  # and the Gymnasium episodes every contestant shares (episodes.py)
    jax_door: bool  # Ascent's compiled door (gymnax/<env>) too
    rejax: bool

    @property
    def title(self) -> str:
        return f"{self.algo.upper()} {self.env} {self.steps // 1000}k"


CASES = [
    Case("ppo", "ppo", "CartPole-v1", 100_000, 20, 50, True, True),
    Case("a2c", "a2c", "CartPole-v1", 100_000, 20, 50, True, False),
    Case("trpo", "trpo", "CartPole-v1", 100_000, 20, 50, True, False),
    Case("sac", "sac", "Pendulum-v1", 20_000, 10, 100, True, True),
    Case("td3", "td3", "Pendulum-v1", 20_000, 10, 100, True, True),
]
WHO = {
    "ascent": "Ascent (Gymnasium door)",
    "ascent-jax": "Ascent (compiled door)",
    "sb3": "Stable-Baselines3",
    "rejax": "rejax",
}


# --- environments -------------------------------------------------------------------


def venv_python(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def setup_peers() -> None:
    """Make each peer's virtualenv unless it is there with its packages."""
    for name, steps in PEER_PACKAGES.items():
        marker = VENVS / name / "ascent-compare.json"
        wanted = json.dumps(steps)
        if marker.is_file() and marker.read_text() == wanted:
            continue
        print(f"making benchmarks/envs/{name} ...", flush=True)
        shutil.rmtree(VENVS / name, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / name)], check=True)
        for packages in steps:
            subprocess.run(
                [str(venv_python(name)), "-m", "pip", "install", "-q", *packages], check=True
            )
        marker.write_text(wanted)


def peer_versions() -> dict[str, dict[str, str]]:
    out = {}
    for name, packages in [
        ("sb3", ["torch", "stable-baselines3", "sb3-contrib", "gymnasium"]),
        ("rejax", ["rejax", "jax", "jaxlib", "flax", "gymnax"]),
    ]:
        code = (
            "import json, importlib.metadata as m; "
            f"print(json.dumps({{p: m.version(p) for p in {packages!r}}}))"
        )
        run = subprocess.run(
            [str(venv_python(name)), "-c", code], capture_output=True, text=True, check=True
        )
        out[name] = json.loads(run.stdout)
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


# --- one run ------------------------------------------------------------------------


def ascent_config(case: Case) -> dict[str, Any]:
    from ascent.algos.config import config_to_dict
    from ascent.catalog.registry import make_config

    return config_to_dict(make_config(case.algo, case.env, {"total_steps": case.steps}))


def cpus(threads: int) -> str:
    return ",".join(str(i) for i in range(threads))


def launch(command: list[str], threads: int, timeout: float = 3600) -> dict[str, Any]:
    """Run one contestant pinned to `threads` cores; its JSON line, or the error."""
    env = {
        **os.environ,
        "XLA_FLAGS": XLA_FLAGS_BY_AFFINITY,  # the CLI's: XLA's threads follow taskset
        "JAX_PLATFORMS": "cpu",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    start = time.perf_counter()
    run = subprocess.run(
        ["taskset", "-c", cpus(threads), *command],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines:
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        return {"error": " | ".join(tail), "process_s": time.perf_counter() - start}
    out = json.loads(lines[-1])
    out["process_s"] = time.perf_counter() - start
    return out


def cache_dir(threads: int, case: Case, who: str) -> Path:
    return WORK / "cache" / f"t{threads}" / case.key / who


def run_contestant(
    who: str, case: Case, seed: int, threads: int, mode: str = "run"
) -> dict[str, Any]:
    cache = str(cache_dir(threads, case, who))
    common = ["--seed", str(seed), "--threads", str(threads), "--episodes", str(case.episodes)]
    if mode == "run":
        common += ["--shared-episodes", str(case.shared_episodes)]
    if who in ("ascent", "ascent-jax"):
        env = case.env if who == "ascent" else f"gymnax/{case.env}"
        command = [str(ASCENT_PY), str(PEERS / "ascent_run.py"), mode, case.algo, env,
                   "--steps", str(case.steps), "--cache", cache, *common]  # fmt: skip
    elif who == "sb3":
        command = [str(venv_python("sb3")), str(PEERS / "sb3_run.py"), case.algo, case.env,
                   "--config", json.dumps(ascent_config(case)), *common]  # fmt: skip
    else:
        command = [str(venv_python("rejax")), str(PEERS / "rejax_run.py"), case.algo, case.env,
                   "--config", json.dumps(ascent_config(case)), "--cache", cache,
                   *common]  # fmt: skip
    return launch(command, threads)


def contestants(case: Case) -> list[str]:
    """In the order they take turns: Ascent, peer, Ascent, peer."""
    order = ["ascent", "sb3"]
    if case.jax_door:
        order.append("ascent-jax")
    if case.rejax:
        order.append("rejax")
    return order


def git_commit() -> str:
    """The commit of the Ascent tree measured, with "+" if it has uncommitted changes
    (other than the results this script writes)."""
    run = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)  # noqa: E731
    head = run("rev-parse", "--short", "HEAD").stdout.strip() or "?"
    changed = run(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"
    )
    return head + ("+" if changed.stdout else "")


COMMIT = git_commit()


def measure(
    case: Case, threads: int, seeds: list[int], floors: bool, timed: bool = True
) -> list[dict[str, Any]]:
    """Every record of one case at one thread count (`timed=False`: only the breakdown
    and the floors)."""
    records: list[dict[str, Any]] = []

    def record(kind: str, who: str, seed: int | None, result: dict[str, Any]) -> None:
        row = {"case": case.key, "threads": threads, "kind": kind, "who": who, "seed": seed,
               "commit": COMMIT, **result}  # fmt: skip
        records.append(row)
        figure = result.get("learn_s", result.get("sum_s"))
        shown = f"{figure:.2f} s" if figure is not None else result.get("error", "?")[:200]
        extra = f", return {episode_return(result):.1f}" if "eval_return" in result else ""
        print(f"  [{threads}t] {case.key} {kind} {who} seed {seed}: {shown}{extra}", flush=True)

    jax_contestants = [w for w in contestants(case) if w in ("ascent", "ascent-jax", "rejax")]
    for who in jax_contestants if timed else []:  # cold: an empty persistent compilation cache
        shutil.rmtree(cache_dir(threads, case, who), ignore_errors=True)
        record("cold", who, 99, run_contestant(who, case, 99, threads))
    for seed in seeds if timed else []:
        for who in contestants(case):
            record("timed", who, seed, run_contestant(who, case, seed, threads))
    if floors:
        record("breakdown", "ascent", seeds[0],
               run_contestant("ascent", case, seeds[0], threads, "breakdown"))  # fmt: skip
        record("floors", "ascent", None, run_contestant("ascent", case, 0, threads, "floors"))
        if case.jax_door and case.algo in ("ppo", "a2c", "trpo"):
            record("floors", "ascent-jax", None,
                   run_contestant("ascent-jax", case, 0, threads, "floors"))  # fmt: skip
    return records


# --- profiles -----------------------------------------------------------------------

COMPILE_MARKS = ("lower", "trace_to_jaxpr", "compile", "_infer_params", "_create_pjit_jaxpr")


def summarise_profile(raw: Path, source: Path, top: int = 10) -> dict[str, Any]:
    """py-spy's raw samples inside `Agent.learn`, grouped: compiling, the Gymnasium
    step, the door's own conversions, then by the deepest line of the training loop
    (whose text is read from `source`, the tree the profiled code came from)."""
    groups: dict[str, int] = defaultdict(int)
    total = 0
    for line in raw.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        if not any("Agent.learn" in f for f in frames):
            continue
        n = int(count)
        total += n
        if any("jax/_src" in f and any(m in f.split(" (")[0] for m in COMPILE_MARKS)
               for f in frames):  # fmt: skip
            groups["compiling: tracing, lowering, XLA or the persistent cache"] += n
        elif any("SyncVectorEnv.step" in f for f in frames):
            groups["Gymnasium's vector env: step (its Python)"] += n
        elif any("HostVecEnv.step" in f for f in frames):
            if any("gymnasium/" in f for f in frames):  # since a77e829 it steps them itself
                groups["Gymnasium environments: step (their Python)"] += n
            else:
                groups["HostVecEnv.step: its own loop and arrays"] += n
        else:
            # a compiled call (through CachedJit, or a bound LeanJit) is named by the
            # loop's line that made it
            wrappers = ("CachedJit.__call__ ", "LeanJit.bind.<locals>.call ")
            ours = [f for f in frames if "(ascent/" in f and not f.startswith(wrappers)]
            groups[_source_line(ours[-1], source) if ours else frames[-1]] += n
    ranked = sorted(groups.items(), key=lambda kv: -kv[1])[:top]
    return {"samples": total, "top": [(name, 100 * n / total) for name, n in ranked]}


def _source_line(frame: str, source: Path) -> str:
    """'f (ascent/x.py:12)' -> 'x.py:12 f: <the line's code>'."""
    function, where = frame.rsplit(" (", 1)
    path, line = where.rstrip(")").rsplit(":", 1)
    try:
        text = (source / path).read_text().splitlines()[int(line) - 1].strip()
    except (OSError, IndexError, ValueError):
        text = ""
    return f"{path.removeprefix('ascent/')}:{line} {function.split('.')[-1]}: `{text}`"


def profile(case: Case, label: str, door: str, source: Path, threads: int = 1) -> dict[str, Any]:
    """One Ascent run of `case` under py-spy (idle samples too, so waiting for XLA
    shows), the compilation cache warmed by a run before it; also the learn time of an
    unprofiled run with the cache warm."""
    tools = VENVS / "tools"
    if not (tools / "bin" / "py-spy").exists():
        subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
        subprocess.run([str(tools / "bin" / "pip"), "install", "-q", "py-spy"], check=True)
    env_id = case.env if door == "host" else f"gymnax/{case.env}"
    cache = WORK / "cache" / "profile" / f"{case.key}-{door}-{label}"
    command = [str(ASCENT_PY), str(PEERS / "ascent_run.py"), "run", case.algo, env_id,
               "--steps", str(case.steps), "--episodes", "1", "--cache", str(cache)]  # fmt: skip
    env = {**os.environ, "XLA_FLAGS": XLA_FLAGS_BY_AFFINITY, "PYTHONPATH": str(source)}
    pinned = ["taskset", "-c", cpus(threads)]
    for _ in range(2):  # the first fills the cache; the second is the warm timing
        warm = subprocess.run([*pinned, *command], capture_output=True, text=True, env=env,
                              cwd=source, check=True)  # fmt: skip
    raw = WORK / f"profile-{case.key}-{door}-{label}.txt"
    raw.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*pinned, str(tools / "bin" / "py-spy"), "record", "--idle", "-r", "500", "-f", "raw",
         "-o", str(raw), "--", *command],
        capture_output=True, text=True, env=env, cwd=source, check=True,
    )  # fmt: skip
    summary = summarise_profile(raw, source)
    summary["learn_s_unprofiled"] = json.loads(warm.stdout.strip().splitlines()[-1])["learn_s"]
    return summary


# --- results ------------------------------------------------------------------------


def load_results() -> dict[str, Any]:
    if JSON_OUT.is_file():
        return json.loads(JSON_OUT.read_text())
    return {"meta": {}, "records": [], "profiles": {}}


def save_results(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    JSON_OUT.write_text(json.dumps(results, indent=1) + "\n")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def episode_return(row: dict[str, Any]) -> float:
    """A run's evaluation return: on the shared episodes where it has them (runs from
    before episodes.py have only their library's own evaluator)."""
    return row.get("shared_return", row["eval_return"])


class Table:
    """The records of one thread count, looked up by case, kind and contestant."""

    def __init__(self, records: list[dict[str, Any]], threads: int):
        self.rows = [r for r in records if r["threads"] == threads and "error" not in r]
        self.errors = [r for r in records if r["threads"] == threads and "error" in r]

    def get(self, case: str, kind: str, who: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if (r["case"], r["kind"], r["who"]) == (case, kind, who)]

    def med(self, case: str, who: str, field: str = "learn_s") -> float:
        return median([r[field] for r in self.get(case, "timed", who)])

    def med_return(self, case: str, who: str) -> float:
        return median([episode_return(r) for r in self.get(case, "timed", who)])

    def one(self, case: str, kind: str, who: str) -> dict[str, Any] | None:
        rows = self.get(case, kind, who)
        return rows[-1] if rows else None


def fmt(x: float | None, digits: int = 2) -> str:
    if x is None or x != x:
        return "–"
    return f"{x:,.{digits}f}"


def headline(table: Table, cases: list[Case]) -> list[str]:
    lines = [
        "| case | Ascent, Gymnasium door | Ascent, compiled door | Stable-Baselines3 | rejax "
        "| SB3 ÷ Ascent (Gymnasium / compiled) | rejax ÷ Ascent compiled | median return "
        "(Ascent Gym / compiled / SB3 / rejax) | Ascent cold compile (Gym / compiled), rejax |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        t = {w: table.med(case.key, w) for w in WHO}
        ret = {w: table.med_return(case.key, w) for w in WHO}
        cold = {w: (table.one(case.key, "cold", w) or {}).get("compile_s") for w in WHO}
        lines.append(
            f"| {case.title} | {fmt(t['ascent'])} s | {fmt(t['ascent-jax'])} s "
            f"| {fmt(t['sb3'])} s | {fmt(t['rejax'])} s "
            f"| {fmt(t['sb3'] / t['ascent'], 1)}× / {fmt(t['sb3'] / t['ascent-jax'], 1)}× "
            f"| {fmt(t['rejax'] / t['ascent-jax'], 2)}× "
            f"| {fmt(ret['ascent'], 1)} / {fmt(ret['ascent-jax'], 1)} / {fmt(ret['sb3'], 1)} "
            f"/ {fmt(ret['rejax'], 1)} "
            f"| {fmt(cold['ascent'])} / {fmt(cold['ascent-jax'])} s, {fmt(cold['rejax'])} s |"
        )
    return lines


def every_run(table: Table, cases: list[Case]) -> list[str]:
    lines = [
        "| case | contestant | seed | learn (s) | steps/s | return, shared episodes "
        "| return, own evaluator | compile (s) | run without compiling (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        for kind in ("cold", "timed"):
            for who in WHO:
                for r in sorted(table.get(case.key, kind, who), key=lambda r: r["seed"]):
                    label = "cold cache" if kind == "cold" else str(r["seed"])
                    lines.append(
                        f"| {case.title} | {WHO[who]} | {label} | {fmt(r['learn_s'])} "
                        f"| {fmt(r['steps_per_s'], 0)} | {fmt(r.get('shared_return'), 1)} "
                        f"| {fmt(r['eval_return'], 1)} "
                        f"| {fmt(r.get('compile_s'))} | {fmt(r.get('run_s'))} |"
                    )
    return lines


def overheads(table: Table, cases: list[Case]) -> tuple[list[str], dict[str, dict]]:
    """Breakdown of the Gymnasium door against its floors; the figures by case."""
    lines = [
        "| case | Ascent learn, median (s) | breakdown: env / act / update / first calls "
        "/ other (s) | floors: (a) env / (b) policy / (c) update (s) | a + b + c (s) "
        "| overhead ratio | update ÷ its compute floor |",
        "|---|---|---|---|---|---|---|",
    ]
    figures = {}
    for case in cases:
        floor, parts = table.one(case.key, "floors", "ascent"), table.one(case.key, "breakdown",
                                                                          "ascent")  # fmt: skip
        if floor is None or parts is None:
            continue
        learn = table.med(case.key, "ascent")
        p = parts["parts_s"]
        other = parts["learn_s"] - sum(p.values()) - parts["first_calls_s"]
        ratio = learn / floor["sum_s"]
        compute = floor.get("update_compute_s")
        update_ratio = p["update"] / compute if compute else None
        figures[case.key] = {"ratio": ratio, "update_ratio": update_ratio}
        lines.append(
            f"| {case.title} | {fmt(learn)} | {fmt(p['env'])} / {fmt(p['act'])} "
            f"/ {fmt(p['update'])} / {fmt(parts['first_calls_s'])} / {fmt(other)} "
            f"| {fmt(floor['env_s'])} / {fmt(floor['policy_s'])} / {fmt(floor['update_s'])}"
            + (f" (compute alone {fmt(compute)})" if compute else "")
            + f" | {fmt(floor['sum_s'])} | {fmt(ratio)} | {fmt(update_ratio)} |"
        )
    for case in cases:
        floor = table.one(case.key, "floors", "ascent-jax")
        if floor is None:
            continue
        learn = table.med(case.key, "ascent-jax")
        figures[case.key + "-jax"] = {"ratio": learn / floor["sum_s"]}
        lines.append(
            f"| {case.title}, compiled door | {fmt(learn)} | – | {fmt(floor['env_s'])} "
            f"/ {fmt(floor['policy_s'])} / {fmt(floor['update_s'])} | {fmt(floor['sum_s'])} "
            f"| {fmt(learn / floor['sum_s'])} | – |"
        )
    return lines, figures


def targets(table: Table, figures: dict[str, dict]) -> list[str]:
    """Issue 7's done-when list, each with the figure that decides it."""
    t = lambda case, who: table.med(case, who)  # noqa: E731
    r = lambda case, who: table.med_return(case, who)  # noqa: E731

    def returns(case: str, who: str) -> list[float]:
        return [episode_return(row) for row in table.get(case, "timed", who)]

    def cold(case: str, who: str) -> float:
        row = table.one(case, "cold", who)
        return row["compile_s"] if row else float("nan")

    rows = []

    def check(what: str, figure: str, met: bool) -> None:
        rows.append(f"| {what} | {figure} | {'yes' if met else '**no**'} |")

    speed = t("ppo", "sb3") / t("ppo", "ascent")
    check("PPO CartPole-v1, Gymnasium door >= 5× SB3", f"{speed:.1f}×", speed >= 5)
    speed = t("ppo", "sb3") / t("ppo", "ascent-jax")
    check("PPO CartPole-v1, compiled door >= 10× SB3", f"{speed:.1f}×", speed >= 10)
    check(
        "PPO compiled door at least as fast as rejax (same settings)",
        f"{t('ppo', 'ascent-jax'):.2f} s vs {t('ppo', 'rejax'):.2f} s",
        t("ppo", "ascent-jax") <= t("ppo", "rejax"),
    )
    ppo = returns("ppo", "ascent") + returns("ppo", "ascent-jax")
    check("PPO: every Ascent run >= 475", f"min {min(ppo, default=float('nan')):.1f}",
          bool(ppo) and min(ppo) >= 475)  # fmt: skip
    for case, need, peer in [("a2c", 4, "SB3"), ("trpo", 4, "sb3-contrib")]:
        for door in ("ascent", "ascent-jax"):  # the issue names no door: both are shown
            where = "Gymnasium door" if door == "ascent" else "compiled door"
            speed = t(case, "sb3") / t(case, door)
            check(f"{case.upper()} CartPole-v1 ({where}) >= {need}× {peer}", f"{speed:.1f}×",
                  speed >= need)  # fmt: skip
            check(
                f"{case.upper()} ({where}): equal returns (median Ascent vs {peer})",
                f"{r(case, door):.1f} vs {r(case, 'sb3'):.1f}",
                abs(r(case, door) - r(case, "sb3")) <= 0.1 * abs(r(case, "sb3")),
            )
    for case in ("sac", "td3"):
        name = case.upper()
        for door in ("ascent", "ascent-jax"):
            where = "Gymnasium door" if door == "ascent" else "compiled door"
            check(
                f"{name} Pendulum-v1 ({where}) faster than SB3 and rejax",
                f"{t(case, door):.1f} s vs {t(case, 'sb3'):.1f} s and {t(case, 'rejax'):.1f} s",
                t(case, door) < min(t(case, "sb3"), t(case, "rejax")),
            )
        ratio = figures.get(case, {}).get("update_ratio")
        check(f"{name}: update within 1.3× of its compute floor", fmt(ratio),
              ratio is not None and ratio <= 1.3)  # fmt: skip
        for door in ("ascent", "ascent-jax"):
            a, s = r(case, door), r(case, "sb3")
            check(f"{name} ({'Gymnasium' if door == 'ascent' else 'compiled'} door): return "
                  "within 10% of SB3's", f"{a:.1f} vs {s:.1f}",
                  abs(a - s) <= 0.1 * abs(s))  # fmt: skip
    ratio = figures.get("ppo", {}).get("ratio", float("nan"))
    check("Overhead ratio, PPO CartPole-v1 Gymnasium door <= 1.3", fmt(ratio), ratio <= 1.3)
    for door in ("ascent", "ascent-jax"):
        c = cold("ppo", door)
        where = "Gymnasium" if door == "ascent" else "compiled"
        check(f"Cold compile, PPO preset ({where} door) <= 5 s", f"{c:.2f} s", c <= 5)
    return ["| target | measured | met |", "|---|---|---|", *rows]


def profile_tables(profiles: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, by_label in sorted(profiles.items()):
        for label in ("before", "after"):
            p = by_label.get(label)
            if not p:
                continue
            lines += [
                "",
                f"**{name}, {label}** ({p['samples']} samples inside `Agent.learn`; "
                f"learn {p.get('learn_s_unprofiled', float('nan')):.2f} s unprofiled; "
                f"{p.get('note', '')})",
                "",
                "| share | where |",
                "|---|---|",
                *(f"| {share:.1f}% | {where} |" for where, share in p["top"]),
            ]
    return lines


def plot(table: Table, cases: list[Case], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    colors = {"ascent": "#1f77b4", "ascent-jax": "#17becf", "sb3": "#d62728", "rejax": "#9467bd"}
    fig, axes = plt.subplots(1, len(cases), figsize=(3.2 * len(cases), 3.6))
    for ax, case in zip(np.atleast_1d(axes), cases, strict=True):
        names = [w for w in WHO if table.get(case.key, "timed", w)]
        values = [table.med(case.key, w) for w in names]
        bars = ax.bar(range(len(names)), values, color=[colors[w] for w in names])
        for bar, v in zip(bars, values, strict=True):
            ax.annotate(f"{v:.1f}" if v >= 10 else f"{v:.2f}",
                        (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                        fontsize=8)  # fmt: skip
        ax.set_xticks(range(len(names)))
        labels = {"ascent": "Ascent\nGym", "ascent-jax": "Ascent\ncompiled", "sb3": "SB3",
                  "rejax": "rejax"}  # fmt: skip
        ax.set_xticklabels([labels[w] for w in names], fontsize=8)
        ax.set_title(case.title, fontsize=9)
        ax.set_ylim(0, max(values) * 1.18)
        ax.spines[["top", "right"]].set_visible(False)
    np.atleast_1d(axes)[0].set_ylabel("seconds to train (median, 1 thread)")
    fig.suptitle("Training wall-clock on one CPU core (lower is better)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)


def timed_seeds(records: list[dict[str, Any]], case: str, threads: int) -> list[int]:
    return sorted(
        {
            r["seed"]
            for r in records
            if (r["case"], r["threads"], r["kind"]) == (case, threads, "timed")
        }
    )


def report(results: dict[str, Any]) -> None:
    meta = results["meta"]
    records = results["records"]
    present = {r["case"] for r in records}
    cases = [c for c in CASES if c.key in present]
    thread_counts = sorted({r["threads"] for r in records})
    lines = [
        "# Speed against Stable-Baselines3 and rejax (issue 7)",
        "",
        "Made by " + "; ".join(f"`{c}`" for c in meta.get("commands", [])) + ", on "
        f"{meta.get('machine', {}).get('cpu', '?')} ({meta.get('machine', {}).get('cores')} "
        f"cores), Python {meta.get('machine', {}).get('python', '?')}. Seeds: "
        + "; ".join(
            f"{case.key.upper()} at {t} thread{'s' if t > 1 else ''}: "
            + ", ".join(str(x) for x in seeds)
            for t in thread_counts
            for case in cases
            if (seeds := timed_seeds(records, case.key, t))
        )
        + ".",
        "",
        "Versions: Ascent "
        + ", ".join(f"{k} {v}" for k, v in meta.get("ascent", {}).items())
        + "; Stable-Baselines3 venv: "
        + ", ".join(f"{k} {v}" for k, v in meta.get("peers", {}).get("sb3", {}).items())
        + "; rejax venv: "
        + ", ".join(f"{k} {v}" for k, v in meta.get("peers", {}).get("rejax", {}).items())
        + ".",
        "",
        "How it was measured: each contestant in its own process and virtualenv, pinned "
        "with `taskset` (1 thread: core 0; 2 threads: cores 0-1; torch `set_num_threads`, "
        "XLA sized by the affinity), runs interleaved seed by seed (Ascent, peer, Ascent, "
        "peer). *learn* is the wall-clock of the training call: `Agent.learn` for Ascent "
        "(compiling included, persistent compilation cache warm), `model.learn` for "
        "Stable-Baselines3, compiling (cache warm) plus running `train` for rejax. The "
        "*cold* rows ran with an empty cache; their compile column is JAX's own count of "
        "tracing, lowering and XLA time during the training call. Returns are means over "
        "deterministic episodes after training (the policy's mode), on the episodes every "
        "contestant shares: Gymnasium's environment, episode i started by "
        "`reset(seed=1_000_003 + i)`, 50 on CartPole and 100 on Pendulum, whatever door "
        "the policy learned through (benchmarks/peers/episodes.py; Pendulum's start state "
        "moves a return by hundreds, so episodes drawn differently by each library's "
        "evaluator differ by more than the 10% compared). The every-run table also lists "
        "each library's own evaluator (20 episodes on CartPole, 10 on Pendulum); runs "
        "recorded before episodes.py existed have only that. Hyperparameters: Ascent's "
        "presets, which are "
        "RL-Zoo's, for every library (PPO, A2C and TRPO on CartPole; SAC at 256×256 and "
        "TD3 at 400×300 on Pendulum, in all three libraries: rejax's TD3 networks replaced "
        "to match, its SAC set to 256×256).",
        "",
        "rejax differs where it cannot take a setting: "
        + "; ".join(sorted({d for r in records for d in r.get("differences", [])}))
        + ". Everything else matches.",
    ]
    figures: dict[str, dict] = {}
    for threads in thread_counts:
        table = Table(records, threads)
        lines += ["", f"## {threads} thread{'s' if threads > 1 else ''}: medians", ""]
        commits = sorted({r.get("commit", "before e954b32") for r in table.rows})
        lines += [f"Ascent at commit {', '.join(commits)}.", ""]
        lines += headline(table, cases)
        over, figs = overheads(table, cases)
        if threads == 1:
            figures = figs
            lines += ["", "### Targets of issue 7 (1 thread)", "", *targets(table, figures)]
        where = (
            []
            if len(over) <= 2  # no breakdown or floors at this thread count
            else [
                "",
                f"### Where Ascent's time goes ({threads} thread{'s' if threads > 1 else ''})",
                "",
                "Breakdown: one run with every call of the Gymnasium door's three parts timed "
                "(each waited for; first calls, which compile or read the cache, apart). "
                "Floors: (a) the door's vector env (`HostVecEnv`, N Gymnasium environments) "
                "with random actions, (b) the jitted policy alone, numpy in and out, (c) the "
                "jitted update alone, as often as the run calls them; off-policy also the "
                "update's compute alone (updates in one "
                "`lax.scan`). Overhead ratio = median learn ÷ (a + b + c); the compiled door's "
                "floors are each one compiled program over the whole run.",
                "",
                *over,
            ]
        )
        lines += [
            *where,
            "",
            f"### Every run ({threads} thread{'s' if threads > 1 else ''})",
            "",
            *every_run(table, cases),
        ]
        if table.errors:
            lines += ["", "Failed runs:", ""]
            lines += [f"- {r['case']} {r['who']} seed {r['seed']}: {r['error']}"
                      for r in table.errors]  # fmt: skip
        if threads == 1:
            plot(table, cases, RESULTS / "compare.png")
    if results.get("profiles"):
        lines += [
            "",
            "## Profiles of the hot path, before and after",
            "",
            "py-spy samples of one Ascent run (1 thread, cache warm; idle samples "
            "included, so time spent waiting for XLA shows on the line that waits), grouped: "
            "compiling, Gymnasium's step, the door's own conversions, else the deepest line "
            "of Ascent's own code. `np.asarray(...)` of a result is where the loop waits "
            "for XLA to compute it; once computations run on the calling thread (after), "
            "the line that makes a compiled call holds its compute.",
            *profile_tables(results["profiles"]),
        ]
    (RESULTS / "compare.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'compare.md'} and {RESULTS / 'compare.png'}")


# --- main ---------------------------------------------------------------------------


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--only", nargs="+", choices=[c.key for c in CASES], default=None)
    p.add_argument("--no-floors", action="store_true", help="skip breakdowns and floors")
    p.add_argument(
        "--floors-only",
        action="store_true",
        help="only the breakdowns and floors, replacing those recorded (the cache must be warm)",
    )
    p.add_argument("--setup", action="store_true", help="only make the peers' virtualenvs")
    p.add_argument("--report", action="store_true", help="only rewrite compare.md and .png")
    p.add_argument("--profile", choices=[c.key for c in CASES], default=None)
    p.add_argument("--door", choices=["host", "jax"], default="host")
    p.add_argument("--label", default="after", help="profile label: before or after")
    p.add_argument("--source", type=Path, default=ROOT, help="the Ascent tree to profile")
    p.add_argument("--note", default="", help="a note shown with the profile")
    return p.parse_args()


def main() -> None:
    args = parse()
    if args.report:
        report(load_results())
        return
    setup_peers()
    if args.setup:
        return
    results = load_results()
    if args.profile:
        case = next(c for c in CASES if c.key == args.profile)
        summary = profile(case, args.label, args.door, args.source.resolve())
        summary["note"] = args.note
        name = f"{case.title}, {'Gymnasium' if args.door == 'host' else 'compiled'} door"
        results.setdefault("profiles", {}).setdefault(name, {})[args.label] = summary
        save_results(results)
        report(results)
        return
    cases = [c for c in CASES if args.only is None or c.key in args.only]
    command = "python benchmarks/compare.py " + " ".join(sys.argv[1:])
    date = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    results["meta"] = {
        "commands": [*results.get("meta", {}).get("commands", []), f"{command}  ({date})"],
        "machine": machine(),
        "ascent": {
            p: version(p)
            for p in ["ascent-rl", "jax", "jaxlib", "flax", "optax", "gymnasium", "gymnax"]
        },  # fmt: skip
        "peers": peer_versions(),
    }
    for threads in args.threads:
        for case in cases:
            new = measure(case, threads, args.seeds, not args.no_floors, not args.floors_only)
            replaced = {r["kind"] for r in new} if args.floors_only else None
            results["records"] = [
                r for r in results["records"]
                if (r["case"], r["threads"]) != (case.key, threads)
                or (replaced is not None and r["kind"] not in replaced)
            ] + new  # fmt: skip
            save_results(results)
    report(results)


if __name__ == "__main__":
    main()
