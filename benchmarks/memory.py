"""Memory benchmark: PPO with feed-forward, recurrent, attention and temporal-convolution
policies on tasks that cannot be solved without remembering (issues 5 and 29).

Three parts, each saved as benchmarks/results/memory_<part>.json; the report
benchmarks/results/memory.md and its plots are rebuilt from the parts saved so far.

- policies: PPO with mlp, gru, lstm, transformer and tcn policies on ascent/TMaze-v0
  (corridor 10), ascent/RepeatFirst-v0 and ascent/RepeatPrevious-v0 (k = 4), the PPO
  presets of those tasks, 5 seeds vmapped through the compiled door: every seed's final
  return (deterministic episodes; on the T-maze the return is the success rate), return
  against steps while training, steps per second. The tcn has 4 layers: a receptive
  field of 16 steps, the transformer's memory in the presets.
- attention: the transformer policy on RepeatPrevious-v0, where positions matter, with
  each of the six score functions (position xl) and each positional scheme (score
  scaled_dot).
- cost: what attention costs against context length L, next to a GRU and a TCN (log2 L
  layers: a receptive field of L) of the same width: a training step (forward and
  backward) over a chunk of L steps with a memory of L steps, and one acting step with a
  memory of L steps; time and XLA's temporary memory.

    .venv/bin/python benchmarks/memory.py                     # every part, then the report
    .venv/bin/python benchmarks/memory.py --part policies     # one part
    .venv/bin/python benchmarks/memory.py --part policies --only tcn  # some policies, the
                                                              # saved rows of the others kept
    .venv/bin/python benchmarks/memory.py --report            # the report from saved parts
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ascent._xla import set_xla_flags

set_xla_flags()  # before JAX starts: one XLA thread

import numpy as np  # noqa: E402

RESULTS = Path(__file__).parent / "results"
TASKS = ["ascent/TMaze-v0", "ascent/RepeatFirst-v0", "ascent/RepeatPrevious-v0"]
POLICIES = ["mlp", "gru", "lstm", "transformer", "tcn"]
# on top of the preset (a transformer's options, which the other cores ignore): the TCN's
# receptive field 2^4 = 16 steps, the transformer's memory_len
CORE_OPTIONS: dict[str, dict[str, Any]] = {"tcn": {"core.num_layers": 4}}
SCORES = ["dot", "scaled_dot", "cosine", "additive", "multiplicative", "euclidean"]
POSITIONS = ["none", "sinusoidal", "learned", "shaw", "xl", "rope", "alibi"]
ATTENTION_TASK = "ascent/RepeatPrevious-v0"
ATTENTION_STEPS = 100_000
CONTEXTS = [16, 32, 64, 128, 256, 512, 1024]
COST_CORES = ["transformer", "gru", "tcn"]
EVAL_EPISODES = 500
CURVE_POINTS = 50

# Done when (issue 5): on the T-maze (corridor >= 10) transformer and GRU policies reach
# >= 90% success within 200k steps in >= 4 of 5 seeds; an MLP policy stays <= 60%.
TARGET_TASK, SUCCESS, NEEDED, MLP_CEILING = "ascent/TMaze-v0", 0.9, 4, 0.6


# --- training runs ----------------------------------------------------------------


def train(env_id: str, seeds: list[int], overrides: dict[str, Any]) -> dict[str, Any]:
    """One configuration, all seeds vmapped in one compiled program."""
    from ascent.catalog.registry import make_config
    from ascent.train.seeds import train_seeds

    result = train_seeds("ppo", env_id, seeds, overrides, eval_episodes=EVAL_EPISODES)
    config = make_config("ppo", env_id, overrides)
    steps = result.env_steps
    curve = result.episode_return  # [S, U]
    width = max(1, len(steps) // CURVE_POINTS)
    cut = len(steps) // width * width
    with warnings.catch_warnings():  # windows where no episode ended are NaN
        warnings.simplefilter("ignore", category=RuntimeWarning)
        points = np.nanmean(curve[:, :cut].reshape(len(seeds), -1, width), axis=2)
    total = int(steps[-1]) * len(seeds)
    return {
        "env_id": env_id,
        "overrides": overrides,
        "seeds": seeds,
        "final": [float(r) for r in result.mean_eval_return],
        "curve_steps": [int(s) for s in steps[width - 1 : cut : width]],
        "curve": np.round(points, 4).tolist(),
        "env_steps": int(steps[-1]),
        "steps_per_second": total / result.train_seconds,
        "compile_seconds": result.compile_seconds,
        "train_seconds": result.train_seconds,
        "config": {k: getattr(config, k) for k in ("n_envs", "n_steps", "minibatch_size")},
    }


def part_policies(
    seeds: list[int], steps: int | None = None, only: list[str] | None = None
) -> list[dict[str, Any]]:
    rows = []
    budget = {} if steps is None else {"total_steps": steps}
    for env_id in TASKS:
        for policy in only or POLICIES:
            print(f"policies: {env_id} {policy}", flush=True)
            overrides = {"core.kind": policy, **CORE_OPTIONS.get(policy, {}), **budget}
            row = train(env_id, seeds, overrides)
            row["label"] = policy
            rows.append(row)
            print(f"  final {np.round(row['final'], 3)}  {row['steps_per_second']:.0f} steps/s")
    return rows


def part_attention(seeds: list[int], steps: int | None = None) -> list[dict[str, Any]]:
    rows = []
    sweeps = [("score", s, {"core.score": s, "core.position": "xl"}) for s in SCORES]
    sweeps += [("position", p, {"core.score": "scaled_dot", "core.position": p})
               for p in POSITIONS]  # fmt: skip
    for kind, name, options in sweeps:
        print(f"attention: {kind} {name}", flush=True)
        overrides = {"core.kind": "transformer", "total_steps": steps or ATTENTION_STEPS,
                     **options}  # fmt: skip
        row = train(ATTENTION_TASK, seeds, overrides)
        row["label"], row["sweep"] = name, kind
        rows.append(row)
        print(f"  final {np.round(row['final'], 3)}  {row['steps_per_second']:.0f} steps/s")
    return rows


# --- the cost of attention against context length -----------------------------------


def _measure(core: Any, length: int, width: int, batch: int, repeats: int) -> dict[str, float]:
    """Time and temporary memory of a training step over L steps and of one acting step."""
    import jax
    import jax.numpy as jnp

    def timed(fn: Any, *args: Any) -> tuple[float, int]:
        compiled = jax.jit(fn).lower(*args).compile()
        memory = compiled.memory_analysis()
        temp = int(getattr(memory, "temp_size_in_bytes", 0)) if memory is not None else 0
        jax.block_until_ready(compiled(*args))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times.append(time.perf_counter() - start)
        return float(np.median(times)), temp

    key = jax.random.key(0)
    x = jax.random.normal(key, (batch, length, width))
    resets = jnp.zeros((batch, length), bool).at[:, 0].set(True)
    state = core.initial_state(batch)
    params = core.init(key, state, x[:, :1], resets[:, :1])

    def loss(params: Any, x: jax.Array) -> jax.Array:
        _, y = core.apply(params, state, x, resets)
        return jnp.mean(y**2)

    def act(params: Any, state: Any, x: jax.Array) -> Any:
        return core.apply(params, state, x, jnp.zeros((batch, 1), bool))

    train_s, train_mem = timed(jax.grad(loss), params, x)
    full_state, _ = jax.jit(core.apply)(params, state, x, resets)  # L steps remembered
    act_s, act_mem = timed(act, params, full_state, x[:, :1])
    return {
        "train_ms": 1e3 * train_s,
        "train_temp_mb": train_mem / 2**20,
        "act_ms": 1e3 * act_s,
        "act_temp_mb": act_mem / 2**20,
    }


def part_cost(width: int = 32, batch: int = 8, repeats: int = 5) -> list[dict[str, Any]]:
    from ascent.nn.sequence import Attention, Recurrent
    from ascent.nn.tcn import TemporalConv

    rows = []
    for length in CONTEXTS:
        row: dict[str, Any] = {"context": length}
        row["transformer"] = _measure(
            Attention(width, 1, 2, length, position="xl", gate="gru"), length, width, batch, repeats
        )
        row["gru"] = _measure(Recurrent("gru", width), length, width, batch, repeats)
        layers = length.bit_length() - 1  # receptive field 2^layers = L
        row["tcn"] = _measure(TemporalConv(width, layers), length, width, batch, repeats)
        print(f"cost: L={length} {row}", flush=True)
        rows.append(row)
    return rows


# --- the report -------------------------------------------------------------------


def _load(part: str) -> dict[str, Any] | None:
    path = RESULTS / f"memory_{part}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _merge(saved: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The saved policy rows with the new ones in place of those of the same task and
    policy, in the order of TASKS and POLICIES."""
    rows = {(r["env_id"], r["label"]): r for r in [*saved, *new]}
    order = {(t, p): i for i, (t, p) in enumerate((t, p) for t in TASKS for p in POLICIES)}
    return sorted(rows.values(), key=lambda r: order.get((r["env_id"], r["label"]), len(order)))


