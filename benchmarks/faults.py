"""Fault injection: Ascent's promises about runs, files and caches, attacked as a careless
user and as an attacker would (issue 13), each through the `ascent` command in its own
process.

    .venv/bin/python benchmarks/faults.py               # every attack, 5 kills per door
    .venv/bin/python benchmarks/faults.py --kills 10 --seed 1 --only kill-compiled

Writes benchmarks/results/faults.md: one row per attack (what was done, what Ascent
promises, what was observed, pass), with the command, date, commit and versions. Exits 1
if any row fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ascent._xla import XLA_FLAGS
from ascent.train.workers.ray_keeper import alive, descendants_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache" / "jax"  # the tests' compile cache: warm programs, quick starts
SMALL = ["--set", "hidden=16", "--set", "n_envs=4", "--set", "n_steps=16",
         "--set", "minibatch_size=32", "--set", "n_epochs=2"]  # fmt: skip
# the compiled door: 6,400 iterations of 64 steps, a checkpoint every 32
COMPILED = ["train", "ppo", "--env", "ascent/Chain-v0", "--seed", "3", "--total-steps",
            "409600", *SMALL, "--checkpoint-every", "32", "--log-every", "8",
            "--eval-episodes", "2", "--no-progress"]  # fmt: skip
# a short run on the compiled door (two iterations)
TINY = ["train", "ppo", "--env", "ascent/Chain-v0", "--seed", "3", "--total-steps", "128",
        *SMALL, "--eval-episodes", "2", "--no-progress"]  # fmt: skip
# the Gymnasium door: 640 iterations of 64 CartPole steps, a checkpoint every 8
HOST = ["train", "ppo", "--env", "CartPole-v1", "--seed", "3", "--total-steps", "40960",
        *SMALL, "--checkpoint-every", "8", "--log-every", "2", "--eval-episodes", "2",
        "--no-progress"]  # fmt: skip


@dataclass
class Row:
    attack: str
    expected: str
    observed: str
    passed: bool


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "XLA_FLAGS": XLA_FLAGS, "ASCENT_CACHE_DIR": str(CACHE), **extra}


def cli(
    *args: str, cwd: Path = ROOT, timeout: float = 600, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ascent.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=environment(**extra),
    )


def start(*args: str, cwd: Path = ROOT) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ascent.cli", *args],
        cwd=cwd,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment(),
    )


def one_line(result: subprocess.CompletedProcess[str] | tuple[int, str]) -> tuple[bool, str]:
    """Whether a process ended with status 2 and one line on stderr; and that line."""
    code, err = (result.returncode, result.stderr) if not isinstance(result, tuple) else result
    lines = err.strip().splitlines()
    ok = code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    return ok, (lines[0] if len(lines) == 1 else f"exit {code}, {len(lines)} lines: {err[-300:]!r}")


def rows_of(run: Path) -> list[int]:
    path = run / "metrics.csv"
    if not path.is_file():
        return []
    return [int(line.split(",", 1)[0]) for line in path.read_text().splitlines()[1:] if line]


def checkpoints(run: Path) -> list[str]:
    folder = run / "checkpoints"
    return (
        sorted(p.name for p in folder.iterdir() if p.name.startswith("step_"))
        if folder.is_dir()
        else []
    )


def state_bytes(path: Path) -> dict[str, bytes]:
    from safetensors.numpy import load_file

    return {k: v.tobytes() for k, v in load_file(path / "state.safetensors").items()}


def kill_and_resume(
    work: Path, args: list[str], kills: int, rng: random.Random
) -> tuple[Path, list[str]]:
    """Run `args` in a fresh run folder and SIGKILL it `kills` times, resuming each
    time: kill k once the run has passed k/(kills + 1) of its steps, after a random
    0-0.5 s more (so it lands anywhere: mid-chunk, mid-checkpoint, mid-row). Then let
    it finish. Returns the folder and the step of the newest checkpoint at each kill."""
    run = work / "killed"
    total = int(args[args.index("--total-steps") + 1])
    log = []
    process = start(*args, "--run-dir", str(run))
    newest = -1
    for k in range(1, kills + 1):
        deadline = time.monotonic() + 600
        # past k/(kills + 1) of the run, and a checkpoint newer than at the last kill
        while not checkpoints(run) or int(checkpoints(run)[-1][5:]) < max(
            k * total // (kills + 1), newest + 1
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the run ended or stalled before kill {k}")
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()  # type: ignore[union-attr]
        newest = int(checkpoints(run)[-1][5:])
        log.append(str(newest))
        process = start("train", "--resume", str(run), "--no-progress", "--eval-episodes", "2")
    err = process.communicate(timeout=600)[1]
    if process.returncode != 0:
        raise RuntimeError(f"the resumed run failed: {err[-500:]}")
    return run, log


def attack_kills(work: Path, door: str, kills: int, rng: random.Random) -> Row:
    args = COMPILED if door == "compiled" else HOST
    killed, log = kill_and_resume(work, args, kills, rng)
    whole = work / "whole"
    result = cli(*args, "--run-dir", str(whole))
    assert result.returncode == 0, result.stderr
    steps, expected_steps = rows_of(killed), rows_of(whole)
    consistent = steps == expected_steps and steps == sorted(set(steps))
    kills_done = len(log)
    observed = [
        f"{kills_done} kills, newest checkpoint then at steps {', '.join(log)}",
        f"metrics rows {len(steps)} (uninterrupted {len(expected_steps)}), "
        f"{'each step once, in order' if consistent else 'NOT consistent'}",
    ]
    passed = consistent and kills_done >= 1
    expected = (
        "each resume continues from the newest checkpoint; metrics rows as an uninterrupted run's"
    )
    if door == "compiled":
        same = state_bytes(killed / "final") == state_bytes(whole / "final")
        observed.append("final parameters bit-identical" if same else "final parameters DIFFER")
        expected += "; final parameters bit-identical"
        passed = passed and same
    return Row(
        f"{kills} random SIGKILLs during training, {door} door, each followed by --resume",
        expected,
        "; ".join(observed),
        passed,
    )


# the checkpoint writer of a process whose disk fills after three checkpoints
FULL_DISK = """
import errno, sys
import ascent.io.checkpoint as c
real, calls = c.write_file_durably, []
def full(path, data):
    calls.append(path)
    if len(calls) > 6:
        raise OSError(errno.ENOSPC, "No space left on device")
    real(path, data)
