"""Relative positions generalise to longer sequences (issue 34, item 7; the course's
question 11).

PPO with a transformer core (the presets of the memory tasks: 1 layer, 2 heads, width 32,
GRU gates, scaled dot scores) trained on episodes of 32 steps, with a memory of 32 steps
(`core.memory_len`: every step sees its whole episode), then evaluated, its weights
unchanged, on episodes of 32, 64 and 128 steps, for each positional scheme of
`ascent.nn.attention.POSITIONS` but "none": absolute (sinusoidal, learned) and relative
(`RELATIVE`: shaw, xl, rope, alibi). Two tasks whose length is a constructor option
(`ascent.envs.tasks.repeat`, `length`):

- ascent/RepeatPrevious-v0 (k = 4): the answer is the symbol 4 steps back, a fixed
  *distance*;
- ascent/RepeatFirst-v0: the answer is the episode's first symbol, a fixed *position*.

Two windows at evaluation, since "longer" means two things with a sliding memory:

- **episode**: the memory is as long as the evaluated episode (`core.memory_len` = its
  length), so every step sees all of it: positions *and distances* beyond those of
  training (the usual length-generalisation test, Press et al. 2022);
- **training** (RepeatPrevious only): the memory of training, 32 steps, so every query
  sees the distances it saw in training and only the positions are new (a relative
  scheme computes the same function; on RepeatFirst the first step falls out of this
  window, so nothing could answer there).

The learned table has 512 rows (the scheme's default), more than the longest episode:
its rows past 31 are never trained. Shaw's clipped distances reach 16 (its default), so
its rows for ±16 are trained (distances 16 … 31 share them) and carry every longer
distance. Each seed's final policy answers 500 deterministic episodes per length; the
figure is the fraction of steps answered right, per step (chance 0.25), split into the
steps within the training length and the steps past it. 200,000 steps (the presets'),
5 seeds, each (task, scheme) in its own process (`_cases.run_cases`).

    .venv/bin/python benchmarks/claims.py --only positions
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from claims import Section

from claims_lab._cases import fresh, read, run_cases, write

NAME = "positions"
QUESTION = 11
ORDER = 70
TITLE = "Relative positions generalise to longer sequences"
CLAIM = (
    "Improved Generalization: Relative positional encoding allows the model to generalize "
    "better to input sequences of varying lengths, since it focuses on the relative "
    "distances among tokens, not their absolute positions."
)
FALSE_IF = (
    "on episodes 2× and 4× the training length, with the attention window covering the "
    "whole episode, the relative schemes (Shaw, XL, RoPE, ALiBi) lose as much accuracy as "
    "the absolute ones (sinusoidal, learned), or more, on the steps past the training "
    "length, counted from each scheme's own accuracy within the training length (mean of "
    "5 seeds; a scheme below 0.9 at the training length has not learned the task and "
    "says nothing about generalising it). It holds only with a condition if relative "
    "schemes lose less on one task (a fixed distance to recall, or a fixed position) and "
    "not on the other."
)
SEEDS = (0, 1, 2, 3, 4)

TASKS = {"RepeatPrevious": "ascent/RepeatPrevious-v0", "RepeatFirst": "ascent/RepeatFirst-v0"}
ABSOLUTE = ("sinusoidal", "learned")
RELATIVE = ("shaw", "xl", "rope", "alibi")
KINDS = (("relative", RELATIVE), ("absolute", ABSOLUTE))
TRAIN_LENGTH = 32
LENGTHS = (32, 64, 128)  # evaluated: 1×, 2×, 4×
STEPS = 200_000
EVAL_EPISODES = 500
CASES = tuple(f"{task}-{p}" for task in TASKS for p in (*ABSOLUTE, *RELATIVE))
LEARNED = 0.9  # accuracy within the training length that counts as having learned the task
MARGIN = 0.05  # a difference of accuracy smaller than this is "as much"
QUICK: dict[str, Any] = {"positions": ("learned", "rope"), "lengths": (32, 64), "steps": 1_600,
                         "episodes": 50, "seeds": 2}  # fmt: skip


def windows(task: str) -> tuple[str, ...]:
    """The evaluation windows of a task (see the module's docstring)."""
    return ("episode", "training") if task == "RepeatPrevious" else ("episode",)


def run(seeds: list[int], out: Path, quick: bool) -> None:
    from ascent.nn.attention import RELATIVE as REGISTERED

    assert set(RELATIVE) == set(REGISTERED), "the relative schemes are the registry's"
    seeds = seeds[: QUICK["seeds"]] if quick else seeds
    if quick:
        fresh(out)
    quick_cases = [f"{task}-{p}" for task in TASKS for p in QUICK["positions"]]
    run_cases("claims_lab.positions", quick_cases if quick else list(CASES), seeds, out, quick)


def overrides(position: str, steps: int) -> dict[str, Any]:
    return {"core.kind": "transformer", "core.score": "scaled_dot", "core.position": position,
            "core.memory_len": TRAIN_LENGTH, "total_steps": steps}  # fmt: skip


def make_task(task: str, length: int) -> Any:
    from ascent.envs.tasks import RepeatFirst, RepeatPrevious

    return {"RepeatPrevious": RepeatPrevious, "RepeatFirst": RepeatFirst}[task](length=length)


def run_case(case: str, seeds: list[int], out: Path, quick: bool) -> None:
    """Train one (task, scheme) on episodes of TRAIN_LENGTH, evaluate on every length."""
    from ascent.train.seeds import train_seeds

    task, position = case.split("-", 1)
    settings = overrides(position, QUICK["steps"] if quick else STEPS)
    episodes = QUICK["episodes"] if quick else EVAL_EPISODES
    start = time.perf_counter()
    result = train_seeds("ppo", make_task(task, TRAIN_LENGTH), seeds, settings,
                         eval_episodes=episodes)  # fmt: skip
    evals = []
    for length in QUICK["lengths"] if quick else LENGTHS:
        for window in windows(task):
            if window == "training" and length == TRAIN_LENGTH:
                continue  # the same as the episode window
            memory = length if window == "episode" else TRAIN_LENGTH
            accuracy = accuracy_by_step(result.states, seeds, make_task(task, length), memory,
                                        settings, episodes)  # fmt: skip
            kept = [[None if np.isnan(v) else round(float(v), 4) for v in row] for row in accuracy]
            evals.append({"length": length, "window": window, "memory_len": memory,
                          "accuracy": kept})  # fmt: skip
            print(f"{case}: length {length}, {window} window: {np.nanmean(accuracy):.3f}",
                  flush=True)  # fmt: skip
    figures = {
        "case": case, "task": task, "position": position, "seeds": seeds,
        "overrides": settings, "env_steps": int(result.env_steps[-1]),
        "train_length": TRAIN_LENGTH, "episodes": episodes,
        "final": result.mean_eval_return.tolist(),  # train_seeds' own evaluation
        "steps_per_second": int(result.env_steps[-1]) * len(seeds) / result.train_seconds,
        "evals": evals,
    }  # fmt: skip
    write(out, case, figures, time.perf_counter() - start)


def accuracy_by_step(
    states: Any, seeds: list[int], env: Any, memory_len: int, settings: dict[str, Any],
    episodes: int,
) -> np.ndarray:  # fmt: skip
    """[S, length]: for each seed's trained state, the fraction of `episodes` deterministic
    episodes of `env` answered right at each step (NaN at the steps with no answer).

    The policy is PPO's of `settings` with `core.memory_len` = memory_len (its weights do
    not depend on it), acting step by step as in training; all episodes start together
    and last `env.length` steps, so one scan of that length runs them.
    """
    import jax
    import jax.numpy as jnp

    from ascent.catalog.registry import algorithm_class, build_algorithm, make_config
    from ascent.envs import env_action
    from ascent.train import make_loop
    from ascent.train.acting import next_starts

    config = make_config("ppo", env.env_id, {**settings, "core.memory_len": memory_len})
    loop = make_loop(build_algorithm(algorithm_class("ppo"), config, env), env)

    def one(state: Any, key: jax.Array) -> jax.Array:
        key, reset_key = jax.random.split(key)
        obs, env_state = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))
        policy_state, starts = loop.acting.initial(episodes)

        def step(carry: tuple, key: jax.Array) -> tuple[tuple, jax.Array]:
            obs, env_state, policy_state, starts = carry
            act_key, env_key = jax.random.split(key)
            action, _, policy_state = loop.acting.step(
                state.algo, state.norm, policy_state, starts, obs, act_key, True
            )
            obs, env_state, reward, terminated, truncated, _ = jax.vmap(env.step)(
                jax.random.split(env_key, episodes), env_state,
                env_action(action, env.action_space),
            )  # fmt: skip
            starts = next_starts(starts, terminated | truncated)
            return (obs, env_state, policy_state, starts), reward > 0  # [E]

        carry = (obs, env_state, policy_state, starts)
        _, correct = jax.lax.scan(step, carry, jax.random.split(key, env.length))  # [T, E]
        return correct.mean(axis=1)

    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, jnp.uint32) + 2_000_003)
    accuracy = np.asarray(jax.jit(jax.vmap(one))(states, keys), np.float64)  # [S, T]
    accuracy[:, : env.length - env.answers] = np.nan  # the first k steps have no answer
    return accuracy