def _seeds_line(values: list[float]) -> str:
    return " | ".join(f"{v:.2f}" for v in values)


def _mean(values: list[float]) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}"


def _header(parts: dict[str, Any]) -> list[str]:
    meta = next(p["meta"] for p in parts.values() if p)
    lines = [
        "# Memory policies: PPO with MLP, GRU, LSTM, transformer and TCN policies",
        "",
        "Commands:  ",
    ]
    for name, part in parts.items():
        if part:
            m = part["meta"]
            load = f", load {m['load']:.1f}" if "load" in m else ""
            lines.append(
                f"- `{m['command'].strip()}` ({name}; {m['date']}, {m['seconds']:.0f} s{load})  "
            )
            for u in m.get("updates", []):
                lines.append(
                    f"- `{u['command'].strip()}` ({name}: the {', '.join(u['only'])} rows, "
                    f"the others kept; {u['date']}, {u['seconds']:.0f} s)  "
                )
    lines += [
        f"Versions: ascent {meta['versions']['ascent']}, jax {meta['versions']['jax']}, "
        f"flax {meta['versions']['flax']}, optax {meta['versions']['optax']}; "
        f"Python {meta['python']}  ",
        f"Machine: {meta['cores']} CPU cores shared with other jobs, XLA on one thread "
        "(steps/s and timings are indicative: the load varied; load: the 5-minute load "
        "average at the end of a run, where recorded). Compile: seconds to compile "
        "the training program, or to load it from JAX's persistent cache.",
        "",
    ]
    return lines