c.write_file_durably = full
from ascent.cli import main
sys.exit(main(sys.argv[1:]))
"""


def attack_full_disk(work: Path) -> Row:
    """A run folder on a tmpfs too small for the run; a patched writer where this
    machine does not let us mount one."""
    mount = work / "tmpfs"
    mount.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        == 0
    )
    # 256-wide networks: about 1.6 MB a checkpoint, so the fourth does not fit beside three
    args = [
        "train",
        "ppo",
        "--env",
        "ascent/Chain-v0",
        "--total-steps",
        "8192",
        "--set",
        "hidden=256,256",
        "--set",
        "n_envs=4",
        "--set",
        "n_steps=16",
        "--set",
        "minibatch_size=32",
        "--set",
        "n_epochs=1",
        "--checkpoint-every",
        "4",
        "--no-progress",
        "--run-dir",
        str(mount / "run"),
    ]
    try:
        if mounted:
            how = "a 6 MB tmpfs"
            result = cli(*args)
        else:
            how = "a writer patched to fail like a full disk (mount not permitted here)"
            code = FULL_DISK
            result = subprocess.run(
                [sys.executable, "-c", code, *args],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=environment(),
                timeout=600,
            )
        ok, line = one_line(result)
        named = (
            line.rsplit("last good checkpoint: ", 1)[-1]
            if "last good checkpoint: " in line
            else None
        )
        loads = False
        if named:
            evaluated = cli("eval", named, "--episodes", "1")
            loads = evaluated.returncode == 0
        leftovers = (
            [p.name for p in (mount / "run" / "checkpoints").glob(".*")]
            if (mount / "run" / "checkpoints").is_dir()
            else []
        )
        passed = ok and "No space left on device" in line and loads and not leftovers
        observed = (
            f"{line}; the named checkpoint {'evaluates' if loads else 'does NOT load'}; "
            f"{len(leftovers)} temporary folders left"
        )
        return Row(
            f"ENOSPC: training on {how}",
            "exit 2, one line naming the full disk and the last good checkpoint, which loads",
            observed,
            passed,
        )
    finally:
        if mounted:
            subprocess.run(["umount", str(mount)], capture_output=True)


def attack_two_writers(work: Path) -> Row:
    run = work / "shared"
    args = [*HOST, "--total-steps", "51200"]  # long enough to be running when the second starts
    first = start(*args, "--run-dir", str(run))
    deadline = time.monotonic() + 120
    while not (run / "config.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.01)
    second = cli(*args, "--run-dir", str(run), timeout=300)
    err = first.communicate(timeout=600)[1]
    ok, line = one_line(second)
    expected_rows = 51200 // 64 // 2
    steps = rows_of(run)
    passed = ok and "in use by another Ascent process" in line and first.returncode == 0
    passed = passed and steps == sorted(set(steps)) and len(steps) == expected_rows
    return Row(
        "two `ascent train` on one --run-dir",
        "the second: exit 2, one line; the first finishes with its rows alone",
        f"second: {line}; first: exit {first.returncode} {err[-200:] if first.returncode else ''}"
        f"with {len(steps)} rows of {expected_rows}, each step once",
        passed,
    )


def attack_damaged_checkpoint(work: Path) -> Row:
    run = work / "damaged"
    process = start(*COMPILED, "--run-dir", str(run))
    while len(checkpoints(run)) < 3 and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()  # type: ignore[union-attr]
    names = checkpoints(run)
    newest = run / "checkpoints" / names[-1]
    (newest / "meta.json").write_text((newest / "meta.json").read_text()[:-40])
    before = {str(p): p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    refused = cli("train", "--resume", str(run), "--no-progress")
    ok, line = one_line(refused)
    after = {str(p): p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    chosen = cli(
        "train",
        "--resume",
        str(run),
        "--resume-from",
        names[-2],
        "--no-progress",
        "--eval-episodes",
        "2",
    )
    kept = list((run / "abandoned").glob(f"*/{names[-1]}/meta.json"))
    passed = (
        ok and names[-1] in line and before == after and chosen.returncode == 0 and len(kept) == 1
    )
    return Row(
        "newest checkpoint's meta.json truncated, then --resume",
        "exit 2, one line naming it and --resume-from; nothing deleted; --resume-from an older "
        "one finishes and keeps the damaged one in abandoned/",
        f"{line}; files unchanged: {before == after}; --resume-from {names[-2]}: exit "
        f"{chosen.returncode}; damaged one kept: {len(kept) == 1}",
        passed,
    )


class Planted:
    def __init__(self, mark: str) -> None:
        self.mark = mark

    def __reduce__(self) -> tuple:
        return (Path.write_text, (Path(self.mark), "planted code ran"))


def attack_hostile_cache(work: Path) -> Row:
    """A cache folder anyone may write, holding a pickle under every name a program
    could be looked up by; and a cache folder of another user."""
    shared = work / "shared-cache"
    (shared / "ascent-programs").mkdir(parents=True)
    mark = work / "PLANTED"
    blob = zlib.compress(pickle.dumps(Planted(str(mark))))
    for name in ("source-" + "0" * 64, "_chunk-" + "0" * 64):
        (shared / "ascent-programs" / name).write_bytes(blob)
    for folder in (shared, shared / "ascent-programs"):
        folder.chmod(0o777)
    result = cli(*TINY, "--run-dir", str(work / "c1"), ASCENT_CACHE_DIR=str(shared))
    ok, line = one_line(result)
    theirs = work / "their-cache"
    theirs.mkdir(mode=0o700)
    try:
        os.chown(theirs, 65534, 65534)
        other = cli(*TINY, "--run-dir", str(work / "c2"), ASCENT_CACHE_DIR=str(theirs))
        ok2, line2 = one_line(other)
    except PermissionError:
        ok2, line2 = True, "(not root: another user's folder cannot be made here)"
    passed = ok and ok2 and not mark.exists() and "chmod 700" in line
    return Row(
        "ASCENT_CACHE_DIR writable by all, with planted pickles; and one owned by another user",
        "exit 2, one line naming the folder and the fix; the planted code never runs",
        f"{line}; {line2}; planted code ran: {mark.exists()}",
        passed,
    )


PLANTED_MODULE = (
    "from pathlib import Path\nPath(__file__).with_name('IMPORTED').write_text('ran')\n"
)


def attack_planted_module(work: Path) -> Row:
    """A checkpoint whose meta.json names `planted:Chain-v0`, with planted.py in the
    working folder (first on sys.path of `python -m`)."""
    folder = work / "cwd"
    folder.mkdir()
    (folder / "planted.py").write_text(PLANTED_MODULE)
    run = work / "victim"
    assert cli(*TINY, "--run-dir", str(run)).returncode == 0
    meta = run / "final" / "meta.json"
    record = json.loads(meta.read_text())
    record["meta"]["env_id"] = "planted:Chain-v0"
    meta.write_text(json.dumps(record))
    ok, line = one_line(cli("eval", str(run), cwd=folder))
    ran = (folder / "IMPORTED").exists()
    return Row(
        "a checkpoint's env_id set to planted:Chain-v0, planted.py in the working folder, "
        "then `ascent eval`",
        "exit 2, one line; nothing imported",
        f"{line}; planted module ran: {ran}",
        ok and not ran,
    )


HANGING = """
import time, numpy as np, gymnasium
class Hang(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)
    t = 0
    def reset(self, *, seed=None, options=None):
        return np.zeros(4, np.float32), {}
    def step(self, action):
        self.t += 1
        if self.t == 40:
            time.sleep(3600)
        return np.zeros(4, np.float32), 1.0, False, False, {}
