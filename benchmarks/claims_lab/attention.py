"""Scaled dot-product attention (issue 34, item 6; the course's question 10).

Two parts, both with Ascent's own attention (`ascent.nn.attention`, the score functions
`dot` and `scaled_dot` of its `SCORES` registry):

- **init**: a freshly initialised one-head `MultiHeadAttention` of head size d_k = 8 …
  512 (width d_k, its default LeCun-normal projections) over sequences of 16 inputs of
  unit variance per feature, every query seeing every key: the softmax's saturation
  (each row's largest weight, the share of rows above 0.99, its entropy over log 16) and
  the gradient it passes back to the queries and keys (and to the query and key
  projections) for a random upstream gradient of norm 1 per token
  (`ascent.theory.attention.attention_at_init`); 64 sequences per seed, 5 seeds.
- **learning**: PPO with a transformer core on ascent/RepeatPrevious-v0, the settings of
  benchmarks/memory.py's score sweep (its task, its 100,000 steps, its 500 evaluation
  episodes, Transformer-XL positions, the preset's 2 heads) with `core.score` dot
  against scaled_dot, at the preset's width 32 (d_k 16) and at width 256 (d_k 128);
  5 seeds, each case in its own process (`_cases.run_cases`).

    .venv/bin/python benchmarks/claims.py --only attention
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from claims import Section
from memory import ATTENTION_STEPS, ATTENTION_TASK, EVAL_EPISODES, RESULTS, train

from claims_lab._cases import fresh, read, run_cases, write

NAME = "attention"
QUESTION = 10
ORDER = 60
TITLE = "Scaled dot-product attention"
CLAIM = (
    "It computes the dot product between the query vector (Q) and key vector (K). In "
    "scaled dot-product attention, this product is further divided by the square root of "
    "the dimensionality of the key vectors to maintain a stable gradient."
)
FALSE_IF = (
    "at initialisation (one head of d_k = 8 … 512, inputs of unit variance per feature, "
    "5 seeds), the gradient that passes back through the softmax to the queries (median "
    "and mean over tokens) changes across the d_k range by as large a factor under scaled "
    "dot as under dot, or dot's softmax rows are no more saturated than scaled dot's at "
    "d_k ≥ 64. The learning consequence would be absent if dot learned RepeatPrevious "
    "as well as scaled dot at both widths (mean final returns of 5 seeds within 0.05)."
)
SEEDS = (0, 1, 2, 3, 4)

SCORES = ("dot", "scaled_dot")
D_K = (8, 16, 32, 64, 128, 256, 512)
TOKENS, BATCH = 16, 64  # keys per row (the memory tasks' window), sequences per seed
WIDTHS = (32, 256)  # core.embed_dim, 2 heads: d_k 16 and 128
HEADS = 2  # the preset's (CoreSpec's default)
QUICK: dict[str, Any] = {"d_k": (8, 64), "batch": 8, "widths": (32,), "steps": 1_600,
                         "seeds": 2}  # fmt: skip
FIGURES = ("top_weight", "saturated", "entropy_ratio", "logit_std", "grad_q_median",
           "grad_q_mean", "grad_k_median", "grad_k_mean", "grad_params")  # fmt: skip
MARGIN = 0.05  # final return: a difference smaller than this is "as well"


def learn_case(width: int, score: str) -> str:
    return f"learn-w{width}-{score}"


def run(seeds: list[int], out: Path, quick: bool) -> None:
    seeds = seeds[: QUICK["seeds"]] if quick else seeds
    if quick:
        fresh(out)
    start = time.perf_counter()
    measure_init(seeds, out, quick)
    print(f"attention: init measured in {time.perf_counter() - start:.0f} s", flush=True)
    widths = QUICK["widths"] if quick else WIDTHS
    cases = [learn_case(w, s) for w in widths for s in SCORES]
    run_cases("claims_lab.attention", cases, seeds, out, quick)


def measure_init(seeds: list[int], out: Path, quick: bool) -> None:
    """Every (score, d_k) at initialisation, the seeds vmapped: out/init.json."""
    import jax

    from ascent.theory.attention import attention_at_init

    start = time.perf_counter()
    batch = QUICK["batch"] if quick else BATCH
    keys = jax.vmap(jax.random.PRNGKey)(np.asarray(seeds))
    rows = []
    for d_k in QUICK["d_k"] if quick else D_K:
        for score in SCORES:

            def one(key: Any, score: str = score, d_k: int = d_k) -> Any:
                return attention_at_init(key, score, d_k, tokens=TOKENS, batch=batch)

            stats = jax.device_get(jax.jit(jax.vmap(one))(keys))
            per_seed = {f: np.asarray(getattr(stats, f)).tolist() for f in FIGURES}
            rows.append({"score": score, "d_k": d_k, **per_seed})
    figures = {"seeds": seeds, "tokens": TOKENS, "batch": batch, "rows": rows}
    write(out, "init", figures, time.perf_counter() - start)


def run_case(case: str, seeds: list[int], out: Path, quick: bool) -> None:
    """One (width, score) on RepeatPrevious, memory.py's `train` (its settings)."""
    _, w, score = case.split("-", 2)
    width = int(w.removeprefix("w"))
    overrides = {"core.kind": "transformer", "core.score": score, "core.position": "xl",
                 "core.embed_dim": width,
                 "total_steps": QUICK["steps"] if quick else ATTENTION_STEPS}  # fmt: skip
    start = time.perf_counter()
    row = train(ATTENTION_TASK, seeds, overrides)
    write(out, case, {"case": case, "width": width, "d_k": width // HEADS, "score": score,
                      **row}, time.perf_counter() - start)  # fmt: skip
    print(f"{case}: final {np.round(row['final'], 3)}", flush=True)


