"""Critics cut variance (the course's question 2): the spread of four policy-gradient
estimators measured on the same policy at fixed parameters, on CartPole and on tabular
MDPs.

CartPole (gymnax/CartPole-v1, the JAX door). A2C with its CartPole preset (RL-Zoo's:
8 environments × 5 steps, RMSprop at 7e-4) trains 5 seeds, all in one compiled program;
its actor and critic are taken at POINTS (untrained, early, halfway, trained). At each,
K = BATCHES independent batches of EPISODES whole episodes (from fresh resets, a window
of HORIZON = the time limit, so every episode ends inside it) are sampled, and on each
batch every estimator forms its policy gradient with respect to the actor's parameters,

    g = ∇_θ (1/B) Σ_{i,t} Ψ_t log π_θ(a_t|s_t) = −∇_θ policy_gradient_loss(log π, Ψ, alive)

(B the batch's steps, ω_t = 1 as Ascent's algorithms weigh them), with Ψ_t from
`ascent.core.returns` and the A2C critic V of the same point:

- REINFORCE: G_t, the Monte-Carlo reward-to-go (`discounted_returns`, nothing bootstrapped);
- REINFORCE with the learned baseline: G_t − V(s_t);
- one-step actor-critic: δ_t = r_t + γ(1 − term_t)V(s'_t) − V(s_t) (`td_errors`);
- A2C: the n-step advantage, n = N_STEP (A2C's n_steps), as A2C's `targets` computes it
  (`gae` with λ = 1, each n-step window bootstrapping from V at its end, a truncation
  from V of the true final observation); each episode's windows start at a random
  phase, as a running A2C's rollouts cut episodes anywhere.

Every estimator sees the same batches (matched batch size, paired). Per estimator:
tr Σ̂ of the per-batch gradient with its standard error, its ratio to REINFORCE's with
the delta-method standard error of the paired ratio, and the bias: the distance of its
mean from REINFORCE's mean over REFERENCE_BATCHES further independent batches, relative
to that reference's norm, beside the noise level sampling alone would give
(`ascent.theory.variance`: gradient_moments, variance_ratio, relative_bias, whose
measurement tests/theory/test_variance.py checks against exact enumeration).

Tabular (`ascent.theory.pg_lab.run_pg_lab`, `ascent theory pg`): the theory lab on a
random 5-state, 3-action MDP per seed (γ = 0.9, LAB_SAMPLES episodes), where the critic
is exact: total variance per episode of the same signals (and GAE between TD(0) and the
reward-to-go), with ω_t = γ^t (unbiased) and ω_t = 1; and TD(0) (GAE λ = 0) and the
baseline (λ = 1) with a critic off by 20%.
"""

from __future__ import annotations

import json
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Any

from claims import Section

NAME = "variance"
QUESTION = 2
ORDER = 10
TITLE = "Critics cut the variance of policy gradients"
CLAIM = (
    "*Reduced Variance:* By using the Critic to provide a baseline or advantage estimate, "
    "Actor-Critic methods can reduce the variance of the policy gradient estimates."
)
FALSE_IF = (
    "at matched batch size (the same episodes), the critic-based estimators (REINFORCE "
    "with the learned baseline, one-step actor-critic, A2C's n-step advantage) do not have "
    "a total variance tr Σ below REINFORCE's: for some estimator, its ratio to REINFORCE's "
    "is not below 1 by two standard errors at more than half of the fixed points "
    "(5 seeds × 4 points of training). The bias the critics bring is measured and reported "
    "beside it; it does not decide the claim, which is about variance."
)
SEEDS = (0, 1, 2, 3, 4)