# --- the report -------------------------------------------------------------------


def _split(accuracy: list[list[float | None]], train_length: int) -> tuple[np.ndarray, ...]:
    """Per seed: accuracy within the training length, and past it (NaN if none)."""
    a = np.asarray(accuracy, np.float64)  # [S, T], None -> nan
    within = np.nanmean(a[:, :train_length], axis=1)
    past = np.nanmean(a[:, train_length:], axis=1) if a.shape[1] > train_length else None
    return within, past


def _cell(values: np.ndarray | None) -> str:
    return "—" if values is None else f"{np.mean(values):.2f} ± {np.std(values):.2f}"


def report(out: Path, plot: Path) -> Section:
    found = {(r["task"], r["position"]): r for p in sorted(out.glob("*-*.json"))
             if (r := read(out, p.stem)) and "task" in r}  # fmt: skip
    if not found:
        raise FileNotFoundError(f"no case files under {out}: run the experiment first")
    some = next(iter(found.values()))
    train_length, seeds = some["train_length"], some["seeds"]
    lengths = sorted({e["length"] for r in found.values() for e in r["evals"]})
    longer = [n for n in lengths if n > train_length]
    schemes = [p for p in (*ABSOLUTE, *RELATIVE) if any(p == q for _, q in found)]

    def evaluation(r: dict[str, Any], length: int, window: str) -> dict[str, Any] | None:
        window = window if length > train_length else "episode"
        chosen = (e for e in r["evals"] if e["length"] == length and e["window"] == window)
        return next(chosen, None)

    def within(r: dict[str, Any]) -> np.ndarray:
        e = evaluation(r, train_length, "episode")
        return _split(e["accuracy"], train_length)[0]

    def past(r: dict[str, Any], length: int, window: str) -> np.ndarray | None:
        e = evaluation(r, length, window)
        return None if e is None else _split(e["accuracy"], train_length)[1]

    lines = [
        f"PPO, transformer core (the memory tasks' preset: width 32, 2 heads, GRU gates, "
        f"scaled dot), trained on episodes of {train_length} steps with a memory of "
        f"{train_length} ({some['env_steps']:,} steps), then evaluated unchanged on "
        f"episodes of {', '.join(map(str, lengths))} steps, {some['episodes']} "
        "deterministic episodes per seed and length. Figures: the fraction of steps "
        f"answered right (chance 0.25) within the first {train_length} steps, and past "
        f"them; mean ± std of {len(seeds)} seeds. Window *episode*: the memory covers the "
        "whole evaluated episode (new positions and new distances); *training*: the "
        f"memory of {train_length} steps of training (new positions only, every distance "
        "seen in training). RepeatPrevious recalls a fixed distance (4 back), "
        "RepeatFirst a fixed position (the first step).",
        "",
    ]
    verdicts: dict[str, dict[str, Any]] = {}
    for task in TASKS:
        header = [f"past {n // train_length}× (episode)" for n in longer]
        if "training" in windows(task):
            header += [f"past {n // train_length}× (training window)" for n in longer]
        lines += [
            f"**{task}**", "",
            "| scheme | kind | within the training length | " + " | ".join(header) + " |",
            "|---|---|---|" + "---|" * len(header),
        ]  # fmt: skip
        drops: dict[str, float] = {}
        learned_within: dict[str, float] = {}
        for p in schemes:
            r = found.get((task, p))
            if r is None:
                continue
            cells = [_cell(past(r, n, "episode")) for n in longer]
            if "training" in windows(task):
                cells += [_cell(past(r, n, "training")) for n in longer]
            kind = "relative" if p in RELATIVE else "absolute"
            lines.append(f"| {p} | {kind} | {_cell(within(r))} | " + " | ".join(cells) + " |")
            w = float(np.mean(within(r)))
            learned_within[p] = w
            tail = past(r, longer[-1], "episode") if longer else None
            if w >= LEARNED and tail is not None:
                drops[p] = w - float(np.mean(tail))
        lines.append("")
        verdicts[task] = {"drops": drops, "within": learned_within}
    first = next(iter(found.values()))
    check = max(abs(float(np.mean(r["final"]) - np.mean(within(r)))) for r in found.values())
    lines += [
        "Check: the return of `train_seeds`' own evaluation at the training length (other "
        f"episodes) differs from the figure within the training length by at most {check:.3f}.",
        f"Longest evaluation: {longer[-1] if longer else train_length} steps. A scheme "
        f"counts as having learned a task at ≥ {LEARNED} within the training length; its "
        "loss is that figure minus its accuracy past the training length at the longest "
        "length (episode window).",
        "",
        f"Command: `python benchmarks/claims.py --only positions` ({first['meta']['date']}, "
        f"{sum(r['meta']['seconds'] for r in found.values()):.0f} s for the "
        f"{len(found)} cases); seeds {', '.join(map(str, seeds))}.",
    ]
    _plot(plot, found, train_length)
    return Section(lines, _verdict(verdicts, longer[-1] // train_length if longer else 1))


def _verdict(verdicts: dict[str, dict[str, Any]], times: int) -> str:
    """The verdict from each task's losses (FALSE_IF): relative against absolute schemes,
    among those that learned the task at the training length."""
    said, holds, against, uncompared, kept = [], [], [], [], []
    for task, v in verdicts.items():
        drops, within = v["drops"], v["within"]
        loss = {kind: [d for p, d in drops.items() if p in schemes]
                for kind, schemes in KINDS}  # fmt: skip
        if loss["relative"] and loss["absolute"]:
            r, a = float(np.mean(loss["relative"])), float(np.mean(loss["absolute"]))
            (holds if r + MARGIN < a else against if a + MARGIN < r else []).append(task)
            each = {kind: ", ".join(f"{p} {d:.2f}" for p, d in drops.items() if p in schemes)
                    for kind, schemes in KINDS}  # fmt: skip
            said.append(f"on {task} the relative schemes lose {r:.2f} past the training "
                        f"length at {times}× ({each['relative']}) and the absolute ones "
                        f"{a:.2f} ({each['absolute']})")  # fmt: skip
            continue
        uncompared.append(task)
        if loss["relative"] and float(np.mean(loss["relative"])) < MARGIN:
            kept.append(task)  # relative schemes keep their accuracy; no absolute one learned
        missing = [kind for kind in ("relative", "absolute") if not loss[kind]]
        best = {kind: max((w for p, w in within.items() if (p in RELATIVE) == (kind == "relative")),
                          default=float("nan")) for kind in missing}  # fmt: skip
        which = " nor ".join(f"{kind} (best {best[kind]:.2f})" for kind in missing)
        others = ", ".join(f"{p} {d:.2f}" for p, d in drops.items())
        others = f" (the others' losses: {others})" if others else ""
        said.append(f"on {task} no {which} scheme learned the task at the training length, "
                    f"so no comparison{others}")  # fmt: skip
    text = "; ".join(said)
    if holds and not against and not uncompared:
        return f"holds: {text}"
    if holds or kept:
        where = ", ".join([*holds, *kept])
        return f"holds with a condition: on {where} only; {text}"
    return f"does not hold here: {text}"


def _plot(plot: Path, found: dict[tuple[str, str], dict[str, Any]], train_length: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(task, w) for task in TASKS for w in windows(task)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    colours = dict(zip((*ABSOLUTE, *RELATIVE), plt.get_cmap("tab10").colors, strict=False))
    for ax, (task, window) in zip(axes[0], panels, strict=True):
        for (t, p), r in found.items():
            if t != task:
                continue
            longest = max((e for e in r["evals"] if e["window"] == window or
                           e["length"] == train_length), key=lambda e: e["length"])  # fmt: skip
            a = np.asarray(longest["accuracy"], np.float64)
            ax.plot(np.arange(a.shape[1]), np.mean(a, axis=0), c=colours[p],
                    ls="--" if p in ABSOLUTE else "-", label=p)  # fmt: skip
        ax.axvline(train_length - 0.5, c="grey", lw=0.8)
        ax.axhline(0.25, c="grey", lw=0.8, ls=":")
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("step of the episode")
        ax.set_ylabel("fraction answered right")
        ax.set_title(f"{task}, {window} window")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(plot, dpi=110)
    plt.close(fig)