# --- the report -------------------------------------------------------------------


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _spread(values: list[float]) -> float:
    """max / min: how many times the figure changes over the d_k range."""
    return max(values) / max(min(values), 1e-30)


def _memory_rows() -> dict[str, list[float]]:
    """memory.md's score sweep (width 32, the same settings): finals by score."""
    import json

    path = RESULTS / "memory_attention.json"
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text())["rows"]
    return {r["label"]: r["final"] for r in rows if r["sweep"] == "score" and r["label"] in SCORES}


def report(out: Path, plot: Path) -> Section:
    init = read(out, "init")
    if init is None:
        raise FileNotFoundError(f"no {out / 'init.json'}: run the experiment first")
    by = {(r["score"], r["d_k"]): r for r in init["rows"]}
    d_ks = sorted({r["d_k"] for r in init["rows"]})

    def fig(score: str, d_k: int, field: str) -> float:
        return _mean(by[score, d_k][field])

    def pair(d_k: int, field: str, fmt: str) -> str:
        return " / ".join(f"{fig(s, d_k, field):{fmt}}" for s in SCORES)

    lines = [
        'The course gives the reason as "a stable gradient"; the mechanism, that large '
        "dot products push the softmax into regions of extremely small gradients, is "
        "Vaswani et al. 2017 (§3.2.1, footnote 4: q·k has variance d_k for components of "
        "unit variance).",
        "",
        "**At initialisation.** One head of size d_k (`MultiHeadAttention(d_k, 1)`, "
        f"LeCun-normal projections), {init['batch']} sequences of {init['tokens']} inputs "
        "x ~ N(0, I) per seed, every query seeing every key; the upstream gradient "
        "N(0, I/d_k) per token, of norm ≈ 1 at every d_k "
        f"(`ascent.theory.attention.attention_at_init`); mean of {len(init['seeds'])} seeds. "
        "Each cell is dot / scaled dot.",
        "",
        "| d_k | score std | largest weight | rows > 0.99 | entropy / log n |",
        "|---|---|---|---|---|",
    ]
    for d in d_ks:
        cells = [pair(d, "logit_std", ".2f"), pair(d, "top_weight", ".3f"),
                 pair(d, "saturated", ".0%"), pair(d, "entropy_ratio", ".3f")]  # fmt: skip
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| d_k | ‖∂L/∂q_i‖ median | ‖∂L/∂q_i‖ mean | ‖∂L/∂k_j‖ median | ‖∂L/∂k_j‖ mean "
        "| ‖∂L/∂(W_q, W_k)‖ |",
        "|---|---|---|---|---|---|",
    ]
    for d in d_ks:
        fields = ("grad_q_median", "grad_q_mean", "grad_k_median", "grad_k_mean", "grad_params")
        cells = [pair(d, f, ".3g") for f in fields]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    spreads = {(s, f): _spread([fig(s, d, f) for d in d_ks])
               for s in SCORES for f in ("grad_q_median", "grad_q_mean")}  # fmt: skip
    first, last = d_ks[0], d_ks[-1]

    def change(score: str, field: str) -> str:
        return f"×{fig(score, last, field) / fig(score, first, field):.3g}"

    lines += [
        "",
        f"From d_k = {first} to {last}, a query's gradient (median over tokens) changes "
        f"{change('scaled_dot', 'grad_q_median')} under scaled dot and "
        f"{change('dot', 'grad_q_median')} under dot; its mean "
        f"{change('scaled_dot', 'grad_q_mean')} and {change('dot', 'grad_q_mean')}. Under dot "
        f"at d_k = {last}, {fig('dot', last, 'saturated'):.0%} of the rows put more than "
        "0.99 on one key and the mean query gradient is "
        f"{fig('dot', last, 'grad_q_mean') / fig('dot', last, 'grad_q_median'):.1f} times "
        f"the median (scaled dot: "
        f"{fig('scaled_dot', last, 'grad_q_mean') / fig('scaled_dot', last, 'grad_q_median'):.1f}"
        "): a saturated row passes back almost nothing, a row near a tie between two large "
        "scores a large gradient, so the gradient is spread unevenly over the tokens.",
        "",
    ]

    learned = {(r["width"], r["score"]): r for c in _learn_files(out) if (r := read(out, c))}
    widths = sorted({w for w, _ in learned})
    gaps: dict[int, float] = {}
    if learned:
        some = next(iter(learned.values()))
        seeds = some["seeds"]
        lines += [
            f"**Learning.** PPO, transformer core, on {ATTENTION_TASK} "
            f"({some['env_steps']:,} steps, {EVAL_EPISODES} deterministic evaluation "
            "episodes per seed; return = fraction answered right, chance 0.25): "
            "benchmarks/memory.py's score sweep (`train`, Transformer-XL positions, whose "
            "position terms are divided by √d_k under both scores), at width "
            f"{' and '.join(map(str, widths))}, {HEADS} heads.",
            "",
            "| width | d_k | score | final return (mean ± std) | "
            + " | ".join(f"seed {s}" for s in seeds)
            + " | steps/s |",
            "|---|---|---|---|" + "---|" * len(seeds) + "---|",
        ]
        for w in widths:
            for s in SCORES:
                r = learned.get((w, s))
                if r is None:
                    continue
                lines.append(
                    f"| {w} | {r['d_k']} | {s} | {_mean(r['final']):.2f} ± "
                    f"{np.std(r['final']):.2f} | " + " | ".join(f"{v:.2f}" for v in r["final"])
                    + f" | {r['steps_per_second']:,.0f} |")  # fmt: skip
            if all((w, s) in learned for s in SCORES):
                dot, scaled = (_mean(learned[w, s]["final"]) for s in SCORES)
                gaps[w] = scaled - dot
        memory = _memory_rows()
        if memory:
            before = ", ".join(f"{s} {_mean(memory[s]):.2f}" for s in SCORES)
            again = [(s, learned[32, s]) for s in SCORES if (32, s) in learned]
            now = ", ".join(f"{s} {_mean(r['final']):.2f}" for s, r in again)
            alike = all(len(r["final"]) == len(memory[s]) for s, r in again)
            alike = alike and all(r["env_steps"] == ATTENTION_STEPS for _, r in again)
            same = alike and all(np.allclose(r["final"], memory[s], atol=1e-3) for s, r in again)
            here = (
                "" if not again
                else f"; here {now} (other seeds or steps)" if not alike
                else f"; here the same per seed ({now})" if same
                else f"; here {now}, not the same per seed (the code changed in between)"
            )  # fmt: skip
            lines += [
                "",
                "benchmarks/results/memory.md's score sweep ran the width-32 case before, with "
                f"the same settings and seeds: {before}{here}."
                + (f" Width {max(widths)} adds a large d_k, where the initial saturation "
                   "above is stronger." if max(widths) > 32 else ""),
            ]  # fmt: skip
        lines.append("")
    lines += [
        "Command: `python benchmarks/claims.py --only attention` "
        f"(init {init['meta']['date']}, {init['meta']['seconds']:.0f} s); seeds "
        f"{', '.join(map(str, init['seeds']))}.",
    ]
    _plot(plot, init, d_ks, learned)

    gradients = ("grad_q_median", "grad_q_mean")
    stable = all(spreads["scaled_dot", f] < spreads["dot", f] for f in gradients)
    saturates = all(fig("dot", d, "top_weight") > fig("scaled_dot", d, "top_weight")
                    for d in d_ks if d >= 64)  # fmt: skip
    init_words = (
        f"at initialisation, from d_k {first} to {last}, a query's gradient through the "
        f"softmax changes {change('scaled_dot', 'grad_q_median')} (median) and "
        f"{change('scaled_dot', 'grad_q_mean')} (mean) under scaled dot, "
        f"{change('dot', 'grad_q_median')} and {change('dot', 'grad_q_mean')} under dot, "
        f"whose rows saturate (largest weight {fig('dot', last, 'top_weight'):.2f} against "
        f"{fig('scaled_dot', last, 'top_weight'):.2f})"
    )
    learn_words = "; ".join(
        f"width {w} (d_k {w // HEADS}): scaled dot {_mean(learned[w, 'scaled_dot']['final']):.2f}"
        f", dot {_mean(learned[w, 'dot']['final']):.2f}"
        for w in gaps
    )
    better = [str(w) for w, g in gaps.items() if g > MARGIN]
    worse = [str(w) for w, g in gaps.items() if g < -MARGIN]
    learning = (
        "the learning runs are missing" if not gaps
        else f"on RepeatPrevious scaled dot learns better at every width ({learn_words})"
        if len(better) == len(gaps)
        else f"on RepeatPrevious scaled dot learns better at width {', '.join(better)} only "
        f"({learn_words})" if better
        else f"on RepeatPrevious dot learns better at width {', '.join(worse)} ({learn_words})"
        if worse
        else f"on RepeatPrevious dot learns as well ({learn_words})"
    )  # fmt: skip
    if not (stable and saturates):
        verdict = f"does not hold here: {init_words}; {learning}"
    elif gaps and len(better) == len(gaps):
        verdict = f"holds: {init_words}; {learning}"
    else:
        verdict = f"holds with a condition: {init_words}; {learning}"
    return Section(lines, verdict)


