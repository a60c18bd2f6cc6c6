"""The course's claims about teams of agents, each as a measured experiment.

    .venv/bin/python benchmarks/marl_claims.py --only channel     # run, then report
    .venv/bin/python benchmarks/marl_claims.py --phase report     # tables, plots from out/

- **channel**: does the listener of MPE's speaker-listener need the speaker's messages?
  MAPPO (the preset of ascent/catalog/presets/mappo.toml, 5M steps) on
  jaxmarl/simple_speaker_listener_v4, 5 seeds, with the channel and with it cut
  (`ascent.envs.multiagent.CutChannel`: the listener's 3 message entries are always 0;
  the global state the critic reads during training is left whole). Each seed's final
  policy is evaluated deterministically over 100 episodes on the compiled door. A seed
  with messages passes when its per-agent return is above the mean of the cut seeds by
  half of what messages are worth to scripted agents (marl_baselines.md: the listener
  steered to the landmark named, against steered to the centroid every step); the
  anchors' margin of 10 (shared/MARL-ANCHORS.md) is reported beside it.

- **tarmac**: can the team learn its own channel? The same speaker-listener task with
  the environment's channel cut (as above), MAPPO whose actors talk through learned
  targeted attention (`messages="attention"`, TarMAC-style: the speaker's message and
  signature, the listener's query, all trained by the policy loss) against the same
  network with every message zeroed (`messages="cut"`); 5 seeds, 5M steps, the preset.
- **credit**: which learners find the optimum of Claus & Boutilier's repeated matrix
  games — climbing (optimum 11 a round, 275 an episode of 25; traps 7 and 5) and penalty
  with k = −100 (optimum 10, 250; the safe action 2, 50)? IPPO, MAPPO, COMA, VDN,
  QMIX and MADDPG, 5 seeds each, one budget and network for all (CREDIT_SETTINGS); each seed's
  final greedy policy plays one deterministic episode (the games have no randomness).
- **critic**: independent (IPPO) against centralised (MAPPO) critics on cooperative
  tasks whose partners keep changing while they learn: the matrix games above and the
  MPE runs of benchmarks/marl.py (read from results/marl.json, not rerun).
- **selfplay**: exploitability over training of a softmax policy trained by policy
  gradient in self-play (`ascent.theory.games.self_play`) on rock-paper-scissors and a
  biased version (Nash (1/4, 1/2, 1/4)), computed exactly at every iteration, for the
  policy being trained and for the average of its past policies: against itself as it is
  now ("latest") and against a pool of 100 past selves spanning the whole run ("pool"),
  with and without an entropy bonus; 5 seeds, 5000 iterations of 64 games, lr 0.1.

- **tag**: team against team on simple_tag (three predators, one prey; compiled door):
  the teams take turns training with IPPO (the MPE preset, γ 0.9) against the other team,
  whose agents are played by a frozen policy drawn each episode from a pool
  (`ascent.marl.selfplay.AgainstPool`): only its latest generation ("latest", plain
  self-play) or every generation so far, the untrained one included ("pool"); 5 seeds,
  6 generations of 200,000 steps per team. Then every generation's predators play every
  generation's prey (200 episodes each): a cross-play table per seed.

Each case trains its seeds in one compiled program (`ascent.train.seeds.train_seeds`) in
its own process, two at a time, restarted if XLA hangs (`processes.run_watched`).
Returns are per agent (an agent's own reward summed over its episode, averaged over
agents), the convention of marl_baselines.md. Writes benchmarks/results/marl_claims.md,
.json and one plot per experiment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from processes import run_watched

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "marl_claims"  # each case's figures, committed: the report is rebuilt from them
SEEDS = (0, 1, 2, 3, 4)
EVAL_EPISODES = 100
CURVE_POINTS = 200
SPEAKER_LISTENER = "jaxmarl/simple_speaker_listener_v4"
MESSAGE_DIMS = (8, 9, 10)  # the listener's [velocity 2, landmarks 6, message 3]
MARGIN = 10.0

CREDIT_ALGOS = ("ippo", "mappo", "coma", "vdn", "qmix", "maddpg")
CREDIT_GAMES = {"climbing": ("ascent/Climbing-v0", 275.0, 175.0),  # (id, optimum, best trap)
                "penalty": ("ascent/Penalty-v0", 250.0, 50.0)}  # fmt: skip
CREDIT_SETTINGS = {"total_steps": 400_000, "n_envs": 16, "n_steps": 25, "hidden": (32, 32)}
PPO_SETTINGS = {"minibatch_size": 100}  # ippo and mappo: 4 minibatches of a 400-step rollout

CASES = {
    "channel": ("channel-messages", "channel-cut"),
    "tarmac": ("tarmac-attention", "tarmac-cut"),
    "credit": tuple(f"credit-{g}-{a}" for g in CREDIT_GAMES for a in CREDIT_ALGOS),
    "selfplay": ("selfplay",),
    "tag": ("tag-latest", "tag-pool"),
}
SELFPLAY = {"iterations": 5000, "batch": 64, "lr": 0.1, "pool_size": 100, "pool_every": 50}
TAG = "jaxmarl/simple_tag_v3"
TAG_TEAMS = {"predators": ("adversary_0", "adversary_1", "adversary_2"), "prey": ("agent_0",)}
TAG_ALGO = {"gamma": 0.9}  # beside the IPPO preset of MPE
TAG_RUN = {"generations": 6, "steps_per_turn": 200_000, "eval_episodes": 200}
SELFPLAY_RUNS = [(opponent, ent) for opponent in ("latest", "pool") for ent in (0.0, 0.1)]


def run_selfplay(seeds: list[int]) -> None:
    """Every (game, opponent, entropy) of the selfplay experiment, the seeds vmapped;
    exploitability curves written to results/marl_claims/selfplay.json."""
    import jax
    import numpy as np

    from ascent.theory.games import BIASED_RPS, ROCK_PAPER_SCISSORS, self_play

    figures: dict[str, Any] = {"seeds": seeds, "settings": SELFPLAY, "runs": []}
    keys = jax.vmap(jax.random.PRNGKey)(np.asarray(seeds))
    for game in (ROCK_PAPER_SCISSORS, BIASED_RPS):
        for opponent, ent in SELFPLAY_RUNS:
            run = jax.jit(jax.vmap(lambda k, g=game, o=opponent, e=ent: self_play(
                g, k, opponent=o, ent_coef=e, **SELFPLAY)))  # fmt: skip
            curves = jax.device_get(run(keys))
            figures["runs"].append({
                "game": game.name, "opponent": opponent, "ent_coef": ent,
                **thinned({"current": curves.current, "average": curves.average}),
                "final_average": np.asarray(curves.final_average).tolist(),
            })  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "selfplay.json").write_text(json.dumps(figures))


def thinned(curves: dict[str, Any]) -> dict[str, Any]:
    """Curves [seeds, iterations] kept at CURVE_POINTS iterations (the last included),
    rounded to 6 decimals, with the iterations they were taken at (1-based)."""
    import numpy as np

    n = np.asarray(next(iter(curves.values()))).shape[1]
    at = np.unique(np.linspace(0, n - 1, CURVE_POINTS).round().astype(int))
    kept = {k: np.round(np.asarray(v)[:, at], 6).tolist() for k, v in curves.items()}
    return {"iterations": (at + 1).tolist(), **kept}


def run_tag(case: str, seeds: list[int], steps: int | None) -> None:
    """Predators and prey of simple_tag take turns training (IPPO, the MPE preset) against
    the other team's pool (`ascent.marl.selfplay.AgainstPool`): its latest policy only
    (tag-latest) or every generation so far (tag-pool); then every generation's predators
    play every generation's prey (`play`), written to results/marl_claims/<case>.json.
    `steps`: training steps per turn instead of TAG_RUN's (a quick check of the code)."""
    from ascent.catalog.registry import preset

    # γ 0.9: at the preset's 0.99 the predators' critics diverged against frozen prey
    # (values near 600 for returns near 3: they drift off across the unbounded arena, and
    # each episode's last step bootstraps from a final observation no value is fitted on)
    settings = {**preset("ippo", "jaxmarl/simple_spread_v3"), **TAG_ALGO, "total_steps": 10**9}
    turn = steps or TAG_RUN["steps_per_turn"]
    figures: dict[str, Any] = {
        "case": case,
        "seeds": seeds,
        "settings": {**TAG_RUN, "steps_per_turn": turn},
        "algo_settings": settings,
        "runs": [],
    }
    start = time.perf_counter()
    for seed in seeds:
        grid = tag_seed(case.removeprefix("tag-"), seed, settings, turn)
        figures["runs"].append({"seed": seed, "cross_play": grid.tolist()})
        print(f"{case} seed {seed}: {time.perf_counter() - start:.0f} s", flush=True)
    figures["wall_seconds"] = time.perf_counter() - start
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{case}.json").write_text(json.dumps(figures))