def _policies_section(part: dict[str, Any]) -> list[str]:
    rows = part["rows"]
    seeds = rows[0]["seeds"]
    config = rows[0]["config"]
    lines = [
        "## Policies on the memory tasks",
        "",
        "PPO with the presets of `ascent/catalog/presets/ppo.toml` "
        f"({config['n_envs']} environments × "
        f"{config['n_steps']} steps per rollout, minibatches of whole environment sequences), "
        "`--set core.kind=...` (tcn: also `core.num_layers=4`, a receptive field of 16 steps, "
        f"the transformer's memory); {len(seeds)} seeds each, the final policy evaluated on "
        f"{EVAL_EPISODES} deterministic episodes per seed. T-maze: corridor 10, return = "
        "success (a memoryless policy succeeds at most half the time). RepeatFirst: 4 "
        "symbols, 16 steps; RepeatPrevious: k = 4; return = fraction answered right "
        "(chance 0.25).",
        "",
    ]
    target = [r for r in rows if r["env_id"] == TARGET_TASK]
    if target:
        lines += [
            f"### Done when: {TARGET_TASK}, {target[0]['env_steps']:,} steps",
            "",
            "| policy | target | seeds meeting it | "
            + " | ".join(f"seed {s}" for s in seeds)
            + " | verdict |",
            "|---|---|---|" + "---|" * len(seeds) + "---|",
        ]
        for r in target:
            final = r["final"]
            if r["label"] == "mlp":
                met = sum(v <= MLP_CEILING for v in final)
                need, goal = len(final), f"<= {MLP_CEILING:.0%} success (every seed)"
            elif r["label"] in ("transformer", "gru"):
                met = sum(v >= SUCCESS for v in final)
                need, goal = NEEDED * len(final) // 5, f">= {SUCCESS:.0%} success"
            else:
                met, need, goal = sum(v >= SUCCESS for v in final), 0, f"(>= {SUCCESS:.0%})"
            verdict = "yes" if met >= need else "**no**"
            verdict = verdict if need else "—"
            lines.append(
                f"| {r['label']} | {goal} | {met}/{len(final)} | {_seeds_line(final)} | {verdict} |"
            )
        lines += [
            "",
            "A deterministic (most likely action) memoryless policy either guesses one arm at "
            "the junction (about 50%) or never leaves the corridor (0%); sampled, in training, "
            "it succeeds half the time (the plot).",
            "",
        ]
    lines += [
        "### Every task",
        "",
        "| task | policy | final return (mean ± std) | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | steps/s (all seeds) | compile |",
        "|---|---|---|" + "---|" * len(seeds) + "---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['env_id'].split('/')[1]} | {r['label']} | {_mean(r['final'])} | "
            f"{_seeds_line(r['final'])} | {r['steps_per_second']:,.0f} | "
            f"{r['compile_seconds']:.0f} s |"
        )
    lines += ["", "![return against steps](memory.png)", ""]
    return lines


