"""Teams at full speed (issue 32): Ascent's IPPO and MAPPO against JaxMARL's own baselines.

Every contestant runs in its own process pinned to core 0 (`taskset -c 0`, XLA on one
thread: `ascent._xla.XLA_FLAGS`), one at a time, interleaved seed by seed, on
simple_spread_v3 (JaxMARL's MPE, Ascent's `jaxmarl/simple_spread_v3`):

- ascent-ippo: `ascent.make("ippo", env="jaxmarl/simple_spread_v3", ...)` with the
  settings of JaxMARL's ippo_ff_mpe.yaml (`peers/ascent_team.py` SETTINGS), `learn()`
  timed from Python, compiling included, from Ascent's persistent compilation cache as a
  user's second run finds it (warmed by the cold run below);
- ascent-mappo: Ascent's feed-forward MAPPO (critic on the global state) with the same
  settings, against the same IPPO baseline (JaxMARL has no feed-forward MAPPO for MPE);
- jaxmarl-ippo: JaxMARL's baselines/IPPO/ippo_ff_mpe.py with its yaml
  (../shared/peers/jaxmarl/), compile + run of its jitted `train` (`peers/jaxmarl_run.py`);
  it has no persistent cache, so it compiles every time;
- jaxmarl-mappo-rnn: JaxMARL's baselines/MAPPO/mappo_rnn_mpe.py with its
  mappo_homogenous_rnn_mpe.yaml (128 environments × 128 steps, GRU 128, lr 2e-3), against
- ascent-mappo-rnn: Ascent's MAPPO with a GRU core and the same settings
  (`peers/ascent_team.py` RNN_SETTINGS); `--rnn-seeds` × `--rnn-steps` (JaxMARL's takes
  about 5 minutes a million steps on one core).

For each Ascent algorithm and number of steps, first a cold run (an empty compilation
cache: its compile time is the cold compile), then the seeds. End to end: `learn_s`
(Ascent) and compile + run (JaxMARL). Steady state: the time per further million steps,
(median end-to-end at the largest steps − at the smallest) / the millions between. Learning:
the mean training-episode return over the last 10% of steps, per agent (an agent's own
rewards summed over its episode, averaged over agents; JaxMARL's `MPELogWrapper` logs
each agent's return times the number of agents, divided back in `peers/jaxmarl_run.py`).

The JaxMARL scripts run in benchmarks/envs/jaxmarl (made by `--setup`: jax as .venv has
it, jaxmarl, distrax, pyyaml). The MAPPO one is an adapted copy of JaxMARL's file kept in
benchmarks/peers/jaxmarl/ (git-ignored: JaxMARL's code stays out of Ascent's history; its
header lists the changes: hydra and wandb out, a no-op per-update callback, and returns of
finished episodes summed per update). Results: benchmarks/results/marl_speed.json (every
run with its commit: a command replaces the runs of the contestants and step counts it
measures and keeps the others; a marl_speed_before.json there is shown as an earlier
measurement)
and marl_speed.md (rebuilt from them, with the per-op profile of `--profile`,
marl_speed_profile.json, and the notes of marl_speed_findings.md).

    .venv/bin/python benchmarks/marl_speed.py --setup
    flock /tmp/ascent-timing.lock .venv/bin/python benchmarks/marl_speed.py   # about 35 min
    flock /tmp/ascent-timing.lock .venv/bin/python benchmarks/marl_speed.py --steps 1000000
    flock /tmp/ascent-timing.lock .venv/bin/python benchmarks/marl_speed.py --steps \
        --rnn-steps 1000000 5000000 --rnn-seeds 0 1 2   # the recurrent ones only: hours
    flock /tmp/ascent-timing.lock .venv/bin/python benchmarks/marl_speed.py --profile
    .venv/bin/python benchmarks/marl_speed.py --report
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import op_profile  # noqa: E402
from compare import ROOT, VENVS, git_commit, machine, venv_python  # noqa: E402

from ascent._xla import XLA_FLAGS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FIGURES = RESULTS / "marl_speed.json"
CACHE = ROOT / "benchmarks" / "out" / "marl-speed-cache"
ASCENT = [str(ROOT / ".venv" / "bin" / "python"), "benchmarks/peers/ascent_team.py"]
JAXMARL_RUN = "benchmarks/peers/jaxmarl_run.py"
PEER_COPY = ROOT / "benchmarks" / "peers" / "jaxmarl" / "mappo_rnn_mpe.py"
# jax as in .venv (jaxmarl 0.2.0 installs beside it), the JaxMARL scripts' imports
JAXMARL_PACKAGES = ["jax==0.10.2", "jaxlib==0.10.2", "flax==0.12.8", "optax==0.2.8",
                    "gymnax==1.0.1", "jaxmarl==0.2.0", "distrax", "pyyaml"]  # fmt: skip
BASELINE = {"ascent-ippo": "jaxmarl-ippo", "ascent-mappo": "jaxmarl-ippo",
            "ascent-mappo-rnn": "jaxmarl-mappo-rnn"}  # fmt: skip
LAST_SHARE = 0.1  # learning is judged on the last 10% of steps
JAXMARL_MPE_SCALE = 25 / 26  # its MPE episodes are 26 steps long, mpe2's and Ascent's 25


def setup() -> None:
    """Make benchmarks/envs/jaxmarl unless it is there with its packages."""
    marker = VENVS / "jaxmarl" / "ascent-marl-speed.json"
    wanted = json.dumps(JAXMARL_PACKAGES)
    if not (marker.is_file() and marker.read_text() == wanted):
        print("making benchmarks/envs/jaxmarl ...", flush=True)
        shutil.rmtree(VENVS / "jaxmarl", ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / "jaxmarl")], check=True)
        python = str(venv_python("jaxmarl"))
        subprocess.run([python, "-m", "pip", "install", "-q", *JAXMARL_PACKAGES], check=True)
        marker.write_text(wanted)
    if not PEER_COPY.is_file():
        print(f"note: {PEER_COPY.relative_to(ROOT)} is missing: adapt JaxMARL's "
              "baselines/MAPPO/mappo_rnn_mpe.py there (see this file's docstring) for "
              "the recurrent MAPPO baseline", flush=True)  # fmt: skip


def busy_cores(seconds: float = 2.0) -> float:
    """How many cores' worth of time the machine spent busy over `seconds` (/proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)