ENV = "gymnax/CartPole-v1"
POINTS = (0, 20_000, 100_000, 200_000)  # A2C's environment steps at each fixed point
POINT_NAMES = ("untrained", "early", "halfway", "trained")
HORIZON = 500  # CartPole-v1's time limit: every episode ends inside the window
EPISODES = 8  # per batch, A2C's 8 environments
BATCHES = 200  # K per fixed point, shared by every estimator
REFERENCE_BATCHES = 800  # REINFORCE only, independent: the reference mean
N_STEP = 5  # A2C's n_steps (the preset's): the n of its n-step advantage
LAB_SAMPLES = 50_000
QUICK = {"points": (0, 2_000, 4_000), "point_names": ("untrained", "halfway", "trained"),
         "batches": 16, "reference_batches": 32, "episodes": 4, "lab_samples": 2_000}  # fmt: skip

KINDS = ("reinforce", "baseline", "td0", "a2c")
LABELS = {
    "reinforce": "REINFORCE (G_t)",
    "baseline": "REINFORCE + learned baseline (G_t − V(s_t))",
    "td0": "one-step actor-critic (δ_t)",
    "a2c": f"A2C ({N_STEP}-step advantage)",
}
CRITICS = KINDS[1:]
LAB_ROWS = {  # the theory lab's label -> the name of the CartPole estimator it mirrors
    "reward-to-go G_t": "REINFORCE",
    "G_t - V(s_t)": "baseline",
    "TD(0) error": "one-step AC",
    "GAE(λ=0.5)": "GAE λ 0.5",
    "GAE(λ=0.9)": "GAE λ 0.9",
    "Q(s_t,a_t)-V(s_t)": "Q − V (perfect critic)",
}
BELOW = 2.0  # a ratio counts as below 1 when ratio + BELOW·se < 1
BIASED = 2.0  # a relative bias counts as detected when it is above BIASED × its noise level


# --- measuring --------------------------------------------------------------------