def tag_seed(mode: str, seed: int, settings: dict[str, Any], turn: int) -> Any:
    """One seed of the tag experiment: the cross-play table [G + 1, G + 1] of predator
    generations (rows) against prey generations (columns), the predators' return."""
    import jax
    import numpy as np

    import ascent
    from ascent.envs import make
    from ascent.marl.selfplay import AgainstPool, acting, play, stack_pool, with_pool

    env = make(TAG)
    generations = TAG_RUN["generations"]
    slots = generations + 1  # the pool's size K: every generation and the first policies
    rows = {name: [env.agents.index(a) for a in team] for name, team in TAG_TEAMS.items()}
    other = {"predators": "prey", "prey": "predators"}
    # each team's algorithm, built once to give the other team's opponents their acting
    shells = {n: ascent.make("ippo", env=AgainstPool.idle(env, t), seed=seed, **settings)
              for n, t in TAG_TEAMS.items()}  # fmt: skip
    act = {n: acting(shells[n].algorithm, shells[n].state.algo) for n in TAG_TEAMS}
    snapshots = {n: [shells[n].state.algo.params] for n in TAG_TEAMS}

    def pool(name: str) -> Any:
        past = snapshots[name]
        if mode == "latest":
            return stack_pool([past[-1]] * slots)
        return stack_pool([past[i % len(past)] for i in range(slots)])

    agents = {n: ascent.make("ippo", env=AgainstPool(env, t, act[other[n]], pool(other[n])),
                             seed=seed + 1000 * (n == "prey"), **settings)
              for n, t in TAG_TEAMS.items()}  # fmt: skip
    for _ in range(generations):
        for name, agent in agents.items():  # predators first, then prey
            agent.state = with_pool(agent.state, pool(other[name]))
            agent.learn(agent.env_steps + turn, progress=False)
            snapshots[name].append(agent.state.algo.params)

    def score(predators: Any, prey: Any, key: jax.Array) -> jax.Array:
        teams = [(rows["predators"], act["predators"], predators),
                 (rows["prey"], act["prey"], prey)]  # fmt: skip
        return play(env, teams, key, TAG_RUN["eval_episodes"])[0]

    table = jax.jit(jax.vmap(jax.vmap(score, (None, 0, None)), (0, None, None)))
    grid = table(stack_pool(snapshots["predators"]), stack_pool(snapshots["prey"]),
                 jax.random.PRNGKey(seed))  # fmt: skip
    return np.asarray(grid)