def _attention_section(part: dict[str, Any]) -> list[str]:
    rows = part["rows"]
    seeds = rows[0]["seeds"]
    lines = [
        f"## Score functions and positional schemes on {ATTENTION_TASK}",
        "",
        "Transformer policy of the preset (1 layer, 2 heads, width 32, memory 16, GRU gates), "
        f"{rows[0]['env_steps']:,} "
        f"steps, {len(seeds)} seeds; final return on {EVAL_EPISODES} deterministic episodes "
        "per seed (chance 0.25). The answer at step t is the symbol of step t − 4, which "
        "the content of the steps alone cannot locate: positions decide.",
        "",
    ]
    for sweep, fixed in (("score", "position xl"), ("position", "score scaled_dot")):
        chosen = [r for r in rows if r["sweep"] == sweep]
        lines += [
            f"| {sweep} ({fixed}) | final return (mean ± std) | "
            + " | ".join(f"seed {s}" for s in seeds)
            + " | steps/s |",
            "|---|---|" + "---|" * len(seeds) + "---|",
        ]
        for r in sorted(chosen, key=lambda r: -np.mean(r["final"])):
            lines.append(
                f"| {r['label']} | {_mean(r['final'])} | {_seeds_line(r['final'])} | "
                f"{r['steps_per_second']:,.0f} |"
            )
        lines.append("")
    lines += ["![scores and positions](memory_attention.png)", ""]
    return lines


