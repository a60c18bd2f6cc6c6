"""Entropy regularisation (question 6): does an entropy bonus keep PPO and A2C from
converging early to a deceptive optimum?

Task: `ascent.envs.tasks.Lure` (ascent/Lure-v0), a corridor of 16 cells started in cell
1: one step left pays 0.1 and ends the episode (the lure), fourteen steps right pay 1
(return 0.87 after the step costs of 0.01). Under the uniform policy the lure's side is
the better move in the first four cells (tests/envs/test_lure.py computes Q exactly), so
the policy gradient first pushes the start towards the lure. Its length was chosen from
pilots before this experiment (8 seeds, 100k steps, greedy evaluation; lengths 12, 16,
18, 20): with no bonus PPO took the lure in 0/8, 2/8, 4/8, 8/8 seeds and A2C in 7/8 at
16; with ent_coef 0.1, PPO 0/8, 3/8, 8/8 at 16, 18, 20 and A2C 0/8 at 16. Length 16 is
the longest at which a bonus could be seen to help at all (at 20 nothing escaped).

Cases: PPO and A2C with Ascent's defaults (no preset exists for the task), 200k steps,
ent_coef 0, 0.01, 0.1 and "linear(0.1, 0)" (0.1 annealed to 0 over training: a schedule
of the update count, ascent.core.schedules); all seeds of a case in one compiled program.
Each update logs the policy's mean entropy over the rollout's states (the algorithm's
`entropy`) and the mean return of the episodes that ended in it; after training, 100
stochastic episodes per seed measure how often the policy reaches the goal.

Definitions, fixed before the data:
- a seed *collapses* when its policy's entropy falls below 0.1 nats (of ln 2 = 0.69)
  while the training return is below the midpoint between the lure's return and the
  goal's (0.485): near-deterministic and not at the goal (entropy and return averaged
  over bins of 1/200 of training); it *collapses early* when that happens within the
  first quarter of training;
- it *finds the goal* when at least half of its final stochastic episodes reach it.
The verdict counts the seeds that find the goal (one-sided Fisher exact test of more
than with no bonus), with the early collapses beside to show whether a bonus acts by
keeping the policy from collapsing.

Seeds: 20, not 5: counts of 5 cannot tell 1 seed from 4 (Fisher's exact test,
one-sided p = 0.10), while with 20, 3 against 10 is told apart (p = 0.02).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from claims_lab._cases import fresh, read, run_cases, write

NAME = "entropy"
QUESTION = 6
ORDER = 50
TITLE = "Entropy regularisation and premature convergence"
CLAIM = (
    "Entropy regularization is a technique used in reinforcement learning (RL) to encourage "
    "exploration and prevent premature convergence to suboptimal policies. … "
    "*Preventing Policy Premature Convergence:* Without sufficient exploration, the agent "
    "might converge to a suboptimal policy that appears good based on limited experience. "
    "Entropy regularization helps in maintaining some degree of randomness, allowing the "
    "agent to discover better policies over time."
)
FALSE_IF = (
    "for PPO and for A2C alike, no bonus (ent_coef 0.01, 0.1, or 0.1 annealed to 0) has "
    "significantly more seeds finding the far goal by the end than no bonus (at least half "
    "of a seed's final stochastic episodes reach it; one-sided Fisher exact test, p < 0.05 "
    "over 20 seeds) with no more seeds collapsing early (policy entropy below 0.1 nats "
    "while the training return is below the midpoint between the lure's and the goal's, "
    "within the first quarter of training)."
)
SEEDS = tuple(range(20))

ALGOS = ("ppo", "a2c")
COEFS = {"0": 0.0, "0.01": 0.01, "0.1": 0.1, "0.1→0": "linear(0.1, 0)"}
STEPS = 200_000
EPISODES = 100  # final stochastic evaluation episodes per seed
POINTS = 200  # curve bins kept per seed
EARLY = 0.25  # "early": within the first quarter of training
ENTROPY_FLOOR = 0.1  # nats: below it the policy is near-deterministic (ln 2 = 0.69)


def task() -> Any:
    from ascent.envs.tasks.lure import Lure

    return Lure()


def midpoint() -> float:
    """Halfway between the lure's return and the goal's."""
    env = task()
    return (env.lure + env.optimal_return) / 2


def binned(x: Any, points: int) -> Any:
    """[S, U] → [S, points] means over consecutive bins (NaNs ignored; U % points
    leftovers go to the last bins)."""
    import numpy as np

    x = np.asarray(x, np.float64)
    edges = np.linspace(0, x.shape[1], min(points, x.shape[1]) + 1).astype(int)
    with warnings.catch_warnings():  # a bin in which no episode ended is nan, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        bins = [np.nanmean(x[:, a:b], axis=1) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return np.stack(bins, axis=1)


def measure(algo: str, coef: str, seeds: list[int], quick: bool) -> dict[str, Any]:
    """Train `seeds` in one program; each update's entropy and training return (binned),
    then each seed's final stochastic and greedy returns."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ascent.catalog.registry import algorithm_class, build_algorithm, make_config
    from ascent.envs import make as make_env
    from ascent.train import make_loop
    from ascent.train.evaluate import Evaluator

    steps = 8_000 if quick else STEPS
    episodes = 10 if quick else EPISODES
    overrides = {"total_steps": steps, "ent_coef": COEFS[coef]}
    config = make_config(algo, task().env_id, overrides, use_preset=False)
    env = make_env(task(), n_envs=config.n_envs)
    loop = make_loop(build_algorithm(algorithm_class(algo), config, env), env)
    evaluator = Evaluator(loop)
    n_updates = config.total_updates

    def one(seed: jax.Array) -> tuple[dict, jax.Array, jax.Array]:
        state = loop.init(seed)
        state, metrics = jax.lax.scan(
            lambda s, _: loop.iterate_jax(s), state, None, length=n_updates
        )
        key = jax.random.fold_in(jax.random.PRNGKey(2_000_003), seed)
        stochastic, _ = evaluator.run_jax(state, key, episodes, False)
        greedy, _ = evaluator.run_jax(state, key, 1, True)
        return metrics, stochastic, greedy[0]

    metrics, stochastic, greedy = jax.block_until_ready(
        jax.jit(jax.vmap(one))(jnp.asarray(seeds, jnp.uint32))
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = np.asarray(metrics["episode_return_sum"]) / np.asarray(metrics["episodes"])
    edges = np.linspace(0, n_updates, min(POINTS, n_updates) + 1).astype(int)
    return {
        "algo": algo,
        "coef": coef,
        "ent_coef": COEFS[coef],
        "seeds": list(seeds),
        "steps": steps,
        "batch": config.batch_size,
        "episodes": episodes,
        "bin_end_steps": (edges[1:] * config.batch_size).tolist(),
        "entropy": binned(metrics["entropy"], POINTS).tolist(),
        "return": [[None if np.isnan(r) else r for r in row] for row in binned(returns, POINTS)],
        "final_returns": np.asarray(stochastic, np.float64).tolist(),  # [S, episodes]
        "greedy_return": np.asarray(greedy, np.float64).tolist(),
    }


def outcomes(fig: dict[str, Any]) -> dict[str, Any]:
    """Per seed: the step of the first collapse (None if none), collapsed at all and
    early, found the goal; from the kept figures, by the module docstring's definitions."""
    import numpy as np

    entropy = np.asarray(fig["entropy"], np.float64)
    returns = np.asarray(fig["return"], np.float64)  # None (no episode ended) -> nan
    ends = np.asarray(fig["bin_end_steps"])
    low = (entropy < ENTROPY_FLOOR) & (returns < midpoint())  # nan compares False
    first = [int(ends[np.argmax(row)]) if row.any() else None for row in low]
    early = np.array([f is not None and f <= EARLY * fig["steps"] for f in first])
    goal_rate = (np.asarray(fig["final_returns"]) > midpoint()).mean(axis=1)
    found = goal_rate >= 0.5
    return {
        "first_collapse": first,
        "collapsed": np.array([f is not None for f in first]),
        "early": early,
        "goal_rate": goal_rate,
        "found": found,
        "final_entropy": entropy[:, -1],
    }


def case_names() -> list[str]:
    """`<algo>-ent<coef>`, the annealed coefficient's arrow spelt `to`."""
    return [f"{a}-ent{c.replace('→', 'to')}" for a in ALGOS for c in COEFS]


def run(seeds: list[int], out: Path, quick: bool) -> None:
    """Each algorithm and coefficient in its own process (`_cases.run_cases`), two at a
    time."""
    if quick:
        fresh(out)
    seeds = seeds[:2] if quick else seeds
    run_cases("claims_lab.entropy", case_names(), seeds, out, quick)


def run_case(case: str, seeds: list[int], out: Path, quick: bool) -> None:
    algo, coef = case.split("-ent")
    start = time.perf_counter()
    figures = measure(algo, coef.replace("to", "→"), seeds, quick)
    write(out, case, figures, time.perf_counter() - start)


def report(out: Path, plot: Path) -> Any:
    import numpy as np
    from claims import Section
    from scipy.stats import fisher_exact

    figs = {}
    for algo in ALGOS:
        for coef in COEFS:
            fig = read(out, f"{algo}-ent{coef.replace('→', 'to')}")
            if fig is not None:
                figs[algo, coef] = fig
    found = {key: outcomes(fig) for key, fig in figs.items()}
    any_fig = next(iter(figs.values()))
    n = len(any_fig["seeds"])
    lines = [
        f"PPO and A2C (Ascent's defaults) on ascent/Lure-v0 (a 16-cell corridor: the lure, "
        f"0.1, one step left of the start; the goal, return 0.87, fourteen steps right), "
        f"{any_fig['steps']:,} steps, {n} seeds a case. *Collapsed early*: entropy below "
        f"{ENTROPY_FLOOR} nats with the training return below {midpoint():.3f} within the "
        f"first {EARLY:.0%} of training (*at all*: at any time); *found*: at least half of "
        f"{any_fig['episodes']} final stochastic episodes reach the goal (*goal rate*: the "
        "fraction that do). p: one-sided Fisher exact test of more seeds finding the goal "
        "than with no bonus.",
        "",
        "| algorithm | ent_coef | collapsed early | collapsed at all | found the goal "
        "| p (found > no bonus) | median goal rate | median final entropy "
        "| median greedy return |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tests: dict[tuple[str, str], float] = {}
    for (algo, coef), o in found.items():
        base = found.get((algo, "0"))
        p = "—"
        if base is not None and coef != "0":
            table = [[o["found"].sum(), (~o["found"]).sum()],
                     [base["found"].sum(), (~base["found"]).sum()]]  # fmt: skip
            tests[algo, coef] = float(fisher_exact(table, alternative="greater").pvalue)
            p = f"{tests[algo, coef]:.3f}"
        greedy = np.median(figs[algo, coef]["greedy_return"])
        lines.append(
            f"| {algo} | {coef} | {o['early'].sum()}/{n} | {o['collapsed'].sum()}/{n} "
            f"| {o['found'].sum()}/{n} | {p} | {np.median(o['goal_rate']):.2f} "
            f"| {np.median(o['final_entropy']):.3f} | {greedy:.2f} |"
        )
    lines += [
        "",
        f"Command: `python benchmarks/claims.py --only {NAME}`; seeds 0–{n - 1}; raw figures "
        f"in `benchmarks/results/claims/{NAME}/` (binned curves and final episodes per case).",
    ]
    draw(figs, found, plot)
    return Section(lines, verdict(found, tests, n))


def verdict(found: dict[tuple[str, str], Any], tests: dict[tuple[str, str], float], n: int) -> str:
    """By FALSE_IF: for each algorithm, the bonuses with significantly more seeds finding
    the goal and no more early collapses than no bonus."""

    def helps(algo: str, coef: str) -> bool:
        fewer = found[algo, coef]["early"].sum() <= found[algo, "0"]["early"].sum()
        return tests[algo, coef] < 0.05 and fewer

    helped = {a: [c for (b, c) in tests if b == a and helps(a, c)] for a in ALGOS}
    counts = "; ".join(
        f"{algo} " + ", ".join(
            f"{found[algo, c]['found'].sum()}/{n} (early collapses "
            f"{found[algo, c]['early'].sum()}) at {c}" for c in COEFS if (algo, c) in found
        )
        for algo in ALGOS
    )  # fmt: skip
    what = f"seeds finding the goal by ent_coef: {counts}"
    which = "; ".join(f"{a} with {', '.join(cs)}" for a, cs in helped.items() if cs)
    if all(helped.values()):
        return f"holds: significantly more seeds found the goal ({which}); {what}."
    if any(helped.values()):
        return (
            f"holds with a condition: significantly more found the goal only for {which}; {what}."
        )
    return f"does not hold here: no bonus had significantly more seeds find the goal; {what}."


def draw(figs: dict[tuple[str, str], Any], found: dict[tuple[str, str], Any], plot: Path) -> None:
    """Each case's policy entropy over training, one line a seed, coloured by outcome."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(COEFS), 3.4 * len(ALGOS)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(ALGOS), len(COEFS), squeeze=False, sharey=True)
    colours = {"collapsed": "tab:red", "found": "tab:green", "other": "tab:gray"}
    for row, algo in enumerate(ALGOS):
        for col, coef in enumerate(COEFS):
            ax = axes[row][col]
            if (algo, coef) not in figs:
                ax.set_visible(False)
                continue
            data, o = figs[algo, coef], found[algo, coef]
            steps = np.asarray(data["bin_end_steps"])
            for i, curve in enumerate(np.asarray(data["entropy"])):
                kind = "found" if o["found"][i] else "collapsed" if o["collapsed"][i] else "other"
                ax.plot(steps, curve, color=colours[kind], alpha=0.5, lw=0.8)
            ax.axhline(ENTROPY_FLOOR, color="k", ls="--", lw=0.8)
            ax.axvline(EARLY * data["steps"], color="k", ls=":", lw=0.8)
            n = len(data["seeds"])
            ax.set_title(f"{algo}, ent_coef {coef}: {o['early'].sum()}/{n} collapsed early, "
                         f"{o['found'].sum()}/{n} found", fontsize=9)  # fmt: skip
            ax.set_xlabel("environment steps")
            if col == 0:
                ax.set_ylabel("policy entropy (nats)")
            ax.grid(alpha=0.3)
    fig.suptitle("Policy entropy on Lure-v0 (green: found the goal; red: collapsed and did not; "
                 "grey: neither; dashed: 0.1 nats; dotted: end of the first quarter)")  # fmt: skip
    fig.tight_layout()
    fig.savefig(plot, dpi=90)