gymnasium.register("Hang-v0", entry_point=Hang)
"""


def attack_hanging_step(work: Path) -> Row:
    folder = work / "hang"
    folder.mkdir()
    (folder / "hang_env.py").write_text(HANGING)
    start_time = time.monotonic()
    result = cli(
        "train",
        "ppo",
        "--env",
        "hang_env:Hang-v0",
        "--total-steps",
        "640",
        *SMALL,
        "--step-timeout",
        "2",
        "--checkpoint-every",
        "1",
        "--no-progress",
        "--run-dir",
        str(folder / "run"),
        cwd=folder,
    )
    seconds = time.monotonic() - start_time
    ok, line = one_line(result)
    passed = ok and "did not return within 2 s" in line and "last good checkpoint" in line
    return Row(
        "an environment whose step() sleeps for an hour, --step-timeout 2",
        "exit 2 after about 2 s, one line naming the environment, its step and the last good "
        "checkpoint",
        f"{line} (after {seconds:.1f} s in all)",
        passed,
    )


def with_option(args: list[str], name: str, value: str) -> list[str]:
    i = args.index(name)
    return [*args[: i + 1], value, *args[i + 2 :]]


STOPPED = re.compile(
    r"(SIGINT|SIGTERM): training stopped at step (\d+), checkpoint (\S+); "
    r"resume with: ascent train --resume (\S+)"
)


def attack_signal(work: Path, name: str, door: str) -> Row:
    """SIGINT or SIGTERM once a run with a checkpoint interval longer than itself has
    written four metrics rows; then `--resume`, against an uninterrupted run."""
    signum = getattr(signal, name)
    args = with_option(COMPILED if door == "compiled" else HOST, "--checkpoint-every", "1000000")
    run = work / "signalled"
    process = start(*args, "--run-dir", str(run))
    deadline = time.monotonic() + 600
    while len(rows_of(run)) < 4:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the run ended or stalled before the signal")
        time.sleep(0.005)
    process.send_signal(signum)
    sent = time.monotonic()
    err = process.communicate(timeout=600)[1]
    seconds = time.monotonic() - sent
    last = err.strip().splitlines()[-1] if err.strip() else ""
    stopped = STOPPED.fullmatch(last)
    step = int(stopped.group(2)) if stopped else -1
    saved = checkpoints(run) == [f"step_{step:012d}"] and rows_of(run)[-1] == step
    named = bool(stopped) and stopped.group(3) == str(run / "checkpoints" / f"step_{step:012d}")
    resumed = cli("train", "--resume", str(run), "--no-progress", "--eval-episodes", "2")
    first = resumed.stdout.splitlines()[0] if resumed.stdout else ""
    continued = resumed.returncode == 0 and first == f"resuming {run} at step {step}"
    whole = work / "whole"
    result = cli(*args, "--run-dir", str(whole))
    assert result.returncode == 0, result.stderr
    steps, expected_steps = rows_of(run), rows_of(whole)
    consistent = steps == expected_steps and steps == sorted(set(steps))
    observed = [
        f"exit {process.returncode} after {seconds:.1f} s: {last!r}",
        f"checkpoint at the last row's step {step}: {saved}",
        f"--resume: {first!r}, exit {resumed.returncode}",
        f"metrics rows {len(steps)} (uninterrupted {len(expected_steps)}), "
        f"{'each step once, in order' if consistent else 'NOT consistent'}",
    ]
    passed = process.returncode == 128 + signum and named and saved and continued and consistent
    expected = (
        f"exit {128 + signum}, one line naming the checkpoint of the chunk in progress and "
        "`ascent train --resume RUN`; --resume continues from it; rows as an uninterrupted run's"
    )
    if door == "compiled":
        same = state_bytes(run / "final") == state_bytes(whole / "final")
        observed.append("final parameters bit-identical" if same else "final parameters DIFFER")
        expected += "; final parameters bit-identical"
        passed = passed and same
    return Row(
        f"{name} during training, {door} door, no checkpoint due for the whole run; then --resume",
        expected,
        "; ".join(observed),
        passed,
    )


# a process whose third checkpoint file write hangs: the second signal comes during the
# checkpoint the first one asked for
SLOW_SAVE = """
import sys, time
from pathlib import Path
import ascent.io.checkpoint as c
real, calls = c.write_file_durably, []
def slow(path, data):
    calls.append(path)
    if len(calls) >= 3:
        Path(sys.argv[-1]).with_name("SAVING").touch()
        time.sleep(600)
    real(path, data)