def _cost_section(part: dict[str, Any]) -> list[str]:
    rows = part["rows"]
    lines = [
        "## The cost of attention against context length",
        "",
        "Width 32, batch 8, one layer (transformer: 2 heads, xl positions, GRU gates); the "
        "TCN has log2 L layers, a receptive field of L. Training: "
        "forward and backward over a chunk of L steps with a memory of L steps (each query "
        "scores 2L keys; the TCN's taps reach L − 1 steps back, into its cached state); "
        "acting: one step with a full memory of L steps. Median of 5 runs; "
        "memory: XLA's temporary buffers of the compiled program.",
        "",
    ]
    names = [n for n in COST_CORES if n in rows[0]]
    label = {"transformer": "transformer", "gru": "GRU", "tcn": "TCN"}
    columns = [(f"{label[n]} {what}", n, field, fmt)
               for what, field, fmt in (("train", "train_ms", ".2f"),
                                        ("train memory", "train_temp_mb", ".2f"),
                                        ("act step", "act_ms", ".3f"))
               for n in names]  # fmt: skip
    unit = {"train_ms": "ms", "train_temp_mb": "MB", "act_ms": "ms"}
    lines += [
        "| context L | " + " | ".join(c[0] for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for r in rows:
        cells = [f"{r[n][field]:{fmt}} {unit[field]}" for _, n, field, fmt in columns]
        lines.append(f"| {r['context']} | " + " | ".join(cells) + " |")
    first, before, last = rows[0], rows[-2], rows[-1]

    def growth(name: str, field: str, a: dict[str, Any] = first) -> float:
        return last[name][field] / max(a[name][field], 1e-9)

    lines += [
        "",
        f"The quadratic drawback: doubling the context from {before['context']} to "
        f"{last['context']} multiplies the transformer's training memory by "
        f"{growth('transformer', 'train_temp_mb', before):.1f} and its time by "
        f"{growth('transformer', 'train_ms', before):.1f} (the L × 2L score matrices), the "
        f"GRU's by {growth('gru', 'train_temp_mb', before):.1f} and "
        f"{growth('gru', 'train_ms', before):.1f}. Over the whole range "
        f"(×{last['context'] // first['context']}): transformer memory "
        f"×{growth('transformer', 'train_temp_mb'):.0f}, time "
        f"×{growth('transformer', 'train_ms'):.0f}; GRU ×{growth('gru', 'train_temp_mb'):.0f} "
        f"and ×{growth('gru', 'train_ms'):.0f}. Acting, a transformer step reads its whole "
        f"memory (×{growth('transformer', 'act_ms'):.1f} from L = {first['context']} to "
        f"{last['context']}), a GRU step its fixed-size state (no trend, timer noise).",
        "",
    ]
    if "tcn" in names:
        lines += [
            f"The TCN (log2 L layers, so L = {first['context']} has "
            f"{first['context'].bit_length() - 1} and L = {last['context']} has "
            f"{last['context'].bit_length() - 1}): from {before['context']} to "
            f"{last['context']} its training memory ×{growth('tcn', 'train_temp_mb', before):.1f} "
            f"and time ×{growth('tcn', 'train_ms', before):.1f}; over the whole range memory "
            f"×{growth('tcn', 'train_temp_mb'):.0f}, time ×{growth('tcn', 'train_ms'):.0f} "
            f"(L log L would give ×{_nlogn(last['context']) / _nlogn(first['context']):.0f}: "
            "every layer a dense layer over the L steps, no L × L matrix). Acting, "
            f"a step costs log2 L dense layers (×{growth('tcn', 'act_ms'):.1f} from "
            f"L = {first['context']} to {last['context']}) and its cache holds L − 1 vectors.",
            "",
        ]
    lines += [
        "![cost against context length](memory_cost.png)",
        "",
    ]
    return lines


def _steps_to(row: dict[str, Any], level: float) -> int | None:
    """The first curve point where the training return (mean of seeds) reaches `level`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = np.nanmean(np.asarray(row["curve"], dtype=float), axis=0)
    reached = np.flatnonzero(mean >= level)
    return int(row["curve_steps"][reached[0]]) if reached.size else None


def _nlogn(n: int) -> float:
    return n * np.log2(n)


def _claims_section(policies: dict[str, Any], cost: dict[str, Any]) -> list[str]:
    """The course's question 9 (transformers against RNNs and CNNs) read in the data."""
    final = {(r["env_id"].split("/")[1], r["label"]): float(np.mean(r["final"]))
             for r in policies["rows"]}  # fmt: skip
    speed = {(r["env_id"].split("/")[1], r["label"]): r["steps_per_second"]
             for r in policies["rows"]}  # fmt: skip
    tasks = [t.split("/")[1] for t in TASKS]
    kinds = [k for k in ("transformer", "tcn", "gru", "lstm") if (tasks[0], k) in final]
    first, last = cost["rows"][0], cost["rows"][-1]
    L0, L1 = first["context"], last["context"]

    def returns(task: str) -> str:
        return ", ".join(f"{k} {final[task, k]:.2f}" for k in kinds)

    rows = {(r["env_id"].split("/")[1], r["label"]): r for r in policies["rows"]}

    def learning(task: str) -> str:
        steps = {k: _steps_to(rows[task, k], 0.9) for k in kinds}
        order = sorted((s, k) for k, s in steps.items() if s is not None)
        place = next((i for i, (_, k) in enumerate(order) if k == "tcn"), None)
        where = ("not reached by the tcn" if place is None else
                 "the tcn first" if place == 0 else
                 "the tcn last" if place == len(kinds) - 1 else
                 f"the tcn {place + 1} of {len(kinds)}")  # fmt: skip
        listed = ", ".join(f"{k} {s // 1000}k" if s else f"{k} never" for k, s in steps.items())
        return f"{task}: {listed} ({where})"

    def times(row: dict[str, Any], field: str, unit: str, fmt: str) -> str:
        return ", ".join(f"{k} {row[k][field]:{fmt}} {unit}" for k in COST_CORES)

    def ratio(a: str, b: str, field: str, row: dict[str, Any]) -> str:
        return f"{row[a][field] / max(row[b][field], 1e-9):.2f}"

    return [
        "## What the data show about the course's question 9",
        "",
        "The course sets transformers against RNNs and CNNs: attention trains in parallel, "
        "reaches long-range dependencies, and costs O(n²) in the context. Here with a TCN "
        "as the CNN (`core.kind=tcn`, `ascent/nn/tcn.py`):",
        "",
        "- **Parallel training.** The transformer and the TCN compute all T steps of a "
        "training chunk at once (tests/nn/test_tcn.py checks that the TCN's program has no "
        "loop over time); the GRU and the LSTM scan the T steps one after another. The "
        "TCN's longest chain of dependent operations is log2 L layers, the GRU's L steps. "
        "On this machine XLA runs on one CPU thread, so independent steps are not run at "
        "the same time; what the parallel form saves is the per-step work of a scan. "
        f"Training over L steps (the table above): at L = {L0}, "
        f"{times(first, 'train_ms', 'ms', '.2f')}; at L = {L1}, "
        f"{times(last, 'train_ms', 'ms', '.2f')}: the TCN takes "
        f"×{ratio('tcn', 'gru', 'train_ms', first)} the GRU's time at L = {L0} and "
        f"×{ratio('tcn', 'gru', 'train_ms', last)} at L = {L1}. A TCN step does log2 L "
        "layers of work where a GRU step does one cell, so on one thread the parallel form "
        "pays where a scan's per-step overhead dominates, not in total work; run on many "
        "cores or a GPU, the TCN's depth rather than its work would set its time (not "
        "measured here). In PPO, where most "
        "of the time is acting one step at a time, steps/s (all seeds; runs of different "
        "days, indicative): "
        + "; ".join(f"{t} " + ", ".join(f"{k} {speed[t, k]:,.0f}" for k in kinds) for t in tasks)
        + ".",
        "- **Long-range dependencies.** Final returns (mean of seeds): "
        + "; ".join(f"{t}: {returns(t)}" for t in tasks)
        + ". Steps until the training return (mean of seeds) first reaches 0.9: "
        + "; ".join(learning(t) for t in tasks)
        + ". A step d back reaches a TCN output only along the one path of taps given by "
        "d's binary digits, through up to 4 layers for d = 15, where attention reads any "
        "step of its memory in one layer and a recurrent state carries it step by step. "
        "No recall in these tasks is longer than 16 steps, the transformer's memory "
        "and the TCN's receptive field alike, so they test dependencies within the window, "
        "not beyond it. On RepeatPrevious the answer is exactly 4 steps back: the TCN's "
        "taps, like the transformer's relative positions (the sweep above), address a "
        "step by its distance, while a recurrent state must learn to keep a 4-step delay "
        "line. Both windows are hard limits (a TCN step sees exactly its last "
        "2^num_layers steps, tests/nn/test_tcn.py): a dependency longer than the window "
        "is out of reach, where a GRU's state has no fixed horizon.",
        "- **Cost against context length.** At L = "
        f"{L1}, training memory {times(last, 'train_temp_mb', 'MB', '.1f')}; the "
        f"transformer ×{ratio('transformer', 'tcn', 'train_temp_mb', last)} the TCN's "
        f"memory and ×{ratio('transformer', 'tcn', 'train_ms', last)} its time. The "
        "transformer's O(L²) score matrices are the course's drawback; a TCN covers L steps "
        "with log2 L layers, O(L log L) work for L steps, and acts in O(log L) per step from "
        "its cache (acting at L = "
        f"{L1}: {times(last, 'act_ms', 'ms', '.3f')}).",
        "",
    ]


def _plots(parts: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if parts.get("policies"):
        rows = parts["policies"]["rows"]
        fig, axes = plt.subplots(1, len(TASKS), figsize=(5 * len(TASKS), 3.6))
        for ax, env_id in zip(np.atleast_1d(axes), TASKS, strict=True):
            for r in (r for r in rows if r["env_id"] == env_id):
                curve = np.asarray(r["curve"], dtype=float)
                steps = np.asarray(r["curve_steps"])
                mean = np.nanmean(curve, axis=0)
                label = f"{r['label']} ({r['steps_per_second']:,.0f} steps/s)"
                (line,) = ax.plot(steps, mean, label=label)
                ax.fill_between(
                    steps,
                    np.nanmin(curve, axis=0),
                    np.nanmax(curve, axis=0),
                    color=line.get_color(),
                    alpha=0.15,
                )
            ax.set_title(env_id)
            ax.set_xlabel("environment steps")
            ax.set_ylabel("episode return (training)")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(RESULTS / "memory.png", dpi=120)
        plt.close(fig)
    if parts.get("attention"):
        rows = parts["attention"]["rows"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for ax, sweep in zip(axes, ("score", "position"), strict=True):
            chosen = [r for r in rows if r["sweep"] == sweep]
            for r in chosen:
                curve = np.asarray(r["curve"], dtype=float)
                ax.plot(r["curve_steps"], np.nanmean(curve, axis=0), label=r["label"])
            ax.set_title(f"{ATTENTION_TASK}: {sweep}")
            ax.set_xlabel("environment steps")
            ax.set_ylabel("episode return (training, mean of seeds)")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(RESULTS / "memory_attention.png", dpi=120)
        plt.close(fig)
    if parts.get("cost"):
        rows = parts["cost"]["rows"]
        lengths = [r["context"] for r in rows]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        for ax, (field, title) in zip(
            axes,
            [
                ("train_ms", "training step (ms)"),
                ("train_temp_mb", "training memory (MB)"),
                ("act_ms", "acting step (ms)"),
            ],
            strict=True,
        ):
            for name in (n for n in COST_CORES if n in rows[0]):
                ax.plot(lengths, [r[name][field] for r in rows], marker="o", label=name)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("context length L")
            ax.set_title(title)
            ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / "memory_cost.png", dpi=120)
        plt.close(fig)


def report() -> Path:
    parts = {name: _load(name) for name in ("policies", "attention", "cost")}
    if not any(parts.values()):
        raise SystemExit("no saved parts under benchmarks/results/memory_*.json")
    lines = _header(parts)
    if parts["policies"]:
        lines += _policies_section(parts["policies"])
    if parts["attention"]:
        lines += _attention_section(parts["attention"])
    if parts["cost"]:
        lines += _cost_section(parts["cost"])
    if parts["policies"] and parts["cost"] and "tcn" in parts["cost"]["rows"][0]:
        lines += _claims_section(parts["policies"], parts["cost"])
    _plots(parts)
    out = RESULTS / "memory.md"
    out.write_text("\n".join(lines).rstrip() + "\n")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["policies", "attention", "cost"], action="append")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--steps", type=int, default=None, help="override total_steps (a smoke run)"
    )
    parser.add_argument("--report", action="store_true", help="only rebuild the report")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=POLICIES,
        help="policies part: run these policies only, keeping the saved rows of the others",
    )
    args = parser.parse_args()

    from ascent.runtime import enable_compile_cache

    enable_compile_cache()
    RESULTS.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seeds))
    runners = {
        "policies": lambda: part_policies(seeds, args.steps, args.only),
        "attention": lambda: part_attention(seeds, args.steps),
        "cost": part_cost,
    }
    for part in [] if args.report else args.part or list(runners):
        start = time.perf_counter()
        rows = runners[part]()
        meta = {
            "command": "python benchmarks/memory.py " + " ".join(sys.argv[1:]),
            "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "seconds": time.perf_counter() - start,
            "versions": {
                name: version(dist)
                for name, dist in [("ascent", "ascent-rl"), ("jax", "jax"), ("flax", "flax")]
                + [("optax", "optax")]
            },
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            "load": os.getloadavg()[1],  # processes wanting a core, the last 5 minutes
        }
        path = RESULTS / f"memory_{part}.json"
        saved = _load(part)
        if part == "policies" and args.only and saved:
            meta = {**saved["meta"], "updates": [*saved["meta"].get("updates", []), meta]}
            meta["updates"][-1]["only"] = args.only
            rows = _merge(saved["rows"], rows)
        path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        print(f"wrote {path}")
    out = report()
    print(out.read_text())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