QUIET_WAIT = [90.0]  # seconds a timed run waits for a quiet machine (--quiet-wait)


def wait_quiet(busy: float = 0.3) -> float:
    """Wait (up to `limit` s) until the machine is near idle, so that no one else's work
    shares the core or the memory bus with a timed run; the busy cores last seen."""
    deadline = time.monotonic() + QUIET_WAIT[0]
    while (seen := busy_cores()) > busy and time.monotonic() < deadline:
        time.sleep(3)
    return seen


def launch(command: list[str], timeout: float = 3600) -> dict[str, Any]:
    """Run one contestant pinned to core 0 with XLA on one thread; its last-line JSON,
    or the error (as `compare.launch`, with the benchmarks' XLA flags). Also: the busy
    cores before it started (`busy_before`) and its CPU time over its wall-clock
    (`cpu_share`: below 1, it waited for a core)."""
    env = {**os.environ, "XLA_FLAGS": XLA_FLAGS, "JAX_PLATFORMS": "cpu",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
    before = wait_quiet()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(["taskset", "-c", "0", *command], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=timeout)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
    checks = {"process_s": wall, "cpu_share": cpu_s / wall, "busy_before": before}
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines:
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        return {"error": " | ".join(tail), **checks}
    return {**json.loads(lines[-1]), **checks}


def ascent(algo: str, steps: int, seed: int, cache: Path) -> dict[str, Any]:
    command = [*ASCENT, algo, "--steps", str(steps), "--seed", str(seed), "--cache", str(cache)]
    return {"who": f"ascent-{algo}", "target": steps, "seed": seed} | launch(command)


def jaxmarl(algo: str, steps: int, seed: int) -> dict[str, Any]:
    python = str(venv_python("jaxmarl"))
    command = [python, JAXMARL_RUN, algo, "--steps", str(steps), "--seed", str(seed)]
    return {"who": f"jaxmarl-{algo}", "target": steps, "seed": seed} | launch(command)


def load() -> dict[str, Any]:
    return json.loads(FIGURES.read_text()) if FIGURES.is_file() else {"runs": []}


def save(figures: dict[str, Any]) -> None:
    FIGURES.write_text(json.dumps(figures, indent=1) + "\n")


def measure(args: argparse.Namespace) -> None:
    figures = load()
    commit = git_commit()
    figures.update(commit=commit, date=str(dt.date.today()), machine=machine(),
                   command=" ".join(["benchmarks/marl_speed.py", *sys.argv[1:]]))  # fmt: skip
    # this invocation's contestants and step counts replace their runs of any commit;
    # the others' runs stay, each with its commit (the report names them)
    again = {(w, n) for n in args.steps for w in ("ascent-ippo", "ascent-mappo", "jaxmarl-ippo")}
    if args.rnn_seeds:
        again |= {(w, n) for n in args.rnn_steps for w in ("ascent-mappo-rnn", "jaxmarl-mappo-rnn")}
    runs = figures["runs"] = [
        r for r in figures["runs"]
        if r.get("commit") == commit or (r.get("who"), target(r)) not in again
    ]  # fmt: skip

    def record(kind: str, result: dict[str, Any]) -> None:
        same = (kind, result.get("who"), result.get("steps"), result.get("seed"))
        runs[:] = [
            r for r in runs if (r["kind"], r.get("who"), r.get("steps"), r.get("seed")) != same
        ]
        runs.append({"kind": kind, "commit": commit, **result})
        save(figures)
        shown = result.get("error") or (
            f"{result['learn_s']:.1f} s (compile {result['compile_s']:.1f}), "
            f"return {last_return(result):.2f}, cpu share {result['cpu_share']:.2f}"
        )
        print(f"  {kind} {result.get('who')} {result.get('steps')} seed "
              f"{result.get('seed')}: {shown}", flush=True)  # fmt: skip

    for steps in args.steps:
        for algo in ("ippo", "mappo"):  # cold: an empty compilation cache, then kept warm
            cache = CACHE / f"{algo}-{steps}"
            if args.cold or not cache.is_dir():
                shutil.rmtree(cache, ignore_errors=True)
                record("cold", ascent(algo, steps, 100, cache))
        for seed in args.seeds:
            record("timed", ascent("ippo", steps, seed, CACHE / f"ippo-{steps}"))
            record("timed", jaxmarl("ippo", steps, seed))
            record("timed", ascent("mappo", steps, seed, CACHE / f"mappo-{steps}"))
    for steps in args.rnn_steps:
        cache = CACHE / f"mappo-rnn-{steps}"
        if args.rnn_seeds and (args.cold or not cache.is_dir()):
            shutil.rmtree(cache, ignore_errors=True)
            record("cold", ascent("mappo-rnn", steps, 100, cache))
        for seed in args.rnn_seeds:
            record("timed", ascent("mappo-rnn", steps, seed, cache))
            record("timed", jaxmarl("mappo-rnn", steps, seed))


# --- the profile ---------------------------------------------------------------------

PROFILES = {"ascent-ippo": ASCENT + ["ippo"], "jaxmarl-ippo": None}
PROFILE_OUT = ROOT / "benchmarks" / "out" / "marl-speed-profile"
# what an op is for, from the Python frames that traced it: the environment's and the
# optimiser's code by any frame of its stack, the backward pass by its JAX name, the
# rest by the innermost frame that names a stage
WHOLE_STACK = [
    ("environment: JaxMARL's MPE step and reset", ("jaxmarl/environments",)),
    ("environment: JaxMARL's log wrapper", ("jaxmarl/wrappers",)),
    ("environment: Ascent's adapter (padding, masks, global state, autoreset, final obs)",
     ("ascent/envs/",)),
    ("optimiser: gradient clipping, Adam", ("optax/", "train_state.py", "algos/optim.py")),
]  # fmt: skip
BACKWARD = "backward pass"
BY_FRAME = [
    ("networks' forward pass, sampling, log-probs",
     ("flax/", "ascent/nn/", "distrax/", "core/distributions.py", "algos/networks.py",
      "sequence.py:act", "sequence.py:step", "sequence.py:unroll", ":__call__")),
    ("PPO losses (ratio, clipping, value, entropy, masks, advantage normalisation)",
     ("core/losses.py", ":_loss_fn", "ppo.py:loss_fn")),
    ("GAE", ("core/returns.py", ":_calculate_gae", ":_get_advantages")),
    ("shuffling into minibatches", (":shuffled_minibatches", ":_update_epoch")),
    ("PRNG keys", ("jax/_src/random.py", "jax/_src/prng.py", ":split_iteration_key")),
    ("episode sums, metrics, finiteness checks",
     ("train/loop.py", "train/learners.py", "runtime/chunks.py", "ppo.py:update",
      ":_update_step")),
]  # fmt: skip
OTHER = "other: loop control, copies, host dispatch, ops without a source line"


def stage(stack: list[str], op_name: str) -> str:
    joined = " ".join(stack)
    for name, words in WHOLE_STACK:
        if any(w in joined for w in words):
            return name
    if "transpose(" in op_name:
        return BACKWARD
    for frame in stack:
        for name, words in BY_FRAME:
            if any(w in frame for w in words):
                return name
    return OTHER


def profile() -> None:
    """Per-op profiles of 10 iterations of each, one at a time on core 0; grouped by the
    function that traced each op, and by stage, into results/marl_speed_profile.json."""
    summaries = {}
    for who in PROFILES:
        out = PROFILE_OUT / who
        shutil.rmtree(out, ignore_errors=True)
        if who.startswith("ascent"):
            command = [*ASCENT, who.split("-")[1], "--steps", "0", "--profile", str(out)]
        else:
            command = [str(venv_python("jaxmarl")), JAXMARL_RUN, who.split("-", 1)[1],
                       "--steps", "0", "--profile", str(out)]  # fmt: skip
        result = launch(command)
        if "error" in result:
            summaries[who] = result
            print(f"  {who}: {result['error']}", flush=True)
            continue
        ops = json.loads((out / "ops.json").read_text())
        by_function: dict[str, float] = {}
        by_stage: dict[str, list[float]] = {}  # [ms, ops] per iteration
        for op in ops["ops"]:
            if op["op"].startswith(op_profile.HOST):
                continue
            where = op["stack"][0].rsplit(":", 1)[0] if op["stack"] else op["op"]
            by_function[where] = by_function.get(where, 0.0) + op["own_ms"]
            row = by_stage.setdefault(stage(op["stack"], op["op_name"]), [0.0, 0.0])
            row[0] += op["own_ms"]
            row[1] += op["events"] / ops["iterations"]
        summaries[who] = {
            **result,
            "by_stage": dict(sorted(by_stage.items(), key=lambda kv: -kv[1][0])),
            "by_function": dict(sorted(by_function.items(), key=lambda kv: -kv[1])[:25]),
            "top_ops": ops["ops"][:25],
        }
        print(f"  {who}: {result['wall_ms_per_iteration']:.1f} ms per iteration", flush=True)
    (RESULTS / "marl_speed_profile.json").write_text(json.dumps(summaries, indent=1) + "\n")


# --- the report ---------------------------------------------------------------------


def target(run: dict[str, Any]) -> int:
    """The steps a run was asked for (each library rounds to whole iterations its own
    way: JaxMARL down, Ascent up; 1M is 999,424 and 1,001,472 steps)."""
    return int(run.get("target") or round(run.get("steps", 0), -5))


def last_return(run: dict[str, Any], first_25: bool = False) -> float:
    """The mean training-episode return per agent over the last 10% of steps, each
    logged point weighted by the episodes it averages, in 25-step episodes: JaxMARL
    0.2.0's MPE ends its episodes a step later than mpe2 and Ascent (26 steps: its
    `done` reads the step count before the step), so its returns are scaled by 25/26,
    the same mean reward per step over 25 steps. `first_25`: JaxMARL's recurrent run's
    returns without each episode's last step instead (`curve_but_last`, logged by
    peers/jaxmarl_run.py), unscaled: the same 25 steps as Ascent's episodes (NaN for a
    run that did not log them; an Ascent run's own return)."""
    jaxmarl = run.get("who", "").startswith("jaxmarl")
    curve = run.get("curve_but_last" if first_25 and jaxmarl else "curve") or []
    tail = [(r, n) for s, r, n in curve if s > (1 - LAST_SHARE) * run["steps"]]
    episodes = sum(n for _, n in tail)
    scale = JAXMARL_MPE_SCALE if jaxmarl and not first_25 else 1.0
    return scale * sum(r * n for r, n in tail) / episodes if episodes else math.nan


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def spread(xs: list[float]) -> str:
    if not xs:
        return "—"
    return f"{statistics.mean(xs):.2f} ({min(xs):.2f} … {max(xs):.2f})"


INTRO = ["# Teams at full speed (issue 32)", "",
         "Commands in `benchmarks/marl_speed.py`'s docstring; jax 0.10.2 and jaxmarl "
         "0.2.0 on both sides. Every process pinned to core 0, XLA on one thread, one at a "
         "time; Ascent and JaxMARL "
         "interleaved seed by seed. simple_spread_v3 (3 agents, JaxMARL's MPE), JaxMARL's "
         "ippo_ff_mpe.yaml settings for all three: 16 environments × 128 steps, 4 epochs × "
         "4 minibatches, lr 2.5e-4 annealed to 0, clip 0.2 (ratio and value), entropy "
         "0.01, value 0.5 × ½ squared error (Ascent's vf_coef 0.25: its value loss has no "
         "½), gradient norm 0.5, tanh 64×64, one network shared by the agents, no agent "
         "ids.", "",
         "Times in seconds, medians over seeds. End to end: Ascent's `learn()` from "
         "Python (compiling included, from its persistent compilation cache, warm after "
         "the cold run); JaxMARL's compile + run of its jitted `train` (no persistent "
         "cache: it compiles every time). Cold: Ascent with an empty cache. Speed-up: "
         "JaxMARL's end-to-end median over Ascent's (above 1: Ascent faster). Return: "
         "mean training-episode return per agent (an agent's own rewards summed over "
         "its episode, averaged over agents; JaxMARL's logged returns divided by the 3 "
         "agents its `MPELogWrapper` multiplies them by) over the last 10% of steps, "
         "mean over seeds (min … max), in 25-step episodes: JaxMARL 0.2.0's MPE episodes "
         "are 26 steps (its `done` reads the step count before the step), so its returns "
         "are scaled by 25/26 (the same mean reward per step; its last step's reward is "
         "smaller than the average one for a policy that has reached the landmarks, so "
         "the scaling flatters it slightly). Ascent's are mpe2's 25. CPU share: a run's "
         "CPU time over its wall time, lowest of the seeds; below about 0.97 someone "
         "else's work shared its core and the run's times are not clean.", ""]  # fmt: skip


def section(figures: dict[str, Any]) -> list[str]:
    """The tables of one measurement (a results file)."""
    runs = [r for r in figures["runs"] if "error" not in r]
    errors = [r for r in figures["runs"] if "error" in r]

    def timed(who: str, steps: int) -> list[dict[str, Any]]:
        return [r for r in runs if r["kind"] == "timed" and r["who"] == who
                and target(r) == steps]  # fmt: skip

    def cold(who: str, steps: int) -> dict[str, Any] | None:
        found = [r for r in runs if r["kind"] == "cold" and r["who"] == who
                 and target(r) == steps]  # fmt: skip
        return found[-1] if found else None

    all_steps = sorted({target(r) for r in runs if not r["who"].endswith("mappo-rnn")})
    ff_commits = sorted({r.get("commit", "?") for r in runs if not r["who"].endswith("mappo-rnn")})
    m = figures.get("machine", {})
    lines = [f"Made by `{figures.get('command', 'benchmarks/marl_speed.py')}` (under `flock "
             f"/tmp/ascent-timing.lock`; the last command) at commit {figures.get('commit', '?')}, "
             f"{figures.get('date', '?')}; {m.get('cpu', '?')}, Python {m.get('python', '?')}. "
             f"The runs in this table at commit {', '.join(ff_commits) or '—'}.", ""]  # fmt: skip
    header = ["| contestant | steps | seeds | end to end | compile | run | speed-up "
              "| cold end to end (compile) | return, last 10% | CPU share, lowest |",
              "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += header
    for steps in all_steps:
        for who in ("jaxmarl-ippo", "ascent-ippo", "ascent-mappo"):
            rs = timed(who, steps)
            if not rs:
                continue
            e2e = median([r["learn_s"] for r in rs])
            base = timed(BASELINE.get(who, who), steps)
            ratio = median([r["learn_s"] for r in base]) / e2e if who in BASELINE else math.nan
            c = cold(who, steps)
            cold_text = f"{c['learn_s']:.1f} ({c['compile_s']:.1f})" if c else "—"
            lines.append(
                f"| {who} | {rs[0]['steps']:,} | {len(rs)} | {e2e:.1f} "
                f"| {median([r['compile_s'] for r in rs]):.1f} "
                f"| {median([r['run_s'] for r in rs]):.1f} "
                f"| {'' if math.isnan(ratio) else f'{ratio:.2f}×'} | {cold_text} "
                f"| {spread([last_return(r) for r in rs])} "
                f"| {min(r.get('cpu_share', math.nan) for r in rs):.2f} |"
            )
    if len(all_steps) > 1:
        lo, hi = all_steps[0], all_steps[-1]
        millions = (hi - lo) / 1e6
        lines += ["", f"Steady state: seconds per further million steps, (median end to end at "
                  f"{hi:,} − at {lo:,}) / {millions:g}; and the same from the runs' own "
                  "run time (compiling excluded).", "",
                  "| contestant | s per M (end to end) | s per M (run) | speed-up |",
                  "|---|---|---|---|"]  # fmt: skip
        per_m: dict[str, float] = {}
        for who in ("jaxmarl-ippo", "ascent-ippo", "ascent-mappo"):
            hi_runs, lo_runs = timed(who, hi), timed(who, lo)
            if not hi_runs or not lo_runs:
                continue
            per_m[who] = (median([r["learn_s"] for r in hi_runs])
                          - median([r["learn_s"] for r in lo_runs])) / millions  # fmt: skip
            run_m = (median([r["run_s"] for r in hi_runs])
                     - median([r["run_s"] for r in lo_runs])) / millions  # fmt: skip
            ratio = per_m.get(BASELINE.get(who, ""), math.nan) / per_m[who]
            lines.append(f"| {who} | {per_m[who]:.2f} | {run_m:.2f} "
                         f"| {'' if math.isnan(ratio) else f'{ratio:.2f}×'} |")  # fmt: skip
    RNN_WHO = ("ascent-mappo-rnn", "jaxmarl-mappo-rnn")
    rnn = [r for r in runs if r["who"] in RNN_WHO and r["kind"] == "timed"]
    rnn_commits = sorted({r.get("commit", "?") for r in rnn})
    lines += ["", "## Recurrent MAPPO", "",
              "JaxMARL's baselines/MAPPO/mappo_rnn_mpe.py with its "
              "mappo_homogenous_rnn_mpe.yaml (128 environments × 128 steps, 4 epochs × 4 "
              "minibatches, lr 2e-3, dense 128 → GRU 128 → dense 128 for actor and critic, "
              "the critic on every agent's observation concatenated), against Ascent's "
              "MAPPO with a GRU core and the settings of `peers/ascent_team.py` "
              "RNN_SETTINGS (the findings below say which of them the runs here had). "
              f"Runs at commit {', '.join(rnn_commits) or '—'}.", "",
              "Return, first 25 steps: JaxMARL's returns without each episode's 26th step "
              "(`curve_but_last`), unscaled, so that both sides sum the same 25 steps of "
              "each episode (Ascent's are 25 steps long).", "",
              "| contestant | steps | seed | end to end | compile | run | return, last 10% "
              "| return, first 25 steps |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in sorted(rnn, key=lambda r: (r["steps"], r["seed"], r["who"])):
        lines.append(f"| {r['who']} | {r['steps']:,} | {r['seed']} | {r['learn_s']:.1f} "
                     f"| {r['compile_s']:.1f} | {r['run_s']:.1f} "
                     f"| {last_return(r):.2f} | {last_return(r, True):.2f} |")  # fmt: skip
    if not rnn:
        lines.append("| ascent-mappo-rnn, jaxmarl-mappo-rnn | not measured | | | | | | |")
    for steps in sorted({target(r) for r in rnn}):
        ours, theirs = timed("ascent-mappo-rnn", steps), timed("jaxmarl-mappo-rnn", steps)
        if ours and theirs:
            mine, peer = (median([r["learn_s"] for r in rs]) for rs in (ours, theirs))
            lines += ["", f"At {steps:,} steps: median end to end {mine:.1f} s (Ascent, "
                      f"{len(ours)} seeds) against {peer:.1f} s (JaxMARL, {len(theirs)}): "
                      f"{peer / mine:.2f}×. Return, last 10%: Ascent "
                      f"{spread([last_return(r) for r in ours])}, JaxMARL "
                      f"{spread([last_return(r) for r in theirs])}; over the same first "
                      f"25 steps of each episode, JaxMARL "
                      f"{spread([last_return(r, True) for r in theirs])}."]  # fmt: skip
    rnn_steps = sorted({target(r) for r in rnn})
    ends = rnn_steps[:1] + rnn_steps[-1:]
    if len(rnn_steps) >= 2 and all(timed(w, n) for w in RNN_WHO for n in ends):
        per_m = {}
        for w in RNN_WHO:  # each side's own step counts (whole iterations, rounded its way)
            (t_lo, n_lo), (t_hi, n_hi) = (
                (median([r["learn_s"] for r in timed(w, n)]), timed(w, n)[0]["steps"])
                for n in ends
            )
            per_m[w] = (t_hi - t_lo) / ((n_hi - n_lo) / 1e6)
        lines += ["", f"Steady state: seconds per further million steps (median end to end "
                  f"at {ends[1]:,} − at {ends[0]:,}, over the steps between): Ascent "
                  f"{per_m['ascent-mappo-rnn']:.1f}, JaxMARL {per_m['jaxmarl-mappo-rnn']:.1f}: "
                  f"{per_m['jaxmarl-mappo-rnn'] / per_m['ascent-mappo-rnn']:.2f}×."]  # fmt: skip
    if errors:
        lines += ["", "Runs that failed:", ""]
        lines += [f"- {r.get('who')} {r.get('steps')} seed {r.get('seed')}: {r['error'][:300]}"
                  for r in errors]  # fmt: skip
    return lines


def report() -> None:
    lines = INTRO + section(load())
    before = RESULTS / "marl_speed_before.json"
    if before.is_file():
        lines += ["", "## An earlier measurement", ""] + section(json.loads(before.read_text()))
    lines += profile_report()
    (RESULTS / "marl_speed.md").write_text("\n".join(lines) + "\n")
    print((RESULTS / "marl_speed.md").read_text())


def profile_report() -> list[str]:
    path = RESULTS / "marl_speed_profile.json"
    if not path.is_file():
        return ["", "## Per-op profile", "", "Not measured yet (`--profile`)."]
    data = json.loads(path.read_text())
    good = {who: d for who, d in data.items() if "error" not in d}
    whos = list(good)
    lines = ["", "## Per-op profile of one IPPO iteration", "",
             "`benchmarks/marl_speed.py --profile`: one iteration (2,048 environment steps: "
             "a rollout and its update) of each, after one that compiles, under "
             "`jax.profiler.trace` with XLA:CPU's TraceMe events on (`ascent/_xla.py`'s "
             "`profiling_flags`: XLA records "
             "every op it runs), on core 0. An op's time is its own (a loop's less the ops "
             "inside it); ops are named by the Python stack that traced them (the optimised "
             "HLO's stack frames, dumped by the same flags) and grouped by stage (`stage`). "
             "Recording "
             "costs microseconds an op, so traced times are far above untraced ones and "
             "follow the number of ops run as much as their work: the counts of ops run per "
             "iteration are exact, the milliseconds are not the untraced ones.", "",
             "| per iteration | " + " | ".join(f"{w} ms | {w} ops" for w in whos) + " |",
             "|---|" + "---|---|" * len(whos),
             "| wall, traced | " + " | ".join(
                 f"{good[w]['wall_ms_per_iteration']:.1f} | "
                 f"{good[w].get('ops_per_iteration', math.nan):,.0f}" for w in whos)
             + " |"]  # fmt: skip
    stages = list(dict.fromkeys(k for w in whos for k in good[w]["by_stage"]))
    for name in stages:
        cells = [good[w]["by_stage"].get(name, [0.0, 0.0]) for w in whos]
        lines.append(f"| {name} | " + " | ".join(f"{ms:.1f} | {n:,.0f}" for ms, n in cells) + " |")
    for who in whos:
        lines += ["", f"The functions whose ops take most of {who}'s iteration (ms per iteration):",
                  "", "| function | ms |", "|---|---|"]  # fmt: skip
        lines += [f"| `{k}` | {v:.2f} |" for k, v in list(good[who]["by_function"].items())[:15]]
    for who, d in data.items():
        if "error" in d:
            lines += ["", f"{who}: profile failed: {d['error'][:300]}"]
    findings = RESULTS / "marl_speed_findings.md"
    if findings.is_file():
        lines += ["", findings.read_text().strip()]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="*", default=[1_000_000, 5_000_000],
                   help="feed-forward step counts (none: only the recurrent runs)")  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--rnn-steps", type=int, nargs="*", default=[1_000_000])
    p.add_argument("--rnn-seeds", type=int, nargs="*", default=[0])
    p.add_argument("--no-cold", dest="cold", action="store_false",
                   help="keep a warm cache: no cold run where there is one")  # fmt: skip
    p.add_argument("--quiet-wait", type=float, default=90.0,
                   help="seconds a timed run waits for a quiet machine")  # fmt: skip
    p.add_argument("--setup", action="store_true", help="only make benchmarks/envs/jaxmarl")
    p.add_argument("--report", action="store_true", help="only rebuild marl_speed.md")
    p.add_argument("--profile", action="store_true", help="only the per-op profiles")
    args = p.parse_args()
    QUIET_WAIT[0] = args.quiet_wait
    if args.setup:
        setup()
        return
    if args.profile:
        profile()
        report()
        return
    if not args.report:
        setup()
        measure(args)
    report()


if __name__ == "__main__":
    main()