c.write_file_durably = slow
from ascent.cli import main
sys.exit(main(sys.argv[1:]))
"""


def attack_signal_twice(work: Path) -> Row:
    run = work / "twice"
    args = [*with_option(COMPILED, "--checkpoint-every", "16"), "--run-dir", str(run)]
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, *args], cwd=ROOT, text=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment(),
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while not checkpoints(run):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the run ended or stalled before its first checkpoint")
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    while not (work / "SAVING").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the run ended or stalled before the checkpoint after the signal")
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    err = process.communicate(timeout=600)[1]
    seconds = time.monotonic() - sent
    last = err.strip().splitlines()[-1] if err.strip() else ""
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    loads = all(cli("eval", str(run / "checkpoints" / n), "--episodes", "1").returncode == 0
                for n in names)  # fmt: skip
    passed = (
        process.returncode == 143
        and last.startswith("SIGTERM again: stopped at once, last good checkpoint: ")
        and seconds < 5
        and len(names) == 1
        and names[0].startswith("step_")
        and loads
    )
    return Row(
        "SIGTERM, then SIGTERM again while the checkpoint it asked for is being written",
        "exit 143 at once, one line naming the last good checkpoint; the checkpoints folder "
        "holds only whole checkpoints, which load",
        f"exit {process.returncode} after {seconds:.1f} s: {last!r}; checkpoints folder: "
        f"{', '.join(names)} ({'loads' if loads else 'does NOT load'})",
        passed,
    )


# A3C's workers as Ray actors on a local instance, small and long
RAY_LOCAL = ["train", "a3c", "--env", "gymnax/CartPole-v1", "--ray-address", "local",
             "--set", "workers=2", "--set", "n_envs=4", "--set", "n_steps=5",
             "--set", "hidden=16", "--total-steps", "4000000", "--no-progress"]  # fmt: skip








def attack_ray_driver_kill(work: Path, tries: int = 3) -> Row:
    """SIGKILL an `--ray-address local` driver once its actors and Ray's agents are up;
    every process it started, directly or not, must be gone within 15 s."""
    log, passed = [], True
    for k in range(tries):
        process = start(*RAY_LOCAL, "--run-dir", str(work / f"ray{k}"))
        seen: dict[tuple[int, str], str] = {}
        try:
            deadline = time.monotonic() + 600
            while True:
                seen.update(descendants_of(process.pid))
                commands = list(alive(seen).values())
                agents = {"ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= set(commands)
                if agents and sum(c.startswith("ray::Worker") for c in commands) == 2:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Ray did not start ({commands})")
                time.sleep(0.1)
            seen.update(descendants_of(process.pid))
            process.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            process.wait()
            while alive(seen) and time.monotonic() - killed < 15:
                time.sleep(0.1)
            left = alive(seen)
            seconds = time.monotonic() - killed
        finally:
            process.kill()
            process.wait()
            process.stderr.close()  # type: ignore[union-attr]
            for pid, _ in alive(seen):
                os.kill(pid, signal.SIGKILL)
        passed = passed and not left
        ended = "all ended" if not left else "LEFT: " + ", ".join(left.values())
        log.append(f"{len(seen)} processes, {ended} after {seconds:.1f} s")
    return Row(
        f"SIGKILL of an `ascent train a3c --ray-address local` driver once its actors are up, "
        f"{tries} times",
        "every process it started (Ray's keeper, GCS, raylet, agents, workers) gone within 15 s",
        "; ".join(log),
        passed,
    )


ATTACKS: dict[str, Callable[..., Row]] = {
    "kill-compiled": lambda work, a, rng: attack_kills(work, "compiled", a.kills, rng),
    "kill-gymnasium": lambda work, a, rng: attack_kills(work, "Gymnasium", a.kills, rng),
    "full-disk": lambda work, a, rng: attack_full_disk(work),
    "two-writers": lambda work, a, rng: attack_two_writers(work),
    "damaged-checkpoint": lambda work, a, rng: attack_damaged_checkpoint(work),
    "hostile-cache": lambda work, a, rng: attack_hostile_cache(work),
    "planted-module": lambda work, a, rng: attack_planted_module(work),
    "hanging-step": lambda work, a, rng: attack_hanging_step(work),
    "sigint": lambda work, a, rng: attack_signal(work, "SIGINT", "compiled"),
    "sigterm": lambda work, a, rng: attack_signal(work, "SIGTERM", "Gymnasium"),
    "sigterm-twice": lambda work, a, rng: attack_signal_twice(work),
    "ray-driver-kill": lambda work, a, rng: attack_ray_driver_kill(work),
}


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "ascent"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return head + ("+" if dirty else "")


def report(rows: list[Row], args: argparse.Namespace, seconds: float) -> str:
    command = " ".join(["python benchmarks/faults.py", *sys.argv[1:]])
    lines = [
        "# Fault injection (issue 13)",
        "",
        f"`{command}` at commit {commit()}, {dt.date.today()}, {platform.machine()} "
        f"({os.cpu_count()} cores), Python {platform.python_version()}, jax {version('jax')}, "
        f"gymnasium {version('gymnasium')}; kill moments drawn with seed {args.seed}; "
        f"{seconds:.0f} s in all. Every attack runs the `ascent` command in processes of its "
        "own (benchmarks/faults.py says exactly what each does).",
        "",
        f"**{sum(r.passed for r in rows)} of {len(rows)} pass.**",
        "",
        "| attack | expected | observed | pass |",
        "|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            c.replace("|", "\\|").replace("\n", " ") for c in (r.attack, r.expected, r.observed)
        ]
        lines.append(f"| {' | '.join(cells)} | {'yes' if r.passed else '**NO**'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs per door")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--only", nargs="*", choices=list(ATTACKS), help="some attacks only")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "faults.md")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = []
    start_time = time.monotonic()
    for name in args.only or ATTACKS:
        work = Path(tempfile.mkdtemp(prefix=f"ascent-faults-{name}-"))
        try:
            row = ATTACKS[name](work, args, rng)
        except Exception as e:  # noqa: BLE001 - a broken attack is a failed row, not a crash
            row = Row(name, "-", f"the attack itself failed: {type(e).__name__}: {e}", False)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{'pass' if row.passed else 'FAIL'}  {row.attack}: {row.observed}", flush=True)
        rows.append(row)
    text = report(rows, args, time.monotonic() - start_time)
    if not args.only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