def make_case_env(case: str) -> Any:
    from ascent.envs import make
    from ascent.envs.multiagent import CutChannel

    if case == "channel-messages":
        return make(SPEAKER_LISTENER)
    if case in ("channel-cut", "tarmac-attention", "tarmac-cut"):
        return CutChannel(make(SPEAKER_LISTENER), "listener_0", MESSAGE_DIMS)
    raise SystemExit(f"unknown case {case}")


def case_setup(case: str) -> tuple[str, Any, dict[str, Any], int]:
    """(algorithm, environment, settings, evaluation episodes) of a case."""
    from ascent.catalog.registry import preset

    if case.startswith(("channel-", "tarmac-")):
        # by id: a cut environment has its own, with no preset
        settings = preset("mappo", SPEAKER_LISTENER)
        if case.startswith("tarmac-"):
            settings["messages"] = case.removeprefix("tarmac-")
        return "mappo", make_case_env(case), settings, EVAL_EPISODES
    _, game, algo = case.split("-")
    settings = {**CREDIT_SETTINGS, **(PPO_SETTINGS if algo in ("ippo", "mappo") else {})}
    return algo, CREDIT_GAMES[game][0], settings, 1


def run_case(case: str, seeds: list[int], steps: int | None) -> None:
    """Train `seeds` on the case's environment in one program, evaluate each, and write
    results/marl_claims/<case>.json."""
    import numpy as np

    from ascent.runtime import enable_compile_cache
    from ascent.train.seeds import train_seeds

    enable_compile_cache()
    if case == "selfplay":
        run_selfplay(seeds)
        return
    if case.startswith("tag-"):
        run_tag(case, seeds, steps)
        return
    algo, env, overrides, episodes = case_setup(case)
    if steps is not None:
        overrides["total_steps"] = steps
    start = time.perf_counter()
    result = train_seeds(algo, env, seeds, overrides, eval_episodes=episodes,
                         use_preset=False)  # fmt: skip
    wall = time.perf_counter() - start
    every = max(1, len(result.env_steps) // CURVE_POINTS)
    figures = {
        "case": case,
        "algo": algo,
        "seeds": seeds,
        "steps": overrides["total_steps"],
        "wall_seconds": wall,
        "train_seconds": result.train_seconds,
        "compile_seconds": result.compile_seconds,
        "curve_steps": result.env_steps[every - 1 :: every].tolist(),
        "curve": result.episode_return[:, every - 1 :: every].tolist(),
        "eval": result.mean_eval_return.tolist(),
        "eval_by_agent": np.asarray(result.eval_agent_returns).mean(axis=1).tolist(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{case}.json").write_text(json.dumps(figures))


def report_channel() -> tuple[list[str], dict[str, Any]]:
    import numpy as np

    talk, cut = (json.loads((OUT / f"{c}.json").read_text()) for c in CASES["channel"])
    with_msg, without = np.asarray(talk["eval"]), np.asarray(cut["eval"])
    scripted = json.loads((RESULTS / "marl_baselines.json").read_text())["tasks"]
    policies = scripted["simple_speaker_listener_v4"]["policies"]
    heard, unheard = policies["heuristic"]["mean"], policies["no_message_centroid"]["mean"]
    ceiling = heard - unheard  # what messages are worth to scripted agents
    bar = without.mean() + ceiling / 2
    passed = int((with_msg >= bar).sum())
    anchor_passed = int((with_msg >= without.mean() + MARGIN).sum())
    by_agent = {c["case"]: np.asarray(c["eval_by_agent"]).mean(0).round(2).tolist()
                for c in (talk, cut)}  # fmt: skip
    lines = [
        "## Speaker-listener with and without the message channel",
        "",
        f"MAPPO, {talk['steps']:,} steps, {len(talk['seeds'])} seeds each; per-agent return "
        f"of each seed's final policy ({EVAL_EPISODES} deterministic episodes, compiled "
        "door). Cut: the listener's 3 message entries are always 0.",
        "",
        "| channel | per seed | mean ± sd | speaker, listener (mean) | all seeds' wall-clock |",
        "|---|---|---|---|---|",
    ]
    for name, c, x in (("messages", talk, with_msg), ("cut", cut, without)):
        lines.append(f"| {name} | " + ", ".join(f"{v:.2f}" for v in x)
                     + f" | {x.mean():.2f} ± {x.std():.2f} | "
                     + ", ".join(f"{v:.2f}" for v in by_agent[c["case"]])
                     + f" | {c['wall_seconds']:.0f} s |")  # fmt: skip
    gap = with_msg.mean() - without.mean()
    lines += [
        "",
        f"Messages are worth {gap:.2f} per agent on average; the worst seed with messages "
        f"({with_msg.min():.2f}) is {with_msg.min() - without.max():.2f} above the best cut "
        f"seed ({without.max():.2f}).",
        "",
        f"How much can messages be worth? Scripted agents on mpe2 (marl_baselines.md): the "
        f"listener steered to the landmark named gets {heard:.2f}, steered to the landmarks' "
        f"centroid every step, as if it heard nothing, {unheard:.2f}: a gap of "
        f"{ceiling:.2f}. The cut agents learn the centroid ({without.mean():.2f}), the "
        f"talking ones the named landmark ({with_msg.mean():.2f}): MAPPO's "
        f"channel is worth {gap / ceiling:.0%} of the scripted gap. MARL-ANCHORS' bar "
        f"(at least {MARGIN:.0f} above "
        f"the ablation) is more than the scripted agents' gap, so out of reach under this "
        f"reward ({anchor_passed}/{len(with_msg)} seeds); measured against half the gap "
        f"instead (the cut mean + {ceiling / 2:.2f} = {bar:.2f}), **{passed}/"
        f"{len(with_msg)}** seeds with messages pass.",
        "",
        "![speaker-listener with and without messages](marl_claims_channel.png)",
    ]
    plot_curves("channel", [("messages", talk), ("channel cut", cut)],
                "speaker-listener, MAPPO (training episodes)")  # fmt: skip
    summary = {"passed_half_ceiling": passed, "bar": bar, "ceiling": ceiling,
               "passed_anchor_margin": anchor_passed, "with_messages": talk["eval"],
               "cut": cut["eval"], "gap": gap}  # fmt: skip
    return lines, summary


def report_tarmac() -> tuple[list[str], dict[str, Any]]:
    import numpy as np

    talk, cut = (json.loads((OUT / f"{c}.json").read_text()) for c in CASES["tarmac"])
    with_msg, without = np.asarray(talk["eval"]), np.asarray(cut["eval"])
    lines = [
        "## Speaker-listener with a learned channel (TarMAC-style attention)",
        "",
        f"MAPPO, {talk['steps']:,} steps, {len(talk['seeds'])} seeds each, the environment's "
        "channel cut for the listener in both; per-agent return of each seed's final policy "
        f"({EVAL_EPISODES} deterministic episodes, compiled door).",
        "",
        "| actors' channel | per seed | mean ± sd | all seeds' wall-clock |",
        "|---|---|---|---|",
    ]
    for name, c, x in (("attention", talk, with_msg), ("cut", cut, without)):
        seeds = ", ".join(f"{v:.2f}" for v in x)
        lines.append(f"| {name} | {seeds} | {x.mean():.2f} ± {x.std():.2f} | "
                     f"{c['wall_seconds']:.0f} s |")  # fmt: skip
    passed = int((with_msg > without.max()).sum())
    lines += [
        "",
        f"Seeds with the learned channel above the best seed without it: **{passed}/"
        f"{len(with_msg)}**; the learned channel is worth "
        f"{with_msg.mean() - without.mean():.2f} per agent on average.",
        "",
        "![the learned channel](marl_claims_tarmac.png)",
    ]
    plot_curves("tarmac", [("attention channel", talk), ("channel cut", cut)],
                "speaker-listener, learned messages (training episodes)")  # fmt: skip
    return lines, {"attention": talk["eval"], "cut": cut["eval"], "passed": passed}


def report_credit() -> tuple[list[str], dict[str, Any]]:
    import numpy as np

    cases = {c: json.loads((OUT / f"{c}.json").read_text()) for c in CASES["credit"]}
    first = next(iter(cases.values()))
    lines = [
        "## Credit assignment on the climbing and penalty games",
        "",
        f"{first['steps']:,} steps, {len(first['seeds'])} seeds each, settings "
        f"{CREDIT_SETTINGS} (and {PPO_SETTINGS} for ippo and mappo); the return of one "
        "greedy episode of 25 rounds per seed, per agent (both agents are paid the same).",
        "",
        "| algorithm | " + " | ".join(
            f"{g}: optimum {o:.0f} reached | {g}: per seed" for g, (_, o, _) in CREDIT_GAMES.items()
        ) + " |",
        "|---|" + "---|---|" * len(CREDIT_GAMES),
    ]  # fmt: skip
    summary: dict[str, Any] = {}
    for algo in CREDIT_ALGOS:
        row = [algo]
        for game, (_, optimum, _) in CREDIT_GAMES.items():
            returns = np.asarray(cases[f"credit-{game}-{algo}"]["eval"])
            found = int(np.isclose(returns, optimum).sum())
            row += [f"**{found}/{len(returns)}**", ", ".join(f"{r:.0f}" for r in returns)]
            summary.setdefault(game, {})[algo] = {"optimum_seeds": found,
                                                   "returns": returns.tolist()}  # fmt: skip
        lines.append("| " + " | ".join(row) + " |")
    found = {a: sum(summary[g][a]["optimum_seeds"] for g in CREDIT_GAMES) for a in CREDIT_ALGOS}
    finders = [f"{a} ({n} of {2 * len(first['seeds'])} runs)" for a, n in found.items() if n]
    returns = {g: np.concatenate([v["returns"] for v in summary[g].values()]) for g in CREDIT_GAMES}
    safe = {"climbing": 125.0, "penalty": 50.0}  # both agents' third action, every round
    at_safe = sum(int(np.isclose(returns[g], safe[g]).sum()) for g in CREDIT_GAMES)
    total = sum(len(r) for r in returns.values())
    lines += [
        "",
        "The course's claim is that credit assignment — a counterfactual baseline (COMA), "
        "value decomposition (VDN, QMIX), centralised critics (MAPPO, MADDPG) — lets a team "
        "coordinate where independent learners fall into the games' traps. Here "
        + (
            f"only {', '.join(finders)} reached an optimum"
            if finders
            else "no learner reached an optimum"
        )
        + f"; {at_safe} of {total} runs settled on the safe joint action (125 on climbing, "
        "50 on penalty), the relative overgeneralisation the games were built to show "
        "(Claus & Boutilier 1998), the rest on other suboptimal ones "
        f"(lowest: climbing {returns['climbing'].min():.0f}, penalty "
        f"{returns['penalty'].min():.0f}). So under this budget the claim does not hold for "
        f"{', '.join(a for a, n in found.items() if not n)}. MARL-ANCHORS' bar (every method "
        "at least 175 on climbing) is "
        + (
            "met."
            if all(min(summary["climbing"][a]["returns"]) >= 175 for a in CREDIT_ALGOS)
            else "not met."
        ),
        "",
        "![training curves on the matrix games](marl_claims_credit.png)",
    ]
    plot_games(cases)
    return lines, summary


def report_critic() -> tuple[list[str], dict[str, Any]]:
    """IPPO against MAPPO, from the credit cases and benchmarks/results/marl.json."""
    import numpy as np

    marl = json.loads((RESULTS / "marl.json").read_text())
    lines = [
        "## Independent against centralised critics",
        "",
        "IPPO's critic reads each agent's own observation, MAPPO's the global state; "
        "everything else is the same (ascent/marl/mappo.py). Per-agent returns, mean ± sd "
        "over 5 seeds.",
        "",
        "| task (source) | IPPO | MAPPO |",
        "|---|---|---|",
    ]
    summary: dict[str, Any] = {}
    for task, figures in marl["tasks"].items():
        row = []
        for algo in ("ippo", "mappo"):
            x = np.asarray(figures["algos"][algo]["eval_mpe2"])
            row.append(f"{x.mean():.2f} ± {x.std():.2f}")
            summary.setdefault(task, {})[algo] = x.tolist()
        lines.append(f"| {task} (results/marl.json, 5M steps, on mpe2) | " + " | ".join(row) + " |")
    for game in CREDIT_GAMES:
        row = []
        for algo in ("ippo", "mappo"):
            x = np.asarray(json.loads((OUT / f"credit-{game}-{algo}.json").read_text())["eval"])
            row.append(f"{x.mean():.1f} ± {x.std():.1f}")
            summary.setdefault(game, {})[algo] = x.tolist()
        lines.append(f"| {game} (credit cases above) | " + " | ".join(row) + " |")
    gaps = {t: np.mean(v["mappo"]) - np.mean(v["ippo"]) for t, v in summary.items()}
    spread = {t: np.std(v["mappo"]) + np.std(v["ippo"]) for t, v in summary.items()}
    ahead = [f"{t} (+{g:.2f})" for t, g in gaps.items() if g > spread[t]]
    level = [t for t, g in gaps.items() if abs(g) <= spread[t]]
    lines += [
        "",
        "The course's claim: each agent's partners change as they learn, which makes an "
        "independent critic's target move; a critic that sees the whole state copes better. "
        + (
            f"MAPPO leads by more than the seeds' spread (the two sds summed) on {', '.join(ahead)}"
            if ahead
            else "MAPPO leads by more than the seeds' spread nowhere"
        )
        + (
            f"; on {', '.join(level)} the two are level, so there the claim does not show"
            if level
            else ""
        )
        + ".",
    ]
    return lines, summary


def report_selfplay() -> tuple[list[str], dict[str, Any]]:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figures = json.loads((OUT / "selfplay.json").read_text())
    lines = [
        "## Self-play and exploitability on rock-paper-scissors games",
        "",
        f"Settings {figures['settings']}, seeds {figures['seeds']}. Exploitability "
        "(NashConv / 2; 0 at the Nash equilibrium, 1 for a pure strategy in "
        "rock-paper-scissors) after the last iteration, mean ± sd over seeds.",
        "",
        "| game | opponent | entropy bonus | policy being trained | average of its past policies |",
        "|---|---|---|---|---|",
    ]
    games = sorted({r["game"] for r in figures["runs"]}, reverse=True)
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = dict(zip(games, fig.subplots(1, len(games)), strict=True))
    colors = {("latest", 0.0): "tab:blue", ("latest", 0.1): "tab:cyan",
              ("pool", 0.0): "tab:red", ("pool", 0.1): "tab:orange"}  # fmt: skip
    summary: dict[str, Any] = {}
    for run in figures["runs"]:
        current, average = np.asarray(run["current"]), np.asarray(run["average"])
        lines.append(
            f"| {run['game']} | {run['opponent']} | {run['ent_coef']} | "
            f"{current[:, -1].mean():.3f} ± {current[:, -1].std():.3f} | "
            f"{average[:, -1].mean():.3f} ± {average[:, -1].std():.3f} |"
        )
        key = f"{run['game']}/{run['opponent']}/ent={run['ent_coef']}"
        summary[key] = {"current": current[:, -1].tolist(), "average": average[:, -1].tolist()}
        ax, color = axes[run["game"]], colors[run["opponent"], run["ent_coef"]]
        steps = np.asarray(run["iterations"])
        label = f"{run['opponent']}, ent {run['ent_coef']}"
        ax.plot(steps, average.mean(0), color=color, label=f"{label}: average policy")
        ax.plot(steps, current.mean(0), color=color, linestyle=":", label=f"{label}: current")
    for game, ax in axes.items():
        ax.set_yscale("log")
        ax.set_title(f"{game}: self-play by policy gradient (mean over seeds)")
        ax.set_xlabel("iteration (64 games each)")
        ax.set_ylabel("exploitability")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.savefig(RESULTS / "marl_claims_selfplay.png", dpi=110)

    def final(game: str, opponent: str, ent: float, which: str) -> float:
        return float(np.mean(summary[f"{game}/{opponent}/ent={ent}"][which]))

    lines += [
        "",
        "The course's claim: self-play on a zero-sum game approaches a Nash equilibrium. "
        "Without an entropy bonus the policy being trained does not: against its latest "
        f"self it keeps cycling (exploitability {final('rps', 'latest', 0.0, 'current'):.2f} "
        "on rps at the end), while the average of its past policies comes much closer (as "
        f"in fictitious play; {final('rps', 'latest', 0.0, 'average'):.3f} on rps, "
        f"{final('biased-rps', 'latest', 0.0, 'average'):.3f} on biased-rps). An entropy "
        "bonus of 0.1 makes the current policy itself settle near the equilibrium "
        f"({final('rps', 'latest', 0.1, 'current'):.3f}, "
        f"{final('biased-rps', 'latest', 0.1, 'current'):.3f}). A uniform pool of past selves, "
        "often said to stabilise self-play, does worse here: the policy best-responds to "
        "the pool's average and goes nearly pure "
        f"({final('rps', 'pool', 0.0, 'current'):.2f}), and its average stays far from "
        f"Nash ({final('rps', 'pool', 0.0, 'average'):.2f}).",
        "",
        "![exploitability over self-play](marl_claims_selfplay.png)",
    ]
    return lines, summary


def report_tag() -> tuple[list[str], dict[str, Any]]:
    """Cross-play of every generation of predators against every generation of prey,
    for self-play against the latest opponent and against a pool of all past ones."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = {c.removeprefix("tag-"): json.loads((OUT / f"{c}.json").read_text())
            for c in CASES["tag"]}  # fmt: skip
    first = next(iter(runs.values()))
    g = first["settings"]["generations"]
    lines = [
        HEADINGS["tag"] + " (simple_tag)",
        "",
        f"IPPO per team (the MPE preset, γ {first['algo_settings']['gamma']}), "
        f"{len(first['seeds'])} seeds, {g} generations of "
        f"{first['settings']['steps_per_turn']:,} steps per team per generation, predators "
        "first; generation 0 is the untrained policies. Each table entry: the predators' "
        "return per agent (10 per tag) over "
        f"{first['settings']['eval_episodes']} episodes of stochastic play, mean ± sd over "
        "seeds. Higher is better for the predators, lower for the prey.",
        "",
        "| opponents drawn from | final vs final | final predators vs all prey generations: "
        "mean / hardest prey | final prey vs all predator generations: mean / strongest "
        "predator | final predators vs untrained prey | untrained predators vs final prey "
        "| a generation worse than the one before it against the same opponent | "
        "wall-clock |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, Any] = {}

    def ms(x: np.ndarray) -> str:
        return f"{x.mean():.1f} ± {x.std():.1f}"

    for mode, figures in runs.items():
        grid = np.asarray([r["cross_play"] for r in figures["runs"]])  # [seeds, pred, prey]
        final = grid[:, -1, -1]
        pred_mean, pred_worst = grid[:, -1, :].mean(-1), grid[:, -1, :].min(-1)
        prey_mean, prey_worst = grid[:, :, -1].mean(-1), grid[:, :, -1].max(-1)
        label = "the latest opponent" if mode == "latest" else "all past opponents"
        # predators i + 1 scoring less than i against prey j; prey j + 1 conceding more
        worse = np.concatenate([(grid[:, 1:, :] < grid[:, :-1, :]).ravel(),
                                (grid[:, :, 1:] > grid[:, :, :-1]).ravel()]).mean()  # fmt: skip
        lines.append(
            f"| {label} | {ms(final)} | {ms(pred_mean)} / {ms(pred_worst)} | "
            f"{ms(prey_mean)} / {ms(prey_worst)} | {ms(grid[:, -1, 0])} | "
            f"{ms(grid[:, 0, -1])} | {worse:.0%} | {figures['wall_seconds']:.0f} s |"
        )
        summary[mode] = {"cross_play_mean": grid.mean(0).tolist(), "final": final.tolist(),
                         "prey_worst": prey_worst.tolist(),
                         "predators_worst": pred_worst.tolist(),
                         "worse_than_before": float(worse)}  # fmt: skip
    lat, pool = summary["latest"], summary["pool"]
    prey_gain = np.mean(lat["prey_worst"]) - np.mean(pool["prey_worst"])
    pred_gain = np.mean(pool["predators_worst"]) - np.mean(lat["predators_worst"])
    lines += [
        "",
        "The claim for a pool of past opponents is robustness: a policy that must beat all "
        "of them should not be exploitable by an old one. Here, against its strongest "
        f"past predator the final prey concedes {np.mean(pool['prey_worst']):.1f} when "
        f"trained against the pool and {np.mean(lat['prey_worst']):.1f} against the latest "
        f"opponent only ({'better' if prey_gain > 0 else 'no better'} by {abs(prey_gain):.1f}); "
        "against its hardest past prey the final predators score "
        f"{np.mean(pool['predators_worst']):.1f} and {np.mean(lat['predators_worst']):.1f} "
        f"({'better' if pred_gain > 0 else 'no better'} with the pool by {abs(pred_gain):.1f}). "
        "Plain self-play also forgets: a new generation does worse than the one before it "
        f"against the same opponent in {lat['worse_than_before']:.0%} of the table's pairs, "
        f"against {pool['worse_than_before']:.0%} with the pool (see the plot: the pool's "
        "table rises steadily down and falls steadily across).",
        "",
        "![cross-play of generations](marl_claims_tag.png)",
    ]
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    top = max(np.max(v["cross_play_mean"]) for v in summary.values())
    for ax, (mode, v) in zip(axes, summary.items(), strict=True):
        image = ax.imshow(np.asarray(v["cross_play_mean"]), vmin=0, vmax=top, cmap="viridis",
                          origin="lower")  # fmt: skip
        ax.set_title(f"opponents: {'latest' if mode == 'latest' else 'pool of all past'}")
        ax.set_xlabel("prey generation")
        ax.set_ylabel("predator generation")
    fig.colorbar(image, ax=list(axes), label="predators' return per agent (mean over seeds)")
    fig.savefig(RESULTS / "marl_claims_tag.png", dpi=110)
    return lines, summary


def plot_games(cases: dict[str, dict]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (game, (_, optimum, trap)) in zip(fig.subplots(1, len(CREDIT_GAMES)),
                                               CREDIT_GAMES.items(), strict=True):  # fmt: skip
        draw_curves(ax, [(a, cases[f"credit-{game}-{a}"]) for a in CREDIT_ALGOS])
        ax.axhline(optimum, color="red", linewidth=1, label=f"optimum ({optimum:.0f})")
        ax.axhline(trap, color="grey", linestyle="--", linewidth=1,
                   label=f"best trap ({trap:.0f})")  # fmt: skip
        ax.set_title(f"{game} game (training episodes, ε and sampling included)")
        ax.legend(loc="lower right", fontsize="small")
    fig.savefig(RESULTS / "marl_claims_credit.png", dpi=110)


def plot_curves(name: str, cases: list[tuple[str, dict]], title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    draw_curves(ax, cases)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(RESULTS / f"marl_claims_{name}.png", dpi=110)


def draw_curves(ax: Any, cases: list[tuple[str, dict]]) -> None:
    """Each case's mean training return over its seeds, with the range of the seeds."""
    import numpy as np

    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    for (label, c), color in zip(cases, colors, strict=False):
        steps, curve = np.asarray(c["curve_steps"]), np.asarray(c["curve"], float)
        ax.plot(steps, np.nanmean(curve, 0), color=color, label=f"{label} (mean over seeds)")
        ax.fill_between(steps, np.nanmin(curve, 0), np.nanmax(curve, 0), color=color,
                        alpha=0.2, linewidth=0)  # fmt: skip
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return per agent")
    ax.grid(True, alpha=0.3)


REPORTS = {
    "channel": report_channel,
    "tarmac": report_tarmac,
    "credit": report_credit,
    "critic": report_critic,
    "selfplay": report_selfplay,
    "tag": report_tag,
}


HEADINGS = {
    "channel": "## Speaker-listener with and without the message channel",
    "tarmac": "## Speaker-listener with a learned channel",
    "credit": "## Credit assignment on the climbing and penalty games",
    "critic": "## Independent against centralised critics",
    "selfplay": "## Self-play and exploitability",
    "tag": "## Team against team: predators and prey",
}


def earlier_sections() -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The sections and summary of the committed report, by experiment, for those whose
    cases' figures were not kept (runs from before results/marl_claims/ held them)."""
    md, js = RESULTS / "marl_claims.md", RESULTS / "marl_claims.json"
    if not md.exists() or not js.exists():
        return {}, {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in md.read_text().splitlines():
        if line.startswith("## "):
            name = next((n for n, h in HEADINGS.items() if line.startswith(h)), None)
            current = sections.setdefault(name, []) if name else None
        elif line.startswith("Restarts of a stuck case"):
            current = None
        if current is not None:
            current.append(line)
    earlier = json.loads(js.read_text())
    return sections, {**earlier, "date_of": earlier.get("date_of", {})}


def report() -> None:
    """One section per experiment whose cases have all run; an experiment whose figures
    are not here keeps its section of the committed report, marked with its date."""
    lines = [
        "# The course's claims about teams of agents",
        "",
        f"`python benchmarks/marl_claims.py` ({dt.date.today()}); the protocol of each "
        "experiment is in the script's docstring. Returns are per agent.",
        "",
    ]
    sections, earlier = earlier_sections()
    summary: dict[str, Any] = {"date": str(dt.date.today()), "date_of": {}}
    restarts_file = OUT / "restarts.json"
    restarts = json.loads(restarts_file.read_text()) if restarts_file.exists() else {}
    for name, make_report in REPORTS.items():
        if all((OUT / f"{c}.json").exists() for c in CASES.get(name, CASES["credit"])):
            section, summary[name] = make_report()
            summary["date_of"][name] = str(dt.date.today())
        elif name in sections and name in earlier:
            when = earlier["date_of"].get(name, earlier.get("date", "earlier"))
            section, summary[name] = sections[name], earlier[name]
            summary["date_of"][name] = when
            if not any(line.startswith("(Measured") for line in section):
                section = [section[0], "", f"(Measured {when}; not rerun since.)", *section[1:]]
        else:
            continue
        while section and not section[-1]:
            section = section[:-1]
        lines += [*section, ""]
    stuck = {k: v for k, v in restarts.items() if v}
    named = f" ({', '.join(f'{k} {v}' for k, v in stuck.items())})." if stuck else "."
    lines.append(f"Restarts of a stuck case: {sum(stuck.values())}{named}")
    summary["restarts"] = restarts
    (RESULTS / "marl_claims.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "marl_claims.json").write_text(json.dumps(summary, indent=1))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("all", "run", "report", "case"), default="all")
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    parser.add_argument("--case", help="(--phase case) the case to run in this process")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    parser.add_argument("--jobs", type=int, default=2, help="cases at a time")
    args = parser.parse_args()
    if args.phase == "case":
        run_case(args.case, args.seeds, args.steps)
        return
    if args.phase in ("all", "run"):
        steps = ["--steps", str(args.steps)] if args.steps else []
        cases = [(case, [sys.executable, __file__, "--phase", "case", "--case", case,
                         "--seeds", *map(str, args.seeds), *steps])
                 for name in args.only for case in CASES[name]]  # fmt: skip
        restarts_file = OUT / "restarts.json"
        OUT.mkdir(parents=True, exist_ok=True)
        old = json.loads(restarts_file.read_text()) if restarts_file.exists() else {}
        restarts_file.write_text(json.dumps({**old, **run_watched(cases, args.jobs)}))
    if args.phase in ("all", "report"):
        report()


if __name__ == "__main__":
    main()
