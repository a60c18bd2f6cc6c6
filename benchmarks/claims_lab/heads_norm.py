"""Multi-head attention and layer norm (the course's question 12; issue 34, item 8).

PPO with the preset transformer policy of ascent/RepeatPrevious-v0 (answer the symbol of
4 steps back; return = the fraction answered right, chance 0.25): one layer of width 32,
a memory of 16 steps, Transformer-XL positions, scaled dot-product scores, GTrXL's GRU
gates, pre-LN, lr 1e-3, gradients clipped at norm 0.5 (ascent/catalog/presets/ppo.toml);
100,000 steps, where benchmarks/memory.py's sweep saw this policy reach 1.00 on every
seed. Two experiments:

- heads: 1, 2 and 4 heads at the same width 32 (`core.num_heads`; head width 32, 16, 8),
  the rest of the preset kept. Final return (500 deterministic episodes per seed) and
  learning speed: the steps until a seed's training return (mean of the episodes that
  ended in a window of 5 updates, 4,000 steps) first reaches 0.9, and its mean training
  return over the whole run.
- norm: layer norm before each sublayer (`core.norm=pre`, GPT-2, GTrXL), after the
  residual sum (`post`, Vaswani et al. 2017) or nowhere (`none`), each with GTrXL's GRU
  gate or a plain residual (`core.gate=gru|residual`), at learning rates 3e-4, 1e-3,
  3e-3, 1e-2 and 3e-2: the fraction of seeds that diverge, final return and speed.

A seed diverged (defined before the data) when its final parameters hold a non-finite
value (a NaN or infinite loss poisons them through Adam; a compiled multi-seed program
runs on where `agent.learn` would stop with TrainingError), or when its training return,
having reached LEARNED (0.6), stands at COLLAPSED (0.35, chance + 0.1) or below over the
last tenth of training. Reported beside it: a seed that fell back by at least DROP (0.3)
from its best window without collapsing, and one that never reached LEARNED.

Each case (a head count; a norm with a gate) trains its seeds in one compiled program
(`ascent.sweep`; for norm the learning rates are traced, so one program holds lr × seed
runs) in its own process (`processes.run_watched`), and writes CASE.json under `out`; a
case whose figures are there with the same settings is not run again (delete the file to
rerun it). Full run: 9 programs, 3 of 5 runs and 6 of 25, 165 runs of 100,000 steps:
about 20 minutes of one free core (compiling a program takes about 50 s of CPU; training
runs at about 30,000 steps/s, memory.md's speed for 5 seeds side by side), up to an hour
when the machine is shared.

    .venv/bin/python benchmarks/claims.py --only heads_norm
    .venv/bin/python benchmarks/claims.py --only heads_norm --quick
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

NAME = "heads_norm"
QUESTION = 12
ORDER = 80
TITLE = "Multi-head attention and layer norm"
CLAIM = (
    "“Different heads in multi-head attention can attend to different parts of the input "
    "sequence simultaneously. This allows the model to capture a variety of relationships "
    "and features from different subspaces in the data.” … “multi-head attention can learn "
    "more nuanced patterns and dependencies than single-head attention.” … “Layer "
    "normalization is a technique used to stabilize and speed up the training of deep "
    "neural networks by normalizing the inputs to each layer.” … “By maintaining a "
    "consistent distribution of activations, layer normalization helps to stabilize and "
    "accelerate the training process.”"
)
FALSE_IF = (
    "(heads) at the same width, neither 2 nor 4 heads end higher than 1 head (mean final "
    "return over the seeds at least 0.05 above) or learn faster (median steps to a "
    "training return of 0.9 at least 20% fewer); (norm) across the learning rates, with "
    "and without GTrXL's gate, removing layer norm neither raises the fraction of "
    "diverged seeds by at least 10 points over pre-LN or post-LN nor lowers the mean "
    "final return by at least 0.1. A seed diverged when its final parameters are not "
    "finite, or when its training return, having reached 0.6, is 0.35 or below (chance "
    "0.25) over the last tenth of training."
)
SEEDS = (0, 1, 2, 3, 4)

HEADS = (1, 2, 4)
NORMS = ("pre", "post", "none")
GATES = ("gru", "residual")
LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)  # the preset's 1e-3, ×1/3 to ×30
WIDTH = 32  # the preset's core.embed_dim, fixed for every head count
SMOOTH = 5  # updates per window of the training curve (5 × 800 = 4,000 steps)
LEARNED, COLLAPSED, DROP, FAST = 0.6, 0.35, 0.3, 0.9
QUICK = {"steps": 4_000, "seeds": 2, "eval": 20, "heads": (1, 2), "norms": ("pre", "none"),
         "gates": ("gru",), "lrs": (1e-3, 1e-2)}  # fmt: skip


def _cases(quick: bool) -> dict[str, dict[str, Any]]:
    """Each case's fixed settings and, for norm cases, its grid of learning rates."""
    heads = QUICK["heads"] if quick else HEADS
    norms, gates = (QUICK["norms"], QUICK["gates"]) if quick else (NORMS, GATES)
    lrs = QUICK["lrs"] if quick else LRS
    cases = {f"heads-{h}": {"overrides": {"core.num_heads": h}, "grid": {}} for h in heads}
    for norm in norms:
        for gate in gates:
            cases[f"norm-{norm}-{gate}"] = {
                "overrides": {"core.norm": norm, "core.gate": gate},
                "grid": {"lr": list(lrs)},
            }
    return cases


