"""Trust regions (questions 5 and 7): does a policy update inside TRPO's KL bound keep the
measured return from falling, and does PPO keep its updates near the same size?

Protocol. Every case trains on the JAX door, several seeds in one compiled program, one
update at a time, and measures each update from outside the algorithm:

- the return of the policy before and after the update, each estimated from `EPISODES`
  stochastic episodes (the policy as it acts in training) with common random numbers:
  every policy of a seed is evaluated on the same evaluation key, so the same starting
  states and the same noise for sampling actions, and the change ΔJ is averaged over
  paired episodes, with its standard error from their paired differences. An update
  *falls* when ΔJ < −2·SE and |ΔJ| exceeds 1% of the task's return scale (a fall the
  size of the noise, or a negligible one, is not counted);
- the exact KL[π_old ‖ π_new] of the update, the mean over the rollout's states of the
  two action distributions' KL (what TRPO bounds by δ; `update_kl`).

Cases, each with the algorithm's preset for the task and the same rollout size per
update for all (TRPO's: 1024 transitions on CartPole, 2048 on Pendulum):
- `trpo`: Ascent's TRPO, δ = target_kl = 0.01: natural-gradient direction, the step
  scaled to the KL bound, then the line search (Schulman et al. 2015, §6, App. C);
- `trpo-wide`: the same with a region ten times larger, δ = 0.1: whether the size of
  the region is what keeps the return from falling;
- `npg`: the same direction and step without the line search, the natural policy
  gradient with a fixed KL step (Kakade 2002), built here (`WholeStep`);
- `vpg-kl`: the plain gradient g rescaled to the same KL (½ β²·gᵀFg = δ, TRPO's
  quadratic model of the KL), no line search: TRPO's config with cg_iters = 1, whose one
  conjugate-gradient iteration returns a positive multiple of g (`WholeStep`);
- `ppo-clip`: PPO's clipped surrogate (ε 0.2; the preset's annealing of lr and ε to 0
  removed, which would shrink late updates to nothing);
- `ppo-clip-stop`: the same, its epochs stopped once the approximate KL of a minibatch
  passes 1.5 × target_kl (0.01; as Stable-Baselines3 does);
- `ppo-kl`: PPO's adaptive KL penalty, d_targ = target_kl = 0.01 (Schulman et al. 2017,
  §4: β doubles when the update's KL passes 1.5·d_targ, halves below d_targ/1.5).

Which KL Ascent's PPO logs: `approx_kl` is the k3 estimator mean((ρ − 1) − log ρ) of
KL[π_old ‖ π_θ] (Schulman 2020, "Approximating KL divergence"), taken on each minibatch
*before* its step and averaged over the update's minibatches, so it lags the KL the
update ends at; `kl` (logged with the penalty or a target_kl) is exact, over the whole
rollout after the update, as `update_kl` here. Both logged values are kept beside the
exact one. Not repeated here: TRPO against PPO for cost and final return
(benchmarks/results/trust_region.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claims_lab._cases import fresh, read, run_cases, write

NAME = "trust"
QUESTION = 5
ORDER = 40
TITLE = "Trust regions: does the return stop falling, and does PPO keep the KL?"
CLAIM = (
    "Benefits of Using Trust Regions: By ensuring the policy does not change too "
    "drastically, the algorithm prevents large deviations that could lead to instability "
    "in learning. The KL divergence constraint helps guarantee that each policy update is "
    "a small step, maintaining the consistency and reliability of improvements in policy "
    "performance. (question 5) … *Stability and Robustness:* PPO still maintains the "
    "benefits of stable policy updates by effectively controlling the update size, akin to "
    "the trust region in TRPO, thus ensuring that performance improvements are reliable. "
    "(question 7)"
)
FALSE_IF = (
    "on a task, TRPO's updates (δ = 0.01) make the measured return fall (ΔJ below −2 "
    "standard errors of the paired change and by more than 1% of the task's return scale) "
    "in more than 10% of its updates, or at least as often as TRPO's with a region ten "
    "times larger (δ = 0.1) where that one falls at all (question 5: improvement not "
    "consistent, or not kept so by the constraint); or PPO's exact KL per update passes "
    "1.5 × its target (0.01) in more than half of its updates under the clip and under the "
    "adaptive penalty alike (question 7: the update's size not controlled). The plain "
    "gradient step of TRPO's size in KL (`vpg-kl`) and the natural gradient without the "
    "line search (`npg`) are reported beside, to tell the step's size from TRPO's "
    "direction and line search."
)
SEEDS = (0, 1, 2, 3, 4)

DELTA = 0.01  # TRPO's δ, PPO's target_kl and d_targ: one KL size for every case
FALL_SE = 2.0  # a fall: ΔJ < −2·SE(ΔJ) ...
FALL_SCALE = 0.01  # ... and |ΔJ| > 1% of the task's return scale


@dataclass(frozen=True)
class Task:
    env: str
    steps: int  # training steps of the full run
    episodes: int  # evaluation episodes per policy
    scale: float  # the task's return scale: a fall must be more than 1% of it
    rollout: dict[str, int]  # n_envs, n_steps: TRPO's preset, given to every case
    ppo: dict[str, Any] = field(default_factory=dict)  # PPO's preset, without annealing


TASKS = {
    "CartPole": Task("gymnax/CartPole-v1", 100_000, 500, 500.0, {"n_envs": 2, "n_steps": 512},
                     {"lr": 1e-3, "clip_eps": 0.2}),
    "Pendulum": Task("gymnax/Pendulum-v1", 200_000, 256, 1500.0, {"n_envs": 8, "n_steps": 256}),
}  # fmt: skip

# case -> (algorithm, its overrides beside the task's, which update)
UPDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "trpo": ("trpo", {"target_kl": DELTA}),
    "trpo-wide": ("trpo", {"target_kl": 10 * DELTA}),
    "npg": ("npg", {"target_kl": DELTA}),
    "vpg-kl": ("npg", {"target_kl": DELTA, "cg_iters": 1}),
    "ppo-clip": ("ppo", {}),
    "ppo-clip-stop": ("ppo", {"target_kl": DELTA}),
    "ppo-kl": ("ppo", {"objective": "kl_penalty", "target_kl": DELTA}),
}
LOGGED = ("approx_kl", "kl", "kl_coef", "clipfrac", "minibatches_applied",
          "line_search_accepted", "surrogate_improvement", "entropy")  # fmt: skip


def whole_step_class() -> type:
    """`WholeStep`: TRPO's update with the actor's step taken whole (imported late: a
    case's process sets XLA's flags before JAX starts)."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    from ascent.algos.sequence import flatten_time
    from ascent.algos.trpo import TRPO
    from ascent.core.losses import masked_mean, normalize_advantages
    from ascent.core.returns import gae
    from ascent.core.trust_region import conjugate_gradient, fisher_vector_product, max_step

    class WholeStep(TRPO):
        """θ_new = θ_old + β·s with s ≈ (F + damping·I)⁻¹g by `cg_iters` conjugate-gradient
        iterations (one: a positive multiple of g itself) and β = sqrt(2δ / sᵀFs), the
        step whose quadratic model of the KL is δ; no line search, so the step is taken
        whatever the surrogate and the true KL do (Kakade 2002's natural gradient with a
        fixed KL step; with cg_iters = 1 the plain gradient of the same KL size). The
        critic is fitted as TRPO's, by TRPO's own update."""

        def update(self, state: Any, rollout: Any, key: jax.Array) -> tuple[Any, dict]:
            stepped, metrics = super().update(state, rollout, key)
            cfg = self.config
            critic = state.params["critic"]
            advantages = gae(
                rewards=rollout.rewards,
                values=self.critic.apply(critic, rollout.obs),
                next_values=self.critic.apply(critic, rollout.next_obs),
                terminated=rollout.terminated,
                truncated=rollout.truncated,
                gamma=cfg.gamma,
                gae_lambda=cfg.gae_lambda,
            )
            obs = jax.tree.map(flatten_time, rollout.obs)
            actions, old_log_probs = flatten_time(rollout.actions), flatten_time(rollout.log_probs)
            adv = flatten_time(advantages)
            if cfg.normalize_advantages:
                adv = normalize_advantages(adv)
            ent_coef = self.ent_coef(state.updates)
            flat_old, unravel = ravel_pytree(state.params["actor"])
            old_dist = jax.lax.stop_gradient(self.actor.apply(state.params["actor"], obs))

            def surrogate(flat: jax.Array) -> jax.Array:
                dist = self.actor.apply(unravel(flat), obs)
                ratio = jnp.exp(dist.log_prob(actions) - old_log_probs)
                return masked_mean(ratio * adv) + ent_coef * masked_mean(dist.entropy())

            def mean_kl(flat: jax.Array) -> jax.Array:
                return masked_mean(old_dist.kl(self.actor.apply(unravel(flat), obs)))

            def fvp(v: jax.Array) -> jax.Array:
                return fisher_vector_product(mean_kl, flat_old, v, damping=cfg.cg_damping)

            direction, _ = conjugate_gradient(
                fvp, jax.grad(surrogate)(flat_old), iters=cfg.cg_iters, tol=cfg.cg_tol
            )
            flat_new = flat_old + max_step(direction, fvp(direction), cfg.target_kl) * direction
            params = {**stepped.params, "actor": unravel(flat_new)}
            kept = {k: v for k, v in metrics.items() if k in ("value_loss", "entropy")}
            kept.update(
                kl=mean_kl(flat_new),
                surrogate_improvement=surrogate(flat_new) - surrogate(flat_old),
            )
            return stepped._replace(params=params), kept

    return WholeStep


