"""Benchmark cases as child processes, a few at a time, restarted if XLA hangs.

XLA's CPU runtime was seen to stop for good in the middle of long vmapped programs
(every thread idle, the caller waiting for a result that never comes) while its
concurrency-optimised scheduler was on (results/design_notes.md). As a safeguard, a case
whose process uses no CPU for `hung_seconds` is killed and run again from the start; a
case must therefore not depend on being run once (same seeds, same program).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from ascent._xla import XLA_FLAGS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_watched(
    cases: list[tuple[str, list[str]]], jobs: int, hung_seconds: float = 120.0
) -> dict[str, int]:
    """Run each `(name, command)`, `jobs` at a time, each on one XLA thread; SystemExit
    when one fails. Returns the restarts of each case."""
    pending = list(cases)
    restarts = {name: 0 for name, _ in cases}
    running: list[dict[str, Any]] = []
    env = {**os.environ, "XLA_FLAGS": XLA_FLAGS}

    def start(name: str, command: list[str]) -> None:
        print(f"starting {name}", flush=True)
        proc = subprocess.Popen(command, env=env)
        running.append({"proc": proc, "case": (name, command), "cpu": 0.0, "since": time.time()})

    while pending or running:
        while pending and len(running) < jobs:
            start(*pending.pop(0))
        time.sleep(5)
        for run in list(running):
            proc, (name, command) = run["proc"], run["case"]
            if proc.poll() is not None:
                running.remove(run)
                if proc.returncode != 0:
                    raise SystemExit(f"{name} failed with exit status {proc.returncode}")
                print(f"done: {name}", flush=True)
                continue
            used = cpu_seconds(proc.pid)
            if used > run["cpu"] + 1.0:
                run["cpu"], run["since"] = used, time.time()
            elif time.time() - run["since"] > hung_seconds:
                print(f"{name} stuck (no CPU used for {hung_seconds:.0f} s): restarting",
                      flush=True)  # fmt: skip
                proc.kill()
                proc.wait()
                running.remove(run)
                restarts[name] += 1
                start(name, command)
    return restarts