def train_points(seeds: list[int], points: tuple[int, ...]) -> tuple[Any, list[Any], dict]:
    """A2C (the CartPole preset) on every seed at once; the parameters at each of `points`
    (environment steps), stacked over seeds, and the training curve."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ascent.catalog.registry import algorithm_class, build_algorithm, make_config
    from ascent.envs import make as make_env
    from ascent.train import make_loop

    config = make_config("a2c", ENV, {"total_steps": max(points[-1], 1)})
    env = make_env(ENV, n_envs=config.n_envs)
    algorithm = build_algorithm(algorithm_class("a2c"), config, env)
    loop = make_loop(algorithm, env)
    states = jax.jit(jax.vmap(loop.init))(jnp.asarray(seeds, jnp.uint32))

    @partial(jax.jit, static_argnums=1)
    def advance(states: Any, n: int) -> tuple[Any, dict]:
        def one(state: Any) -> tuple[Any, dict]:
            return jax.lax.scan(lambda s, _: loop.iterate_jax(s), state, None, length=n)

        return jax.vmap(one)(states)

    params, sums, counts, done = [], [], [], 0
    for steps in points:
        n = steps // loop.steps_per_iteration - done
        if n > 0:
            states, metrics = advance(states, n)
            sums.append(np.asarray(metrics["episode_return_sum"]))
            counts.append(np.asarray(metrics["episodes"]))
            done += n
        params.append(states.algo.params)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.concatenate(sums, 1) / np.concatenate(counts, 1)  # [S, U]
    curve_steps = np.arange(1, curve.shape[1] + 1) * loop.steps_per_iteration
    return algorithm, params, {"steps": curve_steps, "returns": curve, "gamma": config.gamma}


def batch_sampler(algorithm: Any, kinds: tuple[str, ...], episodes: int, gamma: float) -> Any:
    """A jitted `(params, keys [K]) -> (grads [K, E, P], steps [K], returns [K, episodes])`:
    K independent batches of whole episodes at fixed params, each estimator's gradient of
    the actor on each."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    from ascent.core.losses import policy_gradient_loss
    from ascent.core.returns import discounted_returns, gae, td_errors
    from ascent.envs import make as make_env

    env = make_env(ENV, n_envs=episodes)
    forward = algorithm.model.forward  # (params, state, obs [...], starts) -> (_, dist, V)

    def rollout(params: Any, key: jax.Array) -> dict[str, jax.Array]:
        """`episodes` episodes from fresh resets, HORIZON steps, time-major [H, N]."""
        reset_key, run_key = jax.random.split(key)
        obs, env_state = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))

        def step(carry: tuple, key: jax.Array) -> tuple[tuple, dict]:
            obs, env_state, alive = carry
            act_key, env_key = jax.random.split(key)
            action = forward(params, None, obs, None)[1].sample(act_key)
            env_keys = jax.random.split(env_key, episodes)
            obs_next, env_state, r, term, trunc, next_obs = jax.vmap(env.step)(
                env_keys, env_state, action
            )
            out = {
                "obs": obs,
                "actions": action,
                "rewards": r * alive,
                "next_obs": next_obs,
                "terminated": term & alive,
                "truncated": trunc & alive,
                "alive": alive,
            }
            # after its end an episode's steps are dead: the environment has reset
            return (obs_next, env_state, alive & ~(term | trunc)), out

        keys = jax.random.split(run_key, HORIZON)
        alive = jnp.ones(episodes, bool)
        return jax.lax.scan(step, (obs, env_state, alive), keys)[1]

    def signals(params: Any, ep: dict[str, jax.Array], phase: jax.Array) -> jax.Array:
        """Ψ_t of each estimator, [E, H, N]; zero on dead steps."""
        r, term, trunc = ep["rewards"], ep["terminated"], ep["truncated"]
        v = forward(params, None, ep["obs"], None)[2]  # [H, N]
        v_next = forward(params, None, ep["next_obs"], None)[2]  # [H, N]
        g = discounted_returns(rewards=r, terminated=term, truncated=trunc, gamma=gamma)
        t = jnp.arange(HORIZON)[:, None]
        window_end = (t + phase) % N_STEP == N_STEP - 1  # [H, N]: an A2C rollout ends here
        psi = {
            "reinforce": lambda: g,
            "baseline": lambda: g - v,
            "td0": lambda: td_errors(
                rewards=r, values=v, next_values=v_next, terminated=term, gamma=gamma
            ),
            "a2c": lambda: gae(rewards=r, values=v, next_values=v_next, terminated=term,
                               truncated=trunc | window_end, gamma=gamma, gae_lambda=1.0),
        }  # fmt: skip
        return jnp.stack([psi[k]() for k in kinds]) * ep["alive"]

    def batch(params: Any, key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        run_key, phase_key = jax.random.split(key)
        ep = rollout(params, run_key)
        phase = jax.random.randint(phase_key, (episodes,), 0, N_STEP)
        psis = signals(params, ep, phase)
        alive = ep["alive"].astype(jnp.float32)

        def gradient(psi: jax.Array) -> jax.Array:
            def loss(actor: Any) -> jax.Array:
                inner = {**params["params"], "actor": actor}
                dist = forward({**params, "params": inner}, None, ep["obs"], None)[1]
                return policy_gradient_loss(dist.log_prob(ep["actions"]), psi, alive)[0]

            return -ravel_pytree(jax.grad(loss)(params["params"]["actor"]))[0]

        grads = jax.vmap(gradient)(psis)  # [E, P]
        return grads, alive.sum(), ep["rewards"].sum(0)

    @jax.jit
    def sample(params: Any, keys: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        return jax.lax.map(partial(batch, params), keys)

    return sample


def measure_point(
    samplers: tuple[Any, Any], params: Any, key: Any, batches: int, reference_batches: int
) -> dict[str, Any]:
    """Every estimator's figures at one fixed point."""
    import jax
    import numpy as np

    from ascent.theory.variance import gradient_moments, relative_bias, variance_ratio

    sample, sample_reference = samplers
    key, ref_key = jax.random.split(key)
    grads, steps, returns = jax.device_get(sample(params, jax.random.split(key, batches)))
    ref, _, _ = jax.device_get(
        sample_reference(params, jax.random.split(ref_key, reference_batches))
    )
    grads = np.asarray(grads, np.float64)  # [K, E, P]
    reference = gradient_moments(ref[:, 0])
    figures: dict[str, Any] = {
        "return_mean": float(np.mean(returns)),
        "batch_steps_mean": float(np.mean(steps)),
        "reference_norm": float(np.linalg.norm(reference.mean)),
        "reference_noise": reference.noise,
        "estimators": {},
    }
    for e, kind in enumerate(KINDS):
        m = gradient_moments(grads[:, e])
        ratio, ratio_se = variance_ratio(grads[:, e], grads[:, 0])
        rel, noise = relative_bias(m, reference.mean, reference.noise)
        cosine = float(m.mean @ reference.mean / (np.linalg.norm(m.mean) * figures[
            "reference_norm"]))  # fmt: skip
        figures["estimators"][kind] = {
            "total_variance": m.total_variance, "total_variance_se": m.total_variance_se,
            "ratio": ratio, "ratio_se": ratio_se, "rel_bias": rel, "rel_bias_noise": noise,
            "cosine": cosine,
        }  # fmt: skip
    return figures


def run_cartpole(seeds: list[int], out: Path, quick: bool) -> None:
    import jax
    import numpy as np

    points = QUICK["points"] if quick else POINTS
    point_names = QUICK["point_names"] if quick else POINT_NAMES
    episodes = QUICK["episodes"] if quick else EPISODES
    batches = QUICK["batches"] if quick else BATCHES
    reference_batches = QUICK["reference_batches"] if quick else REFERENCE_BATCHES
    start = time.perf_counter()
    algorithm, params, curve = train_points(seeds, points)
    train_seconds = time.perf_counter() - start
    samplers = tuple(batch_sampler(algorithm, kinds, episodes, curve["gamma"])
                     for kinds in (KINDS, KINDS[:1]))  # fmt: skip
    figures: dict[str, Any] = {
        "env": ENV, "seeds": seeds, "points": list(points), "point_names": list(point_names),
        "episodes": episodes, "batches": batches, "reference_batches": reference_batches,
        "horizon": HORIZON, "n_step": N_STEP, "gamma": curve["gamma"],
        "train_seconds": train_seconds, "runs": [],
    }  # fmt: skip
    width = max(1, curve["returns"].shape[1] // 100)
    with warnings.catch_warnings():  # updates in which no episode ended: NaN, kept as null
        warnings.simplefilter("ignore", RuntimeWarning)
        thinned = np.nanmean(curve["returns"][:, : curve["returns"].shape[1] // width * width]
                             .reshape(len(seeds), -1, width), axis=2)  # fmt: skip
    figures["curve"] = {
        "steps": curve["steps"][width - 1 :: width][: thinned.shape[1]].tolist(),
        "returns": np.where(np.isfinite(thinned), thinned, None).tolist(),
    }
    for p, steps in enumerate(points):
        for i, seed in enumerate(seeds):
            t0 = time.perf_counter()
            at = jax.tree.map(lambda x, i=i: x[i], params[p])
            key = jax.random.fold_in(jax.random.PRNGKey(seed + 10_000), p)
            row = measure_point(samplers, at, key, batches, reference_batches)
            row.update(seed=seed, point=p, steps=steps, seconds=time.perf_counter() - t0)
            figures["runs"].append(row)
            ratios = ", ".join(f"{k} {row['estimators'][k]['ratio']:.3f}" for k in CRITICS)
            print(f"  seed {seed} at {steps:,} steps (return {row['return_mean']:.0f}): "
                  f"variance ratios {ratios} ({row['seconds']:.0f} s)", flush=True)  # fmt: skip
            (out / "cartpole.json").write_text(json.dumps(figures, indent=1))
    figures["seconds"] = time.perf_counter() - start
    (out / "cartpole.json").write_text(json.dumps(figures, indent=1))


def run_tabular(seeds: list[int], out: Path, quick: bool) -> None:
    from ascent.theory.pg_lab import PGLabConfig, run_pg_lab

    samples = QUICK["lab_samples"] if quick else LAB_SAMPLES
    reports = []
    for seed in seeds:
        config = PGLabConfig(mdp="random", seed=seed, samples=samples, sweep_lambdas=(0.0, 1.0))
        reports.append(run_pg_lab(config).to_dict())
        print(f"  theory lab, random MDP seed {seed}: {reports[-1]['seconds']:.0f} s", flush=True)
    (out / "tabular.json").write_text(json.dumps({"seeds": seeds, "reports": reports}, indent=1))


def run(seeds: list[int], out: Path, quick: bool) -> None:
    from ascent._xla import set_xla_flags

    set_xla_flags()  # before JAX starts: one XLA thread
    run_cartpole(seeds, out, quick)
    run_tabular(seeds, out, quick)


# --- report -----------------------------------------------------------------------


def _median(xs: list[float]) -> float:
    import numpy as np

    return float(np.median(xs))


def cartpole_table(figures: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The CartPole table and what the verdict needs."""
    runs, n_seeds = figures["runs"], len(figures["seeds"])
    lines = [
        "| point (A2C steps) | return | steps per batch | estimator | tr Σ (median) "
        "| ratio to REINFORCE: median [min, max] | below REINFORCE | relative bias: "
        "median (noise) | biased seeds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    below = {k: 0 for k in CRITICS}
    biased = {k: 0 for k in KINDS}
    failing: dict[str, list[str]] = {k: [] for k in CRITICS}
    bias_by_point: dict[str, list[float]] = {k: [] for k in KINDS}
    for p, steps in enumerate(figures["points"]):
        at = [r for r in runs if r["point"] == p]
        if not at:
            continue
        name = figures["point_names"][p] if p < len(figures["point_names"]) else ""
        head = (f"{name} ({steps:,}) | {_median([r['return_mean'] for r in at]):.0f} | "
                f"{_median([r['batch_steps_mean'] for r in at]):,.0f}")  # fmt: skip
        for kind in KINDS:
            es = [r["estimators"][kind] for r in at]
            ratios = [e["ratio"] for e in es]
            n_below = sum(e["ratio"] + BELOW * e["ratio_se"] < 1 for e in es)
            n_biased = sum(e["rel_bias"] > BIASED * e["rel_bias_noise"] for e in es)
            biased[kind] += n_biased
            bias_by_point[kind].append(_median([e["rel_bias"] for e in es]))
            if kind in CRITICS:
                below[kind] += n_below
                if n_below <= len(es) / 2:
                    failing[kind].append(name)
            ratio = ("1" if kind == "reinforce" else
                     f"{_median(ratios):.3g} [{min(ratios):.3g}, {max(ratios):.3g}]")  # fmt: skip
            lines.append(
                f"| {head} | {LABELS[kind]} | {_median([e['total_variance'] for e in es]):.3g} "
                f"| {ratio} | {'—' if kind == 'reinforce' else f'{n_below}/{len(es)}'} "
                f"| {_median([e['rel_bias'] for e in es]):.2f} "
                f"({_median([e['rel_bias_noise'] for e in es]):.2f}) | {n_biased}/{len(es)} |"
            )
            head = " | | "
    total = len(runs)
    facts = {"below": below, "biased": biased, "failing": failing, "total": total,
             "n_seeds": n_seeds, "bias_by_point": bias_by_point}  # fmt: skip
    return lines, facts


def tabular_table(tabular: dict[str, Any]) -> list[str]:
    import numpy as np

    reports = tabular["reports"]
    lines = [
        f"The theory lab (`ascent theory pg --mdp random --seed S`) on {len(reports)} random "
        f"MDPs ({reports[0]['n_states']} states, {reports[0]['n_actions']} actions, γ = "
        f"{reports[0]['gamma']}, {reports[0]['samples']:,} episodes each), the critic exact; "
        "means over the MDPs of the per-episode total variance against the reward-to-go's:",
        "",
        "| estimator | ratio to G_t, ω = γ^t | relative bias (s.e.), ω = γ^t "
        "| ratio to G_t, ω = 1 |",
        "|---|---|---|---|",
    ]

    def rows(report: dict, label: str, discount: bool) -> dict:
        return next(r for r in report["rows"]
                    if r["estimator"] == label and r["discount"] == discount)  # fmt: skip

    for label, name in LAB_ROWS.items():
        ratios = {d: [rows(rep, label, d)["variance"] / rows(rep, "reward-to-go G_t", d)["variance"]
                      for rep in reports] for d in (True, False)}  # fmt: skip
        bias = np.mean([rows(rep, label, True)["rel_bias"] for rep in reports])
        se = np.mean([rows(rep, label, True)["rel_bias_se"] for rep in reports])
        lines.append(f"| {name} | {np.mean(ratios[True]):.3f} | {bias:.3f} ({se:.3f}) "
                     f"| {np.mean(ratios[False]):.3f} |")  # fmt: skip
    error = reports[0]["critic_error"]
    lines += ["", f"With a critic off by {error:.0%} (V + noise, ω = γ^t):", "",
              "| estimator | relative bias (s.e.) |", "|---|---|"]  # fmt: skip
    for lam, name in ((0.0, "one-step AC (GAE λ 0)"), (1.0, "baseline (GAE λ 1)")):
        noisy = [next(s for s in rep["sweep"] if s["critic"] == "noisy" and s["gae_lambda"] == lam)
                 for rep in reports]  # fmt: skip
        lines.append(f"| {name} | {np.mean([s['rel_bias'] for s in noisy]):.3f} "
                     f"({np.mean([s['rel_bias_se'] for s in noisy]):.3f}) |")  # fmt: skip
    return lines


def draw(figures: dict[str, Any], tabular: dict[str, Any] | None, plot: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    points = [p for p in range(len(figures["points"]))
              if any(r["point"] == p for r in figures["runs"])]  # fmt: skip
    names = [f"{figures['point_names'][p]}\n{figures['points'][p]:,}" for p in points]
    width = 0.8 / len(KINDS)
    for e, kind in enumerate(KINDS):
        x = np.arange(len(points)) + (e - (len(KINDS) - 1) / 2) * width
        for panel, field in ((0, "ratio"), (1, "rel_bias")):
            values = [[r["estimators"][kind][field] for r in figures["runs"] if r["point"] == p]
                      for p in points]  # fmt: skip
            axes[panel].bar(x, [np.median(v) for v in values], width, label=LABELS[kind],
                            color=f"C{e}", alpha=0.6)  # fmt: skip
            for xi, v in zip(x, values, strict=True):
                axes[panel].plot([xi] * len(v), v, ".", color=f"C{e}")
        noise = [[r["estimators"][kind]["rel_bias_noise"] for r in figures["runs"]
                  if r["point"] == p] for p in points]  # fmt: skip
        axes[1].plot(x, [np.median(v) for v in noise], "_", color="k", markersize=12)
    axes[0].set_yscale("log")
    axes[0].axhline(1, color="k", lw=0.8)
    axes[0].set_title("CartPole: tr Σ / tr Σ(REINFORCE), same batches")
    axes[1].set_title("CartPole: ‖mean − REINFORCE mean‖ / ‖·‖ (—: noise)")
    for ax in axes[:2]:
        ax.set_xticks(range(len(points)), names)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=8)
    if tabular:
        reports = tabular["reports"]
        labels = list(LAB_ROWS)
        for j, discount in enumerate((True, False)):
            ratios = [np.mean([
                next(r for r in rep["rows"] if r["estimator"] == lab and r["discount"] == discount)
                ["variance"] / next(r for r in rep["rows"] if r["estimator"] == "reward-to-go G_t"
                                    and r["discount"] == discount)["variance"]
                for rep in reports]) for lab in labels]  # fmt: skip
            x = np.arange(len(labels)) + (j - 0.5) * 0.4
            axes[2].bar(x, ratios, 0.4, label="ω = γ^t" if discount else "ω = 1")
        axes[2].set_xticks(range(len(labels)), [LAB_ROWS[lab] for lab in labels], rotation=30,
                           ha="right", fontsize=7)  # fmt: skip
        axes[2].set_yscale("log")
        axes[2].axhline(1, color="k", lw=0.8)
        axes[2].set_title("Tabular MDPs (exact critic): variance / reward-to-go's")
        axes[2].legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(plot, dpi=110)
    plt.close(fig)


def verdict(facts: dict[str, Any]) -> str:
    total, below, biased = facts["total"], facts["below"], facts["biased"]
    short = {k: LABELS[k].split(" (")[0] for k in KINDS}
    counts = ", ".join(f"{short[k]} {below[k]}/{total}" for k in CRITICS)
    distance = {k: _median(facts["bias_by_point"][k]) for k in KINDS}
    sizes = ", ".join(
        f"{short[k]} at {biased[k]}/{total} (median distance {distance[k]:.2f} of its norm)"
        for k in ("td0", "a2c")
    )
    bias = (
        f"the price is bias: the mean gradient sits more than {BIASED:g}× the sampling noise "
        f"away from REINFORCE's for {sizes}, the baseline at {biased['baseline']}/{total} "
        f"(REINFORCE's own mean, the false-alarm rate: {biased['reinforce']}/{total})"
    )
    if all(b > total / 2 for b in below.values()):
        where = "; ".join(f"{short[k]} not at the {', '.join(v)} point"
                          for k, v in facts["failing"].items() if v)  # fmt: skip
        lead = "holds" if all(b == total for b in below.values()) else "holds with a condition"
        return (f"{lead}: on CartPole the critic-based estimators' total variance is below "
                f"REINFORCE's (by two standard errors, same batches) at {counts} fixed "
                f"points{f' ({where})' if where else ''}; {bias}.")  # fmt: skip
    return (f"does not hold here: on CartPole the critic-based estimators' total variance is "
            f"below REINFORCE's (by two standard errors, same batches) only at {counts} fixed "
            f"points; {bias}.")  # fmt: skip


def report(out: Path, plot: Path) -> Section:
    figures = json.loads((out / "cartpole.json").read_text())
    tabular_path = out / "tabular.json"
    tabular = json.loads(tabular_path.read_text()) if tabular_path.exists() else None
    table, facts = cartpole_table(figures)
    seconds = figures.get("seconds", sum(r["seconds"] for r in figures["runs"]))
    lines = [
        f"A2C (the CartPole preset, {ENV}) trained on seeds {figures['seeds']}; its actor and "
        f"critic taken at {', '.join(f'{s:,}' for s in figures['points'])} steps. At each "
        f"point {figures['batches']} batches of {figures['episodes']} whole episodes (window "
        f"{figures['horizon']} steps), every estimator's actor gradient ∇(1/B)Σ Ψ_t log π on "
        f"each batch; the reference is REINFORCE's mean over {figures['reference_batches']} "
        f'more batches. "Below REINFORCE": seeds whose ratio is below 1 by {BELOW:g} '
        f'standard errors; "biased seeds": relative bias above {BIASED:g}× its noise level '
        "(REINFORCE's own row shows the noise floor). Medians over seeds. The A2C advantage "
        f"is n-step with n = {figures['n_step']}, γ = {figures['gamma']}.",
        "",
        *table,
        "",
    ]
    if tabular:
        lines += [*tabular_table(tabular), ""]
    lines += [
        f'`XLA_FLAGS="$(python3 ascent/_xla.py)" .venv/bin/python benchmarks/claims.py '
        f"--only {NAME}` (seeds {', '.join(map(str, figures['seeds']))}; {seconds / 60:.0f} "
        "min on one core); protocol: `benchmarks/claims_lab/variance.py`; the measuring "
        "functions `ascent/theory/variance.py`, tested against exact enumeration in "
        "`tests/theory/test_variance.py`.",
    ]
    draw(figures, tabular, plot)
    return Section(lines, verdict(facts))