def policy_dist(algorithm: Any, algo_state: Any, obs: Any) -> Any:
    """The action distribution of a TRPO-like (separate actor) or PPO policy at obs."""
    if hasattr(algorithm, "actor"):
        return algorithm.actor.apply(algo_state.params["actor"], obs)
    return algorithm.model.forward(algo_state.params, None, obs, None)[1]


def update_kl(algorithm: Any, old: Any, new: Any, obs: Any) -> Any:
    """Mean over the states `obs` [T, N, ...] of KL[π_old(·|s) ‖ π_new(·|s)], exact from
    the two distributions (the quantity TRPO's constraint bounds: Schulman et al. 2015,
    eq. 12)."""
    import jax.numpy as jnp

    return jnp.mean(policy_dist(algorithm, old, obs).kl(policy_dist(algorithm, new, obs)))


def settings(case: str, task: Task, quick: bool) -> tuple[str, dict[str, Any], int, int]:
    """(algorithm, overrides, updates, evaluation episodes) of a case on a task."""
    algo, extra = UPDATES[case]
    overrides = {**task.rollout, **extra}
    if algo == "ppo":
        overrides.update(task.ppo)
    batch = task.rollout["n_envs"] * task.rollout["n_steps"]
    updates = 3 if quick else task.steps // batch
    overrides["total_steps"] = updates * batch  # the schedules' clock: the updates run here
    return algo, overrides, updates, 32 if quick else task.episodes