def _learn_files(out: Path) -> list[str]:
    return sorted(p.stem for p in out.glob("learn-*.json"))


def _plot(plot: Path, init: dict[str, Any], d_ks: list[int], learned: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {(r["score"], r["d_k"]): r for r in init["rows"]}
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    colours = {"dot": "tab:red", "scaled_dot": "tab:blue"}
    for s in SCORES:
        c = colours[s]
        axes[0].plot(d_ks, [np.mean(by[s, d]["top_weight"]) for d in d_ks], "o-", c=c, label=s)
        axes[0].plot(d_ks, [np.mean(by[s, d]["entropy_ratio"]) for d in d_ks], "s--", c=c,
                     alpha=0.6, label=f"{s}: entropy / log n")  # fmt: skip
        for field, style in (("grad_q_median", "o-"), ("grad_q_mean", "^--")):
            axes[1].plot(d_ks, [np.mean(by[s, d][field]) for d in d_ks], style, c=c,
                         label=f"{s}: {field.split('_')[-1]}")  # fmt: skip
    axes[0].set_title("softmax at initialisation")
    axes[0].set_ylabel("largest weight (solid), entropy / log n (dashed)")
    axes[1].set_title("‖∂L/∂q_i‖ at initialisation")
    axes[1].set_yscale("log")
    for ax in axes[:2]:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("d_k")
        ax.legend(fontsize=7)
    widths = sorted({w for w, _ in learned})
    for i, w in enumerate(widths):
        for j, s in enumerate(SCORES):
            if (w, s) not in learned:
                continue
            final = learned[w, s]["final"]
            x = i + (j - 0.5) * 0.3
            axes[2].scatter([x] * len(final), final, c=colours[s], s=18,
                            label=s if i == 0 else None)  # fmt: skip
            axes[2].plot([x - 0.1, x + 0.1], [np.mean(final)] * 2, c=colours[s])
    axes[2].axhline(0.25, c="grey", lw=0.8, ls=":")
    axes[2].set_ylim(0, 1.05)
    axes[2].set_xticks(range(len(widths)), [f"width {w}\nd_k {w // HEADS}" for w in widths])
    axes[2].set_title(f"{ATTENTION_TASK.split('/')[1]}: final return per seed")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(plot, dpi=110)
    plt.close(fig)
