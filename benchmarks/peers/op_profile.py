"""Per-op time of XLA:CPU programs, named by the source lines that made each op.

Used by peers/ascent_team.py and peers/jaxmarl_run.py (`--profile DIR`) for
benchmarks/marl_speed.py (issue 32). The recipe: XLA_FLAGS with XLA:CPU's TraceMe
events on (every op an event) and an HLO dump under DIR/hlo (`ascent/_xla.py`'s
`profiling_flags`), both set before JAX starts (`flags`); the call under
`jax.profiler.trace`, its `*.trace.json.gz` read back; each
op's time is its events' durations less the ops nested inside them (a while loop's own
time, not its body's), summed by name; a name is looked up in the optimised HLO of its
module, whose metadata holds the JAX op (`op_name`) and the Python line that traced it.
"""

from __future__ import annotations

import collections
import glob
import gzip
import importlib.util
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+) = .*?, metadata=\{([^}]*)\}")
OP_NAME = re.compile(r'op_name="((?:[^"\\]|\\.)*)"')
FRAME_ID = re.compile(r"stack_frame_id=(\d+)")
# events that are not XLA ops: Python (the profiler's tracer), dispatch and the host
# waiting for the program
HOST = ("$", "ThunkExecutor::", "PjitFunction", "CommonPjRt", "PjRt")
TABLES = ("FileNames", "FunctionNames", "FileLocations", "StackFrames")
TABLE_ROW = re.compile(r'^(\d+) (?:"(.*)"|\{(.*)\})$')


def profiling_flags(dump: str) -> str:
    """`ascent/_xla.py`'s profiling flags (its one definition), read from the file: this
    module also runs in the peers' virtualenvs, which have no Ascent."""
    path = Path(__file__).resolve().parents[2] / "ascent" / "_xla.py"
    spec = importlib.util.spec_from_file_location("ascent_xla_flags", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.profiling_flags(dump)


def flags(out: Path) -> str:
    """XLA_FLAGS for a profiled process: the current ones plus per-op events and the
    optimised HLO written under out/hlo. Set before JAX starts."""
    extra = profiling_flags(str(out / "hlo"))
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


def _tables(text: str) -> dict[str, dict[int, Any]]:
    """The stack-frame tables at the head of an HLO module's text (FileNames,
    FunctionNames, FileLocations, StackFrames), each {id: a name or {field: value}}."""
    tables: dict[str, dict[int, Any]] = {}
    current: dict[int, Any] | None = None
    for line in text.splitlines():
        if line in TABLES:
            current = tables.setdefault(line, {})
        elif line.startswith(("ENTRY", "%")):
            break
        elif current is not None and (row := TABLE_ROW.match(line)):
            name, fields = row.group(2), row.group(3)
            if fields is None:
                current[int(row.group(1))] = name
            else:
                pairs = (f.split("=") for f in fields.split())
                current[int(row.group(1))] = {k: int(v) for k, v in pairs}
    return tables


def _stack(tables: dict[str, dict[int, Any]], frame: int) -> list[str]:
    """The Python frames of a stack frame id, innermost first: 'file:function:line'."""
    frames: list[str] = []
    seen: set[int] = set()
    while frame in tables.get("StackFrames", {}) and frame not in seen:
        seen.add(frame)
        entry = tables["StackFrames"][frame]
        where = tables["FileLocations"].get(entry["file_location_id"], {})
        path = tables["FileNames"].get(where.get("file_name_id"), "")
        function = tables["FunctionNames"].get(where.get("function_name_id"), "")
        frames.append(f"{trimmed(path)}:{function}:{where.get('line', 0)}")
        frame = entry.get("parent_frame_id", 0)
    return frames


def trimmed(path: str) -> str:
    """A source path from its package on ('jax/_src/random.py', 'ascent/train/loop.py')."""
    for marker in ("site-packages/", "/wt/", "/work/main/", "/peers/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def hlo_sources(out: Path) -> dict[str, dict[str, Any]]:
    """{instruction name: {op_name, stack}} of every optimised HLO module dumped under
    out/hlo, the stack innermost frame first. Names repeat across modules (`fusion.3`):
    the largest module, the training program, is read first and keeps its own."""
    names: dict[str, dict[str, Any]] = {}
    paths = glob.glob(str(out / "hlo" / "*after_optimizations.txt"))
    for path in sorted(paths, key=lambda p: -os.path.getsize(p)):
        text = Path(path).read_text()
        tables = _tables(text)
        for line in text.splitlines():
            match = INSTRUCTION.match(line)
            if not match or match.group(1) in names:
                continue
            op_name = OP_NAME.search(match.group(2))
            frame = FRAME_ID.search(match.group(2))
            names[match.group(1)] = {
                "op_name": op_name.group(1) if op_name else "",
                "stack": _stack(tables, int(frame.group(1))) if frame else [],
            }
    return names


def report(out: Path, seconds: float, iterations: int, top: int = 40) -> dict[str, Any]:
    """The profile of `iterations` training iterations: ms per iteration of each op (its
    own time), with its JAX op and Python stack; written to out/ops.json."""
    table = exclusive_times(out)
    sources = hlo_sources(out)
    ops = []
    for name, (own, total, count) in table.items():
        if name.startswith("$profiler.py"):  # the profiler's own start and stop
            continue
        meta = sources.get(name, {})
        ops.append({"op": name, "own_ms": own / 1e3 / iterations,
                    "total_ms": total / 1e3 / iterations, "events": count,
                    "op_name": meta.get("op_name", ""),
                    "stack": meta.get("stack", [])})  # fmt: skip
    ops.sort(key=lambda o: -o["own_ms"])
    xla = [o for o in ops if not o["op"].startswith(HOST)]
    summary = {"wall_ms_per_iteration": seconds * 1e3 / iterations, "iterations": iterations,
               "ops_ms_per_iteration": sum(o["own_ms"] for o in xla),
               "ops_per_iteration": sum(o["events"] for o in xla) / iterations,
               "events": sum(o["events"] for o in ops), "ops": ops}  # fmt: skip
    (out / "ops.json").write_text(json.dumps(summary, indent=1))
    for o in ops[:top]:
        where = o["stack"][0] if o["stack"] else "?"
        print(f"{o['own_ms']:8.3f} ms {o['events'] / iterations:7.1f}/it  {o['op'][:28]:28s} "
              f"{where[-60:]:60s} {o['op_name'][-50:]}")  # fmt: skip
    return summary
