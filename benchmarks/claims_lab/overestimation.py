"""Overestimation and TD3's fix: DDPG's and TD3's critics against the true value of the
states their policies visit, over training (Fujimoto et al. 2018, fig. 1), and which of
TD3's three changes does the work (their table 2's ablations).

Variants, each with the same settings on a task: DDPG; TD3; TD3 without clipped
double-Q (`clipped_double_q=False`: the target bootstraps from Q'_1 alone), without
target policy smoothing (`target_policy_noise=0`), without delayed updates
(`policy_delay=1`). The settings are Fujimoto et al.'s §6.1 — 400-300 networks,
learning rate 1e-3, minibatches of 100, Gaussian exploration noise 0.1, τ 0.005 —
with the discount and the random warm-up of each task's preset:

- Pendulum-v1, every variant: the ddpg/td3 Pendulum preset (the same for both: γ 0.98,
  10,000 random steps first), 30,000 steps, measured every 1,000. Trained on the JAX door
  (`gymnax/Pendulum-v1`, the same dynamics: a random 200-step trajectory of both agrees
  to 7e-5, float32 against float64), measured on Gymnasium's Pendulum-v1.
- Hopper-v5, DDPG and TD3 (the ablations on Pendulum only: at about 7 ms of one core
  per update, 5 variants × 5 seeds of Hopper do not fit the lab's budget): γ 0.99,
  10,000 random steps, 100,000 steps, measured every 10,000 — the first tenth of
  Fujimoto et al.'s fig. 1, where their DDPG estimate already leaves the true value.

A measurement, at fixed steps of training: 10 episodes of the current deterministic
policy μ (no exploration noise) from fixed start seeds, on the task with its time limit
lengthened by `horizon(γ, 0.05)` steps. For every state s_t of those episodes before the
usual time limit, the critic's estimate Q_1(s_t, μ(s_t)) (DDPG's one critic, TD3's
first, the one its actor follows) and the state's true value estimated by its observed
discounted return G_t (`ascent.theory.monte_carlo_values`): the critics are trained to
bootstrap through time limits, so they estimate the infinite-horizon value, and the
lengthened episodes make the tail the recording misses weigh at most γ^horizon ≤ 0.05
(u_t ≤ 0.05 for every state kept; a terminal step, Hopper's fall, misses nothing). The
figure is the average over those states, of the estimate and of the true value, as
Fujimoto et al. plot it (they average 10,000 states from the replay buffer, each valued
by Monte-Carlo rollouts of the current policy; here the states are the policy's own).
Both the policy and the environment are deterministic after the start, so G_t is the
value of s_t up to the missed tail.

    .venv/bin/python benchmarks/claims.py --only overestimation           # all runs, report
    .venv/bin/python benchmarks/claims.py --only overestimation --quick   # smoke run

Each (task, variant, seed) is a case in its own process (`_cases.run_cases`, `claims.py
--jobs` at a time), writing its JSON when it ends; a case whose JSON exists is not run
again (but in a quick run), so an interrupted experiment continues where it stopped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from claims import Section

from claims_lab._cases import fresh, run_cases, write

NAME = "overestimation"
QUESTION = 4
ORDER = 20
TITLE = "Overestimation and TD3's fix"
CLAIM = (
    "Twin Delayed Deep Deterministic Policy Gradient (TD3): A variant of DDPG that "
    "mitigates overestimation biases by using two critics and clipped double Q-learning. "
    "It also delays policy updates to stabilize training."
)
FALSE_IF = (
    "on both tasks, TD3's bias — its critic's estimate Q(s, μ(s)) minus the Monte-Carlo "
    "value of the same states, averaged over the states of a measurement and over the "
    "last third of training, then over seeds — is not below DDPG's by more than twice "
    "the standard error of the difference, or DDPG's bias is not above zero by that "
    "margin (no overestimation to mitigate). The attribution to clipped double "
    "Q-learning is false where TD3 without it does not overestimate more than TD3 by that "
    "margin. The second sentence (the delay stabilises training) is false where TD3 "
    "without the delay has final returns at least as high, and falls between "
    "measurements no larger, than TD3's."
)
SEEDS = (0, 1, 2, 3, 4)

TOLERANCE = 0.05  # the most weight of a state's return a recording may miss (u_t)
EPISODES = 10  # per measurement
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "ddpg": ("ddpg", {}),
    "td3": ("td3", {}),
    "td3 − CDQ": ("td3", {"clipped_double_q": False}),
    "td3 − TPS": ("td3", {"target_policy_noise": 0.0}),
    "td3 − DP": ("td3", {"policy_delay": 1}),
}
# Fujimoto et al. 2018 §6.1 (SB3's buffer 1M and τ 0.005 otherwise, as theirs)
PAPER = {"action_noise": "normal", "noise_std": 0.1, "lr": 1e-3, "hidden": (400, 300),
         "minibatch_size": 100, "train_freq": 1, "gradient_steps": 1}  # fmt: skip
TASKS: dict[str, dict[str, Any]] = {
    "Pendulum-v1": {  # ddpg.toml's and td3.toml's Pendulum-v1 γ and warm-up, 30k steps
        "train_env": "gymnax/Pendulum-v1",
        "settings": {**PAPER, "gamma": 0.98, "buffer_size": 200_000, "learning_starts": 10_000},
        "steps": 30_000,
        "every": 1_000,
        "variants": tuple(VARIANTS),
    },
    "Hopper-v5": {
        "train_env": "Hopper-v5",
        "settings": {**PAPER, "learning_starts": 10_000},
        "steps": 100_000,
        "every": 10_000,
        "variants": ("ddpg", "td3"),
    },
}
QUICK = {"steps": 1_500, "every": 500, "learning_starts": 500, "episodes": 2}  # one seed


def case_name(task: str, variant: str, seed: int) -> str:
    return f"{task}__{variant.replace(' − ', '-no-').lower()}__seed{seed}"


def case_names(seeds: list[int]) -> list[str]:
    return [case_name(task, v, s) for task, spec in TASKS.items() for v in spec["variants"]
            for s in seeds]  # fmt: skip


CASES = tuple(case_names(list(SEEDS)))  # a full run's cases, each out/CASE.json


def run(seeds: list[int], out: Path, quick: bool) -> None:
    if quick:
        fresh(out)
        seeds = seeds[:1]
    longest_first = sorted(case_names(seeds), key=lambda c: -TASKS[c.split("__")[0]]["steps"])
    run_cases("claims_lab.overestimation", longest_first, seeds, out, quick)


def run_case(case: str, seeds: list[int], out: Path, quick: bool) -> None:
    """Train one (task, variant, seed), measuring at every `every` steps; writes its JSON."""
    import gymnasium as gym

    import ascent
    from ascent.theory import horizon

    task, variant, seed = next((t, v, s) for t, spec in TASKS.items()
                               for v in spec["variants"] for s in seeds
                               if case_name(t, v, s) == case)  # fmt: skip
    algo, changes = VARIANTS[variant]
    spec = TASKS[task]
    settings = {**spec["settings"], **changes, "total_steps": spec["steps"]}
    every, episodes = spec["every"], EPISODES
    if quick:
        settings.update(total_steps=QUICK["steps"], learning_starts=QUICK["learning_starts"])
        every, episodes = QUICK["every"], QUICK["episodes"]
    agent = ascent.make(algo, env=spec["train_env"], seed=seed, **settings)
    limit = gym.spec(task).max_episode_steps
    extra = horizon(agent.config.gamma, TOLERANCE)
    env = gym.make(task, max_episode_steps=limit + extra)
    measure = Measure(agent, env, limit, extra)
    start = time.perf_counter()
    points = [measure(seed, episodes)]
    while agent.env_steps < settings["total_steps"]:
        agent.learn(min(agent.env_steps + every, settings["total_steps"]), progress=False)
        points.append(measure(seed, episodes))
        last = points[-1]
        print(f"{task} {variant} seed {seed}: {last['steps']:,} steps, Q {last['q']:.1f}, "
              f"true {last['true']:.1f}, return {last['return']:.1f}", flush=True)  # fmt: skip
    wall = time.perf_counter() - start
    figures = {
        "task": task,
        "train_env": spec["train_env"],
        "variant": variant,
        "algo": algo,
        "seed": seed,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "episodes": episodes,
        "eval_time_limit": limit + extra,
        "tolerance": TOLERANCE,
        "wall_seconds": wall,
        "points": points,
    }
    agent.close()
    env.close()
    write(out, case, figures, wall)


class Measure:
    """The critic's estimate and the true value, averaged over the states of `episodes`
    deterministic episodes of the agent's current policy (module docstring)."""

    def __init__(self, agent: Any, env: Any, limit: int, extra: int):
        import jax

        from ascent.nn import rescale_action

        algorithm = agent.algorithm
        if agent.config.normalize_obs:
            raise SystemExit("the measurement reads raw observations: normalize_obs must be off")
        self.agent, self.env, self.limit, self.length = agent, env, limit, limit + extra
        self.gamma = agent.config.gamma
        low, high = algorithm.low, algorithm.high
        self.act = jax.jit(lambda actor, obs: rescale_action(
            algorithm.actor.apply(actor, obs), low, high))  # fmt: skip

        def estimates(params: Any, obs: jax.Array) -> jax.Array:
            """Every critic's Q(s, μ(s)) [critics, L]."""
            return algorithm.critic.apply(
                params.critic, obs, algorithm.actor.apply(params.actor, obs)
            )

        self.estimates = jax.jit(estimates)

    def episode(self, start_seed: int) -> dict[str, Any]:
        import numpy as np

        params = self.agent.state.algo
        obs, _ = self.env.reset(seed=start_seed)
        seen, rewards, terminated, truncated = [], [], [], []
        while True:
            seen.append(obs)
            action = np.asarray(self.act(params.actor, obs[None].astype(np.float32)))[0]
            obs, reward, term, trunc, _ = self.env.step(action)
            rewards.append(float(reward))
            terminated.append(bool(term))
            truncated.append(bool(trunc))
            if term or trunc:
                break
        n = len(rewards)
        padded = np.zeros((self.length, *seen[0].shape), np.float32)  # one shape: one compile
        padded[:n] = np.asarray(seen)
        q = np.asarray(self.estimates(params, padded))[:, :n]
        return {"q": q, "rewards": np.asarray(rewards), "terminated": np.asarray(terminated),
                "truncated": np.asarray(truncated)}  # fmt: skip

    def __call__(self, seed: int, episodes: int) -> dict[str, Any]:
        import numpy as np

        from ascent.theory import monte_carlo_values

        q, q_min, true, returns = [], [], [], []
        for e in range(episodes):
            ep = self.episode(start_seed=10_000 * (seed + 1) + e)  # the same starts every time
            mc = monte_carlo_values(
                rewards=ep["rewards"][:, None],
                terminated=ep["terminated"][:, None],
                truncated=ep["truncated"][:, None],
                gamma=self.gamma,
            )
            g, unseen = np.asarray(mc.returns[:, 0]), np.asarray(mc.unseen[:, 0])
            keep = (np.arange(len(g)) < self.limit) & (unseen <= TOLERANCE + 1e-6)
            q.append(ep["q"][0][keep])
            q_min.append(ep["q"].min(axis=0)[keep])
            true.append(g[keep])
            returns.append(float(ep["rewards"][: self.limit].sum()))  # the task's own episode
        q, q_min, true = (np.concatenate(x) for x in (q, q_min, true))
        return {"steps": int(self.agent.env_steps), "q": float(q.mean()),
                "q_min": float(q_min.mean()), "true": float(true.mean()), "states": int(q.size),
                "return": float(np.mean(returns)), "returns": returns}  # fmt: skip


