"""Training cases of a claims-lab experiment, each in its own process (`processes.
run_watched`: one XLA thread each, restarted if XLA hangs), its figures one JSON file.

An experiment module defines `run_case(case, seeds, out, quick)`, which trains and writes
`out/<case>.json`; `run_cases` runs the cases whose file is missing (so a stopped run goes
on where it stopped; a quick run runs them all), `jobs` at a time.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from processes import run_watched

BENCHMARKS = Path(__file__).resolve().parent.parent
# the child: benchmarks/ on its path as claims.py puts it, then the module's run_case
_CHILD = (
    f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import claims_lab._cases as c; c.child()"
)


def jobs(quick: bool) -> int:
    """Processes at a time: `claims.py --jobs` (CLAIMS_JOBS, default 2); one for a quick run."""
    return 1 if quick else int(os.environ.get("CLAIMS_JOBS", "2"))


def run_cases(module: str, cases: list[str], seeds: list[int], out: Path, quick: bool) -> None:
    """Run `module`'s `run_case` for each case without a file under `out` (each case,
    when `quick`), `jobs(quick)` at a time."""
    todo = [c for c in cases if quick or not (out / f"{c}.json").is_file()]
    commands = [
        (c, [sys.executable, "-c", _CHILD, module, c, ",".join(map(str, seeds)), str(out),
             "quick" if quick else "full"])
        for c in todo
    ]  # fmt: skip
    if commands:
        run_watched(commands, jobs(quick))


def fresh(out: Path) -> None:
    """Empty a quick run's folder (benchmarks/out/claims/NAME): no figures of an earlier
    quick run with other settings left to report."""
    for path in out.glob("*.json"):
        path.unlink()


def child() -> None:
    """In the child process: `module case seeds out quick|full` from argv."""
    module, case, seeds, out, mode = sys.argv[1:6]
    from ascent.runtime import enable_compile_cache

    enable_compile_cache()
    run = importlib.import_module(module).run_case
    run(case, [int(s) for s in seeds.split(",")], Path(out), mode == "quick")


def write(out: Path, case: str, figures: dict[str, Any], seconds: float) -> None:
    """`figures` with the run's facts as out/<case>.json."""
    meta = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "seconds": round(seconds, 1),
        "versions": {name: version(dist) for name, dist in
                     [("ascent", "ascent-rl"), ("jax", "jax"), ("flax", "flax")]},
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "load": os.getloadavg()[1],
    }  # fmt: skip
    (out / f"{case}.json").write_text(json.dumps({"meta": meta, **figures}))


def read(out: Path, case: str) -> dict[str, Any] | None:
    path = out / f"{case}.json"
    return json.loads(path.read_text()) if path.is_file() else None