def measure(case: str, task_name: str, seeds: list[int], quick: bool) -> dict[str, Any]:
    """Train `seeds` one update at a time in one compiled program; each update's return
    before and after (paired), exact KL and logged statistics, [S, U] each."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ascent.catalog.registry import algorithm_class, build_algorithm, make_config
    from ascent.envs import make as make_env
    from ascent.train import make_loop
    from ascent.train.evaluate import Evaluator
    from ascent.train.loop import split_iteration_key

    task = TASKS[task_name]
    algo, overrides, n_updates, episodes = settings(case, task, quick)
    config = make_config("trpo" if algo == "npg" else algo, task.env, overrides)
    env = make_env(task.env, n_envs=config.n_envs)
    cls = whole_step_class() if algo == "npg" else algorithm_class(algo)
    algorithm = build_algorithm(cls, config, env)
    loop = make_loop(algorithm, env)
    evaluator = Evaluator(loop)

    def one(seed: jax.Array) -> tuple[jax.Array, dict]:
        state = loop.init(seed)
        # common random numbers: every policy of this seed meets the same episodes' noise
        eval_key = jax.random.fold_in(jax.random.PRNGKey(1_000_003), seed)
        first, _ = evaluator.run_jax(state, eval_key, episodes, False)

        def iteration(carry: tuple, _: None) -> tuple[tuple, dict]:
            state, before = carry
            key, act_keys, env_keys, learn_key = split_iteration_key(state.key, loop.n_steps)
            state, rollout = loop.collector.collect(state, act_keys, env_keys)
            new, metrics = loop.learn(state._replace(key=key), rollout, learn_key)
            obs = loop.normalizer.obs_for_policy(state.norm, rollout.obs)
            after, _ = evaluator.run_jax(new, eval_key, episodes, False)
            change = after - before  # paired episodes [E]
            row = {
                "return": after.mean(),
                "change": change.mean(),
                "change_se": change.std(ddof=1) / math.sqrt(episodes),
                "exact_kl": update_kl(algorithm, state.algo, new.algo, obs),
                **{k: metrics[k] for k in LOGGED if k in metrics},
            }
            return (new, after), row

        _, rows = jax.lax.scan(iteration, (state, first), None, length=n_updates)
        return first.mean(), rows

    first, rows = jax.block_until_ready(jax.jit(jax.vmap(one))(jnp.asarray(seeds, jnp.uint32)))
    figures = {k: np.asarray(v, np.float64).tolist() for k, v in rows.items()}
    return {
        "case": case,
        "task": task_name,
        "env": task.env,
        "algo": algo,
        "overrides": overrides,
        "seeds": list(seeds),
        "episodes": episodes,
        "updates": n_updates,
        "batch": config.n_envs * config.n_steps,
        "first_return": np.asarray(first).tolist(),
        **figures,
    }


def case_names(quick: bool) -> list[str]:
    """`<task>-<case>`: every case on both tasks; the quick run CartPole's."""
    tasks = ["CartPole"] if quick else list(TASKS)
    return [f"{t}-{c}" for t in tasks for c in UPDATES]