# --- report ---------------------------------------------------------------------------


def load(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def summary(runs: list[dict[str, Any]], task: str, variant: str) -> dict[str, Any] | None:
    """Per seed: the bias (estimate − true value) averaged over the last third of the
    measurements, the final return and the largest fall of the return between two
    measurements; the curves, for the plot."""
    import numpy as np

    mine = [r for r in runs if r["task"] == task and r["variant"] == variant]
    if not mine:
        return None
    bias, q, true, final, fall, curves = [], [], [], [], [], []
    for r in sorted(mine, key=lambda r: r["seed"]):
        pts = r["points"]
        late = pts[len(pts) - max(1, len(pts) // 3) :]
        bias.append(np.mean([p["q"] - p["true"] for p in late]))
        q.append(np.mean([p["q"] for p in late]))
        true.append(np.mean([p["true"] for p in late]))
        rets = np.asarray([p["return"] for p in pts])
        final.append(rets[-1])
        fall.append(float(np.max(np.maximum.accumulate(rets) - rets)))  # the worst drawdown
        curves.append(pts)
    return {"seeds": [r["seed"] for r in sorted(mine, key=lambda r: r["seed"])],
            "bias": np.asarray(bias), "q": np.asarray(q), "true": np.asarray(true),
            "final": np.asarray(final), "fall": np.asarray(fall), "curves": curves,
            "wall": float(np.mean([r["wall_seconds"] for r in mine])),
            "steps": mine[0]["settings"]["total_steps"]}  # fmt: skip


def below(a: Any, b: Any) -> bool:
    """Whether the mean of `a` is below the mean of `b` by more than twice the standard
    error of the difference of the means (independent seeds)."""
    import numpy as np

    se = np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)) if len(a) > 1 else 0.0
    return bool(np.mean(b) - np.mean(a) > 2 * se)


def report(out: Path, plot: Path) -> Section:
    runs = load(out)
    lines = [
        "Critic estimate Q(s, μ(s)) (DDPG's critic, TD3's first) against the true value "
        "of the same states: each state's discounted return under the current "
        "deterministic policy, observed in evaluation episodes whose time limit is "
        f"lengthened so that the tail a state's return misses weighs at most {TOLERANCE} "
        "(`ascent.theory.monte_carlo_values`); averaged over every state before the usual "
        "time limit, as Fujimoto et al. 2018 (fig. 1) average their states. The bias is "
        "estimate − true value, averaged over the last third of the measurements; the "
        "fall is the largest drop of the evaluation return from its best so far.",
        "",
    ]
    found: dict[str, dict[str, Any]] = {}
    for task in TASKS:
        rows = {v: summary(runs, task, v) for v in VARIANTS}
        rows = {v: s for v, s in rows.items() if s is not None}
        if not rows:
            continue
        found[task] = rows
        first = next(iter(rows.values()))
        lines += [
            f"**{task}**, {first['steps']:,} steps, seeds {first['seeds']}:",
            "",
            "| variant | bias (mean ± sd) | per seed | estimate | true value | final return "
            "| largest fall | wall-clock a run |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for v, s in rows.items():
            lines.append(
                f"| {v} | {s['bias'].mean():.1f} ± {s['bias'].std():.1f} | "
                + ", ".join(f"{b:.1f}" for b in s["bias"])
                + f" | {s['q'].mean():.1f} | {s['true'].mean():.1f} | "
                f"{s['final'].mean():.1f} ± {s['final'].std():.1f} | {s['fall'].mean():.1f} | "
                f"{s['wall']:.0f} s |"
            )
        lines.append("")
    used = {r["task"]: r["settings"] for r in runs if r["variant"] == "ddpg"}
    settings = "; ".join(f"{task} {s}" for task, s in used.items())
    lines += [
        f"Settings: {settings} (Ascent's defaults otherwise); TD3 the same, its ablations "
        "changing only the named field.",
        "",
        "`python benchmarks/claims.py --only overestimation`",
    ]
    draw(found, plot)
    return Section(lines, verdict(found))


def verdict(found: dict[str, dict[str, Any]]) -> str:
    """The claim's three parts, each where it is tested (FALSE_IF): TD3 overestimates
    less than an overestimating DDPG (every task); thanks to clipped double-Q (where the
    ablation ran); the delay stabilises training (where its ablation ran)."""
    import numpy as np

    told, mitigated, parts_fail, unclear = [], [], [], []
    for task, rows in found.items():
        if "ddpg" not in rows or "td3" not in rows:
            continue
        d, t = rows["ddpg"]["bias"], rows["td3"]["bias"]
        over = below(np.zeros_like(d), d)
        mitigated.append(over and below(t, d))
        part = (f"on {task} DDPG's critic is off by {d.mean():+.1f} and TD3's by {t.mean():+.1f}"
                f"{'' if over else ' (DDPG does not overestimate beyond noise)'}")  # fmt: skip
        if "td3 − CDQ" in rows:
            cdq = below(t, rows["td3 − CDQ"]["bias"])
            parts_fail += [] if cdq else ["clipped double-Q"]
            part += (f"; without clipped double-Q TD3's bias is "
                     f"{rows['td3 − CDQ']['bias'].mean():+.1f} "
                     f"({'more' if cdq else 'not clearly more'} than TD3's)")  # fmt: skip
        others = [v for v in ("td3 − TPS", "td3 − DP") if v in rows and below(t, rows[v]["bias"])]
        if others:
            part += f"; removing {', '.join(v.split(' − ')[1] for v in others)} also raises it"
        if "td3 − DP" in rows:
            dp, full = rows["td3 − DP"], rows["td3"]
            steadier = (dp["final"].mean() < full["final"].mean()
                        or dp["fall"].mean() > full["fall"].mean())  # fmt: skip
            parts_fail += [] if steadier else ["the delay"]
            # FALSE_IF's letter, then beyond the seeds' noise (2 standard errors)
            clear = below(dp["final"], full["final"]) or below(full["fall"], dp["fall"])
            unclear += [] if clear or not steadier else ["the delay"]
            part += (f"; without the delay the final return is {dp['final'].mean():.0f} against "
                     f"{full['final'].mean():.0f}, the largest fall {dp['fall'].mean():.0f} "
                     f"against {full['fall'].mean():.0f}"
                     f"{'' if clear else ' (both within 2 standard errors)'}")  # fmt: skip
        told.append(part)
    if not mitigated:
        return "does not hold here: no task has both DDPG's and TD3's runs yet"
    if all(mitigated) and not parts_fail and not unclear:
        head = "holds"
    elif any(mitigated):
        head = "holds with a condition"  # on one task only, or a part of it fails or is noise
    else:
        head = "does not hold here"
    if parts_fail:
        told.append(f"the data do not show the part of {' and '.join(parts_fail)}")
    if unclear:
        told.append(f"the part of {' and '.join(unclear)} passes the test written before the "
                    "data (False if, above) by its letter only: its differences lie within "
                    "the seeds' noise")  # fmt: skip
    return f"{head}: " + "; ".join(told) + "."


def draw(found: dict[str, dict[str, Any]], plot: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if not found:
        return
    fig, axes = plt.subplots(len(found), 2, figsize=(11, 3.6 * len(found)), squeeze=False)
    colours = dict(zip(VARIANTS, ["C3", "C0", "C1", "C2", "C4"], strict=True))
    for row, (task, rows) in zip(axes, found.items(), strict=True):
        late = []
        for v, s in rows.items():
            steps = np.asarray([p["steps"] for p in s["curves"][0]])
            n = min(len(c) for c in s["curves"])
            q = np.asarray([[p["q"] for p in c[:n]] for c in s["curves"]])
            true = np.asarray([[p["true"] for p in c[:n]] for c in s["curves"]])
            if v in ("ddpg", "td3"):
                row[0].plot(steps[:n], q.mean(0), color=colours[v], label=f"{v} estimate")
                row[0].plot(steps[:n], true.mean(0), color=colours[v], ls="--",
                            label=f"{v} true value")  # fmt: skip
            bias = q - true
            row[1].plot(steps[:n], bias.mean(0), color=colours[v], label=v)
            row[1].fill_between(steps[:n], bias.min(0), bias.max(0), color=colours[v], alpha=0.12)
            late.append(bias[:, n - max(1, n // 3) :])
        # the scale of the last third, the bias's window: an untrained critic's error
        # (Pendulum's true value -340 against an estimate near 0) would flatten the rest
        low, high = min(b.min() for b in late), max(b.max() for b in late)
        pad = 0.1 * (high - low) + 1e-6
        row[1].set_ylim(min(low, 0.0) - pad, high + pad)
        row[0].set_title(f"{task}: value estimate and true value (seed mean)")
        row[1].set_title(f"{task}: estimate − true value (mean, seeds' range)")
        row[1].set_ylabel("y scaled to the last third of training")
        row[1].axhline(0.0, color="k", lw=0.6)
        for ax in row:
            ax.set_xlabel("environment steps")
            ax.legend(fontsize=7)
    fig.tight_layout()
    plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(plot, dpi=110)
    plt.close(fig)
