"""Per-op time of XLA:CPU programs, named by the source lines that made each op.

Used by peers/ascent_team.py and peers/jaxmarl_run.py (`--profile DIR`) for
benchmarks/marl_speed.py (issue 32). The recipe: XLA_FLAGS with
`--xla_cpu_enable_xprof_traceme=true` (every op a TraceMe event) and an HLO dump
(`--xla_dump_to=DIR/hlo --xla_dump_hlo_as_text`), both set before JAX starts
(`flags`); the call under `jax.profiler.trace`, its `*.trace.json.gz` read back; each
op's time is its events' durations less the ops nested inside them (a while loop's own
time, not its body's), summed by name; a name is looked up in the optimised HLO of its
module, whose metadata holds the JAX op (`op_name`) and the Python line that traced it.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+) = .*?, metadata=\{(.*)\}")
FIELD = re.compile(r'(op_name|source_file|source_line)=("(?:[^"\\]|\\.)*"|\d+)')


def flags(out: Path) -> str:
    """XLA_FLAGS for a profiled process: the current ones plus per-op events and the
    optimised HLO written under out/hlo. Set before JAX starts."""
    dump = out / "hlo"
    extra = f"--xla_cpu_enable_xprof_traceme=true --xla_dump_to={dump} --xla_dump_hlo_as_text"
    return f"{os.environ.get('XLA_FLAGS', '')} {extra}".strip()


def trace(fn: Callable[[], Any], out: Path) -> float:
    """Run `fn` under the profiler, its trace written under out/trace; wall seconds."""
    import jax

    shutil.rmtree(out / "trace", ignore_errors=True)
    with jax.profiler.trace(str(out / "trace"), create_perfetto_trace=True):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        seconds = time.perf_counter() - start
    return seconds


def exclusive_times(out: Path) -> dict[str, list[float]]:
    """{op name: [own µs, µs with nested ops, events]} of the "X" events of the trace:
    on each thread, an event's own time is its duration less its children's."""
    path = glob.glob(str(out / "trace" / "**" / "*.trace.json.gz"), recursive=True)[0]
    with gzip.open(path) as f:
        events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    by_thread: dict[Any, list[dict]] = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    table: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for thread in by_thread.values():
        thread.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack: list[tuple[float, str]] = []  # (end, name) of the open events
        for e in thread:
            while stack and stack[-1][0] <= e["ts"]:
                stack.pop()
            row = table[e["name"]]
            row[0] += e["dur"]
            row[1] += e["dur"]
            row[2] += 1
            if stack:
                table[stack[-1][1]][0] -= e["dur"]
            stack.append((e["ts"] + e["dur"], e["name"]))
    return dict(table)


def hlo_sources(out: Path) -> dict[str, dict[str, str]]:
    """{instruction name: {op_name, source_file, source_line}} of every optimised HLO
    module dumped under out/hlo (a name found in several modules keeps the first)."""
    names: dict[str, dict[str, str]] = {}
    for path in sorted(glob.glob(str(out / "hlo" / "*after_optimizations.txt"))):
        for line in Path(path).read_text().splitlines():
            match = INSTRUCTION.match(line)
            if match and match.group(1) not in names:
                fields = dict(FIELD.findall(match.group(2)))
                names[match.group(1)] = {k: v.strip('"') for k, v in fields.items()}
    return names


def source_line(meta: dict[str, str]) -> str:
    """'package/file.py:line' of an op's metadata, trimmed to the package."""
    path = meta.get("source_file", "")
    for marker in ("site-packages/", "/work/main/", "/shared/peers/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{meta.get('source_line', '?')}" if path else "?"


def report(out: Path, seconds: float, iterations: int, top: int = 40) -> dict[str, Any]:
    """The profile of `iterations` training iterations: ms per iteration of each op (its
    own time), with its JAX op and source line; written to out/ops.json."""
    table = exclusive_times(out)
    sources = hlo_sources(out)
    ops = []
    for name, (own, total, count) in table.items():
        meta = sources.get(name, {})
        ops.append({"op": name, "own_ms": own / 1e3 / iterations,
                    "total_ms": total / 1e3 / iterations, "events": count,
                    "op_name": meta.get("op_name", ""), "source": source_line(meta)})  # fmt: skip
    ops.sort(key=lambda o: -o["own_ms"])
    summary = {"wall_ms_per_iteration": seconds * 1e3 / iterations, "iterations": iterations,
               "ops_ms_per_iteration": sum(o["own_ms"] for o in ops), "ops": ops}  # fmt: skip
    (out / "ops.json").write_text(json.dumps(summary, indent=1))
    for o in ops[:top]:
        print(f"{o['own_ms']:8.3f} ms {o['events'] / iterations:7.1f}/it  {o['op'][:28]:28s} "
              f"{o['source'][:50]:50s} {o['op_name'][-70:]}")  # fmt: skip
    return summary