CASES = tuple(case_names(quick=False))  # a full run's cases, each out/CASE.json


def run(seeds: list[int], out: Path, quick: bool) -> None:
    """Each task and case in its own process (`_cases.run_cases`), two at a time."""
    if quick:
        fresh(out)
    seeds = seeds[:1] if quick else seeds
    run_cases("claims_lab.trust", case_names(quick), seeds, out, quick)


def run_case(case: str, seeds: list[int], out: Path, quick: bool) -> None:
    task, name = case.split("-", 1)
    start = time.perf_counter()
    figures = measure(name, task, seeds, quick)
    write(out, case, figures, time.perf_counter() - start)


def load(out: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The kept figures, by task and case."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for task in TASKS:
        for case in UPDATES:
            fig = read(out, f"{task}-{case}")
            if fig is not None:
                found.setdefault(task, {})[case] = fig
    return found


def falls(fig: dict[str, Any]) -> Any:
    """[S, U] bool: the updates whose measured return fell (below −2 SE of the paired
    change, and by more than 1% of the task's return scale)."""
    import numpy as np

    change, se = np.asarray(fig["change"]), np.asarray(fig["change_se"])
    return (change < -FALL_SE * se) & (-change > FALL_SCALE * TASKS[fig["task"]].scale)


def summary(fig: dict[str, Any]) -> dict[str, float]:
    """One case's figures pooled over seeds and updates."""
    import numpy as np

    fell = falls(fig)
    change = np.asarray(fig["change"])
    kl = np.asarray(fig["exact_kl"]) / DELTA
    drops = -change[fell]
    return {
        "n": fell.size,
        "falls": fell.mean(),
        "falls_lo": fell.mean(axis=1).min(),
        "falls_hi": fell.mean(axis=1).max(),
        "negative": (change < 0).mean(),
        "drop_median": float(np.median(drops)) if drops.size else 0.0,
        "drop_max": float(drops.max()) if drops.size else 0.0,
        "kl_median": float(np.median(kl)),
        "kl_over": (kl > 1).mean(),
        "kl_over15": (kl > 1.5).mean(),
        "kl_max": float(kl.max()),
        "final": float(np.median(np.asarray(fig["return"])[:, -1])),
    }


def fall(size: float) -> str:
    return f"{size:.1f}" if size else "—"


def report(out: Path, plot: Path) -> Any:
    from claims import Section

    found = load(out)
    lines = [
        "Every update measured from outside the algorithm: the return of the policy before "
        "and after it, each from stochastic episodes with common random numbers (every "
        "policy of a seed meets the same episodes' noise), and the exact "
        "KL[π_old ‖ π_new] over the rollout's states. An update *falls* when the paired "
        f"change ΔJ < −{FALL_SE:g} SE and |ΔJ| > {FALL_SCALE:.0%} of the task's return scale "
        f"(CartPole 500, Pendulum 1500). δ = {DELTA} for TRPO (0.1 for `trpo-wide`), its "
        "variants and PPO's targets; each algorithm's preset for the task, one rollout size "
        "for all (TRPO's), PPO without its preset's annealing. `vpg-kl`: the plain "
        "gradient scaled so that the quadratic model of its KL is δ, no line search; `npg`: "
        "the natural gradient the same way (TRPO without its line search). The module's "
        "docstring has the rest.",
        "",
    ]
    verdicts = {}
    for task, cases in found.items():
        any_fig = next(iter(cases.values()))
        lines += [
            f"**{task}** ({any_fig['env']}; seeds {any_fig['seeds']}, each "
            f"{any_fig['updates']} updates of {any_fig['batch']} transitions; "
            f"{any_fig['episodes']} evaluation episodes per policy)",
            "",
            "| case | falls (of updates; seeds' range) | ΔJ < 0 | median fall | worst fall "
            f"| KL/δ median (δ = {DELTA}) | KL > δ | KL > 1.5δ | max KL/δ "
            "| final return (median) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        stats = {case: summary(fig) for case, fig in cases.items()}
        for case, s in stats.items():
            lines.append(
                f"| {case} | {s['falls']:.1%} ({s['falls_lo']:.0%}–{s['falls_hi']:.0%}) "
                f"| {s['negative']:.0%} | {fall(s['drop_median'])} | {fall(s['drop_max'])} "
                f"| {s['kl_median']:.2f} | {s['kl_over']:.0%} | {s['kl_over15']:.0%} "
                f"| {s['kl_max']:.1f} | {s['final']:.1f} |"
            )
        lines += ["", *estimator_lines(cases), ""]
        verdicts[task] = stats
    draw(found, plot)
    lines += [
        f"Command: `python benchmarks/claims.py --only {NAME}`; seeds {list(SEEDS)} (a "
        "JAX-door program per task and case, several seeds in it); raw "
        f"figures in `benchmarks/results/claims/{NAME}/` (one JSON per task and case).",
    ]
    return Section(lines, verdict(verdicts))


def estimator_lines(cases: dict[str, dict[str, Any]]) -> list[str]:
    """What PPO logs against the exact KL of its updates."""
    import numpy as np

    rows = []
    for case, fig in cases.items():
        if "approx_kl" not in fig:
            continue
        exact = np.asarray(fig["exact_kl"])
        ratio = np.median(np.asarray(fig["approx_kl"]) / exact)
        logged = ""
        if "kl" in fig:
            gap = np.max(np.abs(np.asarray(fig["kl"]) - exact) / exact)
            logged = f"; its logged `kl` within {gap:.1%} of it"
        rows.append(f"{case}: logged `approx_kl` / exact KL, median {ratio:.2f}{logged}")
    if not rows:
        return []
    return ["PPO's logged KL against the exact KL of each update: " + "; ".join(rows) + "."]


def verdict(stats: dict[str, dict[str, dict[str, float]]]) -> str:
    """The sentence, by FALSE_IF: question 5's part on each task, then question 7's."""
    false, untested, parts, kl_parts = [], [], [], []
    for task, s in stats.items():
        if "trpo" not in s:
            continue
        trpo = s["trpo"]["falls"]
        wide = s["trpo-wide"]["falls"] if "trpo-wide" in s else None
        false.append(trpo > 0.10 or (wide is not None and wide > 0 and trpo >= wide))
        untested.append(not wide)  # a larger region that never falls tests nothing
        beside = [f"{s[c]['falls']:.0%} {label}" for c, label in (
            ("trpo-wide", "with δ = 0.1"), ("vpg-kl", "for the plain gradient of the same KL"),
            ("npg", "for the natural gradient without line search"), ("ppo-clip", "for PPO-clip"),
        ) if c in s]  # fmt: skip
        parts.append(f"{task} {trpo:.0%} (against {', '.join(beside)})")
        if "ppo-clip" in s and "ppo-kl" in s:
            clip, pen = s["ppo-clip"]["kl_over15"], s["ppo-kl"]["kl_over15"]
            false.append(clip > 0.5 and pen > 0.5)
            kl_parts.append(f"{task} {clip:.0%} (clip) and {pen:.0%} (adaptive penalty)")
    if not parts:
        return "does not hold here: no figures for TRPO."
    kl_text = "; ".join(kl_parts) or "no measured runs"
    what = (f"TRPO's updates lowered the measured return in {'; '.join(parts)} of updates; "
            f"PPO's exact KL passed 1.5 × its target in {kl_text} of its updates")  # fmt: skip
    if any(false):
        return f"does not hold here: {what}."
    if any(untested):
        return (
            f"holds with a condition: improvement was consistent, but a ten times larger "
            f"region did not fall either, so the bound's size was not tested; {what}."
        )
    return f"holds: {what}."


def draw(found: dict[str, dict[str, dict[str, Any]]], plot: Path) -> None:
    """Per task: the measured return over updates (median over seeds), the fraction of
    updates that fell (each seed a dot), and the exact KL of each update over δ."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4 * len(found)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(found), 3, squeeze=False)
    for row, (task, cases) in enumerate(found.items()):
        curve, bars, kls = axes[row]
        names = list(cases)
        for i, (case, data) in enumerate(cases.items()):
            returns = np.asarray(data["return"])
            first = np.asarray(data["first_return"])[:, None]
            line = np.median(np.concatenate([first, returns], axis=1), axis=0)
            curve.plot(np.arange(line.size), line, label=case)
            fell = falls(data).mean(axis=1)
            bars.bar(i, fell.mean(), color=f"C{i}", alpha=0.6)
            bars.scatter(np.full(fell.size, i), fell, color="k", s=10, zorder=3)
            kls.boxplot(np.asarray(data["exact_kl"]).ravel() / DELTA, positions=[i],
                        widths=0.6, showfliers=True)  # fmt: skip
        curve.set_xlabel("update")
        curve.set_ylabel(f"{task}: measured return (median of seeds)")
        curve.legend(fontsize=8)
        bars.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
        bars.set_ylabel("fraction of updates whose return fell")
        kls.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
        kls.set_yscale("log")
        for level in (1.0, 1.5):
            kls.axhline(level, color="r", ls="--" if level == 1 else ":", lw=1)
        kls.set_ylabel("exact KL of the update / δ")
        for ax in (curve, bars, kls):
            ax.grid(alpha=0.3)
    fig.suptitle("Trust regions: monotonic improvement measured, and the size of each update")
    fig.tight_layout()
    fig.savefig(plot, dpi=90)