CASES = tuple(_cases(quick=False))  # a full run's cases, each out/CASE.json


def run(seeds: list[int], out: Path, quick: bool) -> None:
    from processes import run_watched

    from claims_lab._cases import jobs

    seeds = seeds[: QUICK["seeds"]] if quick else seeds
    todo = []
    for case in _cases(quick):
        kept = out / f"{case}.json"
        if kept.exists() and json.loads(kept.read_text())["settings"] == _settings(seeds, quick):
            print(f"{case}: kept figures", flush=True)
            continue
        todo.append((case, [sys.executable, __file__, case, str(out), "--seeds",
                            *map(str, seeds), *(["--quick"] if quick else [])]))  # fmt: skip
    run_watched(todo, jobs=jobs(quick))


def _settings(seeds: list[int], quick: bool) -> dict[str, Any]:
    """What a case's figures depend on besides the case: kept figures are reused only
    when these match."""
    from memory import ATTENTION_STEPS, EVAL_EPISODES

    if quick:
        return {"seeds": list(seeds), "steps": QUICK["steps"], "eval": QUICK["eval"]}
    return {"seeds": list(seeds), "steps": ATTENTION_STEPS, "eval": EVAL_EPISODES}


def run_case(case: str, out: Path, seeds: list[int], quick: bool) -> None:
    """Train one case's runs in one program and write out/CASE.json."""
    import numpy as np
    from memory import ATTENTION_TASK

    import ascent
    from ascent.runtime import enable_compile_cache
    from ascent.train.loop import all_finite

    enable_compile_cache()
    spec = _cases(quick)[case]
    settings = _settings(seeds, quick)
    overrides = {**spec["overrides"], "core.embed_dim": WIDTH, "total_steps": settings["steps"]}
    grid = spec["grid"] or {"core.num_heads": [overrides.pop("core.num_heads")]}
    block = len(seeds)  # a norm case's learning rates × seeds: one block per rate, no padding
    start = time.perf_counter()
    result = ascent.sweep("ppo", ATTENTION_TASK, grid, seeds, overrides,
                          eval_episodes=settings["eval"], block=block, say=print)  # fmt: skip
    wall = time.perf_counter() - start
    # a NaN or infinite loss poisons the parameters for good (Adam's moments carry it)
    finite = [[bool(all_finite(result.state(c, s).algo.params)) for s in range(len(seeds))]
              for c in range(len(result.configs))]  # fmt: skip
    figures = {
        "case": case,
        "settings": settings,
        "overrides": {k: v for k, v in overrides.items() if k != "total_steps"},
        "configs": [
            {k: float(v) if k == "lr" else v for k, v in c.items()} for c in result.configs
        ],
        "final": result.final_returns.round(4).tolist(),  # [C, S]
        "finite": finite,  # [C, S]: every parameter finite at the end
        "curve_steps": result.env_steps[0].tolist(),
        "curve": [np.round(c, 4).tolist() for c in result.curves],  # [C][S][U], NaN: no episode
        "compile_seconds": sum(g.compile_seconds for g in result.groups),
        "train_seconds": sum(g.train_seconds for g in result.groups),
        "wall_seconds": wall,
        "runs": len(result.configs) * len(seeds),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{case}.json").write_text(json.dumps(figures))


# --- measures -------------------------------------------------------------------------


def _smooth(curve: Any) -> Any:
    """[S, U] training returns -> [S, U - SMOOTH + 1] means of windows of SMOOTH updates
    (updates where no episode ended skipped)."""
    import warnings

    import numpy as np

    curve = np.asarray(curve, dtype=float)
    windows = np.lib.stride_tricks.sliding_window_view(curve, SMOOTH, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanmean(windows, axis=-1)


def outcomes(curve: Any, finite: list[bool]) -> dict[str, Any]:
    """Per seed, from its training curve [S, U] and the finiteness of its final
    parameters: diverged (non-finite, or learned then collapsed), fell back, never
    learned; the steps index of the first window at FAST (None: never) and the mean
    training return."""
    import numpy as np

    raw = np.asarray(curve, dtype=float)
    smooth = _smooth(raw)
    tail = max(1, raw.shape[1] // 10)
    with np.errstate(all="ignore"):
        best = np.nanmax(smooth, axis=1)
        end = np.nanmean(raw[:, -tail:], axis=1)
        mean = np.nanmean(raw, axis=1)
    learned = best >= LEARNED
    collapsed = learned & (end <= COLLAPSED)
    nonfinite = ~np.asarray(finite, bool)
    fast = [int(np.argmax(row >= FAST)) + SMOOTH - 1 if (row >= FAST).any() else None
            for row in smooth]  # fmt: skip
    return {
        "nonfinite": nonfinite,
        "collapsed": collapsed & ~nonfinite,
        "diverged": nonfinite | collapsed,
        "fell": learned & ~collapsed & ~nonfinite & (end <= best - DROP),
        "never": ~learned & ~nonfinite,
        "fast": fast,  # index into curve_steps of the update that ends the first window
        "mean": mean,
    }


def _median_steps(fast: list[int | None], steps: list[int]) -> float:
    """The median over seeds of the steps to FAST, a seed that never got there counted as
    infinitely slow."""
    import numpy as np

    return float(np.median([steps[i] if i is not None else np.inf for i in fast]))


def _steps_text(value: float) -> str:
    return "never" if value == float("inf") else f"{value / 1000:.0f}k"


def _reached(value: float) -> str:
    return f"never {FAST}" if value == float("inf") else f"{FAST} at {value / 1000:.0f}k steps"


# --- the report -----------------------------------------------------------------------


def report(out: Path, plot: Path) -> Any:
    import numpy as np
    from claims import Section
    from memory import ATTENTION_TASK, _mean, _seeds_line

    figures = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    heads = sorted((f for n, f in figures.items() if n.startswith("heads-")),
                   key=lambda f: f["configs"][0]["core.num_heads"])  # fmt: skip
    norms = [figures[f"norm-{n}-{g}"] for n in NORMS for g in GATES
             if f"norm-{n}-{g}" in figures]  # fmt: skip
    any_case = next(iter(figures.values()))
    seeds, steps, episodes = (any_case["settings"][k] for k in ("seeds", "steps", "eval"))
    lines = [
        f"PPO on {ATTENTION_TASK} (k = 4, chance 0.25) with the preset transformer policy "
        f"(1 layer, width {WIDTH}, memory 16, xl positions, scaled dot scores; "
        f"benchmarks/results/memory.md), {steps:,} steps, seeds {seeds}; final return on "
        f"{episodes} deterministic episodes per seed; learning speed: steps until a "
        f"seed's training return, averaged over windows of {SMOOTH} updates, first reaches "
        f"{FAST}. Each case is one program of `ascent.sweep` (the learning rates traced). "
        "PPO clips each update's gradient at norm 0.5 (the preset), which bounds a step at "
        "any learning rate: divergence here is what survives that clip.",
        "",
    ]
    verdicts = []
    if heads:
        lines += ["### One head against several, at width 32", "",
                  "| heads | head width | final return | " + " | ".join(
                      f"seed {s}" for s in seeds) + " | median steps to 0.9 | mean training "
                  "return | compile, run |",
                  "|---|---|---|" + "---|" * len(seeds) + "---|---|---|"]  # fmt: skip
        rows = {}
        for f in heads:
            h = f["configs"][0]["core.num_heads"]
            o = outcomes(f["curve"][0], f["finite"][0])
            rows[h] = (np.mean(f["final"][0]), _median_steps(o["fast"], f["curve_steps"]))
            lines.append(
                f"| {h} | {WIDTH // h} | {_mean(f['final'][0])} | {_seeds_line(f['final'][0])} "
                f"| {_steps_text(rows[h][1])} | {np.mean(o['mean']):.2f} | "
                f"{f['compile_seconds']:.0f} s, {f['train_seconds']:.0f} s |"
            )
        lines.append("")
        verdicts.append(_heads_verdict(rows))
    if norms:
        lines += [
            "### Layer norm: pre, post, none; with GTrXL's gate and without; across "
            "learning rates", "",
            "Diverged: final parameters not finite (nf) or learned (≥ "
            f"{LEARNED}) then collapsed (≤ {COLLAPSED} over the last tenth of training); "
            f"fell: ended ≥ {DROP} below its best window without collapsing; never: never "
            f"reached {LEARNED}.", "",
            "| norm | gate | lr | final return | " + " | ".join(f"seed {s}" for s in seeds)
            + " | diverged (nf) | fell | never | median steps to 0.9 |",
            "|---|---|---|---|" + "---|" * len(seeds) + "---|---|---|---|",
        ]  # fmt: skip
        summary: dict[tuple[str, str], dict[str, Any]] = {}
        for f in norms:
            norm, gate = f["overrides"]["core.norm"], f["overrides"]["core.gate"]
            cell = summary.setdefault((norm, gate), {"diverged": 0, "runs": 0, "final": []})
            for c, config in enumerate(f["configs"]):
                o = outcomes(f["curve"][c], f["finite"][c])
                n = len(f["final"][c])
                cell["diverged"] += int(o["diverged"].sum())
                cell["runs"] += n
                cell["final"] += f["final"][c]
                lines.append(
                    f"| {norm} | {gate} | {config['lr']:g} | {_mean(f['final'][c])} | "
                    f"{_seeds_line(f['final'][c])} | {o['diverged'].sum()}/{n} "
                    f"({o['nonfinite'].sum()}) | {o['fell'].sum()} | {o['never'].sum()} | "
                    f"{_steps_text(_median_steps(o['fast'], f['curve_steps']))} |"
                )
        lines += ["", "| norm | gate | diverged, all learning rates | mean final return |",
                  "|---|---|---|---|"]  # fmt: skip
        for (norm, gate), cell in summary.items():
            lines.append(f"| {norm} | {gate} | {cell['diverged']}/{cell['runs']} | "
                         f"{np.mean(cell['final']):.2f} |")  # fmt: skip
        lines.append("")
        verdicts.append(_norm_verdict(summary))
    seconds = sum(f["compile_seconds"] + f["train_seconds"] for f in figures.values())
    lines += [
        f"Cost of these figures: {seconds / 60:.1f} min of compiling and training on one "
        "XLA thread (the machine shared).",
        "",
        "Command: `python benchmarks/claims.py --only heads_norm` (each case's figures in "
        "benchmarks/results/claims/heads_norm/).",
    ]
    _plot(heads, norms, plot)
    return Section(lines, _verdict(verdicts))


def _heads_verdict(rows: dict[int, tuple[float, float]]) -> tuple[bool | None, str]:
    """(whether more heads won by FALSE_IF's margins, the figures in words)."""
    if 1 not in rows or len(rows) < 2:
        return None, "one head was not compared with several"
    one_final, one_fast = rows[1]
    better = [h for h, (final, fast) in rows.items() if h > 1 and (
        final >= one_final + 0.05 or fast < float("inf") and fast <= 0.8 * one_fast)]  # fmt: skip
    words = ", ".join(f"{h} head{'s' * (h > 1)} {final:.2f} ({_reached(fast)})"
                      for h, (final, fast) in sorted(rows.items()))  # fmt: skip
    if better:
        return True, f"more heads beat one at width {WIDTH}: final return {words}"
    return False, f"at width {WIDTH} more heads did not beat one: final return {words}"


def _norm_verdict(summary: dict[tuple[str, str], dict[str, Any]]) -> tuple[bool | None, str]:
    """(whether removing layer norm hurt by FALSE_IF's margins, for every gate; None: for
    some only), the figures in words."""
    import numpy as np

    helped = {}
    for gate in GATES:
        cells = {n: summary.get((n, gate)) for n in NORMS}
        if cells["none"] is None or not any(cells[n] for n in ("pre", "post")):
            continue
        frac = {n: c["diverged"] / c["runs"] for n, c in cells.items() if c}
        final = {n: float(np.mean(c["final"])) for n, c in cells.items() if c}
        helped[gate] = any(
            frac["none"] >= frac[n] + 0.1 or final["none"] <= final[n] - 0.1
            for n in ("pre", "post") if n in frac
        )  # fmt: skip
    words = "; ".join(
        f"{gate} gate: " + ", ".join(
            f"{n} {c['diverged']}/{c['runs']} diverged, final {np.mean(c['final']):.2f}"
            for n in NORMS if (c := summary.get((n, gate))))
        for gate in GATES if any((n, gate) in summary for n in NORMS)
    )  # fmt: skip
    if not helped:
        return None, "layer norm was not compared with none"
    if all(helped.values()):
        return True, f"removing layer norm hurt ({words})"
    if any(helped.values()):
        where = ", ".join(g for g, h in helped.items() if h)
        return None, f"removing layer norm hurt only with the {where} gate ({words})"
    return False, f"removing layer norm did not hurt ({words})"


def _verdict(parts: list[tuple[bool | None, str]]) -> str:
    held = [h for h, _ in parts]
    if held and all(h is True for h in held):
        word = "holds"
    elif held and all(h is False for h in held):
        word = "does not hold here"
    else:
        word = "holds with a condition"
    return f"{word}: " + "; ".join(text for _, text in parts) + "."


def _plot(heads: list[dict[str, Any]], norms: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    ax = axes[0]
    for f in heads:
        steps = np.asarray(f["curve_steps"])[SMOOTH - 1 :]
        smooth = _smooth(f["curve"][0])
        h = f["configs"][0]["core.num_heads"]
        (line,) = ax.plot(steps, np.nanmean(smooth, axis=0), label=f"{h} head{'s' * (h > 1)}")
        ax.fill_between(steps, np.nanmin(smooth, axis=0), np.nanmax(smooth, axis=0),
                        color=line.get_color(), alpha=0.15)  # fmt: skip
    ax.set(title=f"heads at width {WIDTH} (mean, min–max of seeds)",
           xlabel="environment steps", ylabel="training return")  # fmt: skip
    ax.legend(fontsize=8)
    colours = {"pre": "C0", "post": "C1", "none": "C3"}
    styles = {"gru": "-", "residual": "--"}
    for i, f in enumerate(norms):
        norm, gate = f["overrides"]["core.norm"], f["overrides"]["core.gate"]
        lrs = [c["lr"] for c in f["configs"]]
        diverged = [outcomes(f["curve"][c], f["finite"][c])["diverged"].mean()
                    for c in range(len(lrs))]  # fmt: skip
        style = {"color": colours[norm], "linestyle": styles[gate], "marker": "o"}
        axes[1].plot(lrs, np.mean(f["final"], axis=1), label=f"{norm}, {gate}", **style)
        axes[2].plot(lrs, np.asarray(diverged) + 0.01 * i, label=f"{norm}, {gate}", **style)
    axes[1].set(xscale="log", title="final return (mean of seeds)", xlabel="learning rate",
                ylabel="deterministic return")  # fmt: skip
    axes[2].set(xscale="log", title="fraction of seeds diverged (lines offset: ties show)",
                xlabel="learning rate", ylim=(-0.05, 1.1))  # fmt: skip
    axes[1].legend(fontsize=8, title="norm, gate", title_fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # one case, in the process run_watched started
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/
    from ascent._xla import set_xla_flags

    set_xla_flags()  # before JAX starts: one XLA thread
    parser = argparse.ArgumentParser(description="one case of heads_norm")
    parser.add_argument("case")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    run_case(args.case, args.out, args.seeds, args.quick)
