"""The `ascent` command: train, eval, export, plot, sweep, tune, list, theory. Thin:
parse, call, print.

Bad input (config, environment, checkpoint) is an `ascent.errors.AscentError`: the
message is printed as one line without a traceback and the exit status is 2. SIGINT or
SIGTERM in training saves a checkpoint and exits 130 or 143 with one line saying where
it stopped and how to resume (`train/signals.py`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from ascent._xla import XLA_FLAGS_BY_AFFINITY, set_xla_flags
from ascent.errors import AscentError, ConfigError, Interrupted


@dataclass
class Train:
    """Train an algorithm on an environment and evaluate the result."""

    algo: Annotated[str | None, tyro.conf.Positional] = None
    """Algorithm: ppo, a2c, a3c, impala, trpo, sac, ..., ippo and mappo for teams (see
    `ascent list`)."""
    env: str | None = None
    """Environment id: a Gymnasium id (CartPole-v1), gymnax/<id>, ascent/<id> or
    atari/<Game> (atari/Breakout; see --env-option); for teams mpe2/<id> (PettingZoo) or
    jaxmarl/<id> (compiled); with --resume, the environment to use instead of the one the
    run names (module:Id ids are imported only when given here, never when read from a run
    folder)."""
    seed: int = 0
    """Random seed of the run."""
    total_steps: int | None = None
    """Environment steps to train for (the preset's or the config's by default)."""
    n_envs: int | None = None
    """Parallel environments (a3c, impala: per worker)."""
    ray_address: str | None = None
    """a3c: run the workers as Ray actors: local (a Ray instance on 127.0.0.1), auto (the
    cluster this machine is in) or host:port (same as --set ray_address=...)."""
    set: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """A config field override, field=value; repeat for several."""
    config: Path | None = None
    """A TOML file of config fields, applied after the preset and before --set."""
    env_option: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """An option of the environment id, name=value, recorded with the run (atari/<Game>:
    engine=envpool, repeat_action_probability=0.25, terminal_on_life_loss=false, ...);
    repeat for several."""
    run_dir: Path | None = None
    """Run folder (default: runs/<algo>-<env>-<stamp>)."""
    eval_episodes: int = 20
    """Deterministic evaluation episodes at the end (and at each --eval-every)."""
    eval_every: int | None = None
    """Also evaluate every this many environment steps while training, logging eval_return
    and keeping the best policy in RUN/best/."""
    stop_at_return: float | None = None
    """With --eval-every: stop training once an evaluation's mean return reaches this."""
    resume: Path | None = None
    """Continue the run in this folder from its newest checkpoint (a damaged one stops
    the resume: choose another with --resume-from)."""
    resume_from: str | None = None
    """With --resume: the checkpoint to continue from, e.g. step_000000004096; later
    checkpoints and metrics rows are moved into the run's abandoned/ folder."""
    preset: bool = True
    """Start from the tuned preset for this algorithm and environment (--no-preset: the
    config's defaults)."""
    progress: bool = True
    """Show a progress bar."""
    checkpoint_every: int | None = None
    """Updates between checkpoints (default: about ten per run)."""
    log_every: int | None = None
    """Updates per metrics row (default: about a hundred rows per run)."""
    threads: int = 1
    """CPU cores for the run (XLA's threads): one is fastest for 64-wide networks, two help
    256-wide ones (SAC, TD3)."""
    step_timeout: float = 60.0
    """Seconds a Gymnasium environment's step() or reset() may take before training stops
    (0: no limit)."""
    action_mask: Literal["info"] | None = None
    """info: mask the actions the environment's info["action_mask"] forbids (Taxi-v4);
    an observation's own action_mask key is used without it."""
    log: str = "csv,tb"
    """Where metrics go, comma-separated: csv (metrics.csv, always written), tb
    (TensorBoard, RUN/tb), mlflow (RUN/mlflow.db), wandb (offline, RUN/wandb)."""


@dataclass
class Sweep:
    """Train every configuration of a grid with several seeds on a JAX environment, the
    configurations that share their shapes in one compiled program; writes a table, the
    curves, a plot and the best configuration as a preset (best.toml, for --config)."""

    algo: Annotated[str | None, tyro.conf.Positional] = None
    """Algorithm: ppo, a2c, ... (see `ascent list`)."""
    env: str | None = None
    """A JAX environment id: gymnax/<id>, ascent/<id> or jaxmarl/<id>."""
    grid: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """A field and its values, field=value1,value2,... (lr=1e-4,3e-4 or
    lr=linear(1e-3, 0),3e-4); repeat for several fields: every combination is trained."""
    seeds: int = 1
    """Seeds per configuration: --first-seed, and the ones after it."""
    first_seed: int = 0
    """The first seed."""
    total_steps: int | None = None
    """Environment steps of each run (the preset's or the config's by default)."""
    set: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """A config field override for every configuration, field=value; repeat for several."""
    config: Path | None = None
    """A TOML file of config fields, applied after the preset and before --set."""
    preset: bool = True
    """Start from the tuned preset for this algorithm and environment."""
    eval_episodes: int = 20
    """Deterministic evaluation episodes at the end of each run."""
    out: Path | None = None
    """Folder for the results (default: runs/sweep-<algo>-<env>-<stamp>)."""
    threads: int = 1
    """CPU threads for XLA."""


@dataclass
class Tune:
    """Search an algorithm's settings with Optuna (TPE, median pruning on evaluations during
    training), trials in parallel processes, the study kept in SQLite so that the same
    command continues a killed one; writes best.toml (for --config), trials.csv and plots
    (the `tune` extra: pip install 'ascent-rl[tune]')."""

    algo: Annotated[str | None, tyro.conf.Positional] = None
    """Algorithm: ppo, a2c, sac, td3 (default search spaces: RL-Zoo's), or any with --space."""
    env: str | None = None
    """Environment id, of either door (CartPole-v1, gymnax/CartPole-v1, ...)."""
    trials: int = 50
    """Trials to finish (completed or pruned), counting those a continued study has."""
    jobs: int = 1
    """Trials at a time, each in a process of its own with XLA on one thread."""
    storage: str | None = None
    """Optuna storage URL (default: sqlite:///OUT/study.db); the same storage and
    --study-name continue a study."""
    study_name: str | None = None
    """Name of the study in the storage (default: <algo>-<env>)."""
    space: Path | None = None
    """Search space, a TOML file: a table per field, with low/high (log, int, one_minus)
    or choices (default: RL-Zoo's space for the algorithm; see ascent/tuning/study.py)."""
    total_steps: int | None = None
    """Environment steps of each trial (the preset's or the config's by default)."""
    eval_every: int | None = None
    """Evaluate every this many steps during a trial, for the pruner (default: 5 times)."""
    eval_episodes: int = 10
    """Deterministic evaluation episodes, during a trial and at its end (its score)."""
    set: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """A config field override for every trial, field=value (the trial's values win);
    repeat for several."""
    out: Path | None = None
    """Folder for the results (default: runs/tune-<algo>-<env>-<stamp>)."""
    seed: int = 0
    """Seed of every trial's training and of the sampler."""


@dataclass
class Eval:
    """Evaluate a run's final (or latest) policy."""

    run_dir: Annotated[Path, tyro.conf.Positional]
    """A run folder or a checkpoint folder."""
    episodes: int = 20
    """Episodes to run."""
    stochastic: bool = False
    """Sample actions instead of taking the most likely one."""
    seed: int | None = None
    """Seed of the evaluation environments."""
    json: bool = False
    """Print the result as JSON."""
    env: str | None = None
    """Environment id to evaluate on instead of the one the run names."""
    threads: int = 1
    """CPU threads for XLA."""
    video: Path | None = None
    """Also film --episodes episodes into this folder, one mp4 each (the `video` extra)."""
    render: bool = False
    """Also play --episodes episodes in a window, where the environment has one."""


@dataclass
class Export:
    """Write a run's deterministic policy as an ONNX file (observations [N, ...] ->
    actions [N, ...], as env.step takes them), for onnxruntime and other clients."""

    run_dir: Annotated[Path, tyro.conf.Positional]
    """A run folder or a checkpoint folder."""
    output: Annotated[Path, tyro.conf.arg(aliases=["-o"])] = Path("policy.onnx")
    """ONNX file to write."""
    env: str | None = None
    """Environment id to load the run with instead of the one it names."""


@dataclass
class Plot:
    """Plot learning curves (episode return against environment steps)."""

    run_dirs: Annotated[tuple[Path, ...], tyro.conf.Positional]
    """Run folders."""
    output: Annotated[Path, tyro.conf.arg(aliases=["-o"])] = Path("curves.png")
    """Image file to write."""


@dataclass
class List:
    """List algorithms, presets and environments."""

    spaces: bool = False
    """Instead: the spaces each algorithm takes (observations, actions, action masks)."""


@dataclass
class Theory:
    """Exact theory on small MDPs. `ascent theory pg`: policy-gradient estimators against the
    exact gradient (bias, variance, cosine) and a bias-variance plot."""

    kind: Annotated[Literal["pg"], tyro.conf.Positional]
    """What to check: pg, the policy gradient theorem and its Monte-Carlo estimators."""
    mdp: Literal["random", "chain", "grid"] = "random"
    """A random MDP, a corridor (chain) or a small gridworld (grid)."""
    states: int | None = None
    """Number of states (random: 5, chain: 5, grid: 9; the grid needs a square)."""
    actions: int | None = None
    """Number of actions of the random MDP (3); the chain has 2, the grid 4."""
    samples: int = 50_000
    """Episodes sampled; every estimator is computed on the same ones."""
    seed: int = 0
    """Seed of the random MDP, the policy's logits, the critic's error and the sampling."""
    gamma: float = 0.9
    """Discount factor."""
    horizon: int | None = None
    """Steps per episode (default: long enough that the cut-off part is below 1e-10)."""
    json: bool = False
    """Print the result as JSON."""
    output: Annotated[Path, tyro.conf.arg(aliases=["-o"])] = Path("theory_pg.png")
    """Image file for the bias-variance plot."""
    threads: int = 1
    """CPU threads for XLA."""


def _parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects field=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _parse_env_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """--env-option name=value pairs, each value read as JSON when it is a number or
    true/false (engine=envpool stays a string)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--env-option expects name=value, got {pair!r}")
        key, value = (part.strip() for part in pair.split("=", 1))
        try:
            parsed = json.loads(value.lower() if value.lower() in ("true", "false") else value)
        except json.JSONDecodeError:
            parsed = value
        out[key] = parsed if isinstance(parsed, bool | int | float) else value
    return out


def _read_toml(path: Path) -> dict:
    from ascent.io.tables import read_toml

    return read_toml(path, "config file")


def train(args: Train) -> int:
    from ascent.algos.config import whole_number
    from ascent.catalog.registry import make_config
    from ascent.envs import HostVecEnv
    from ascent.io import new_run_dir
    from ascent.io.loggers import logger_names
    from ascent.train.agent import Agent
    from ascent.train.runs import resume

    if args.resume_from is not None and args.resume is None:
        raise ConfigError("--resume-from needs --resume RUN_FOLDER")
    # checked before anything is made or written
    whole_number("eval_episodes", args.eval_episodes)
    for name in ("checkpoint_every", "log_every", "n_envs", "total_steps", "eval_every"):
        if getattr(args, name) is not None:
            whole_number(name, getattr(args, name))
    if args.stop_at_return is not None and args.eval_every is None:
        raise ConfigError("--stop-at-return needs --eval-every (the returns it reads)")
    if args.step_timeout < 0 or args.step_timeout != args.step_timeout:
        raise ConfigError(f"step_timeout must be >= 0 seconds, got {args.step_timeout}")
    loggers = logger_names(args.log)
    if args.resume is not None:
        # a finished run is refused here, naming --total-steps, before learn would warn
        agent = resume(
            args.resume,
            args.env,
            args.resume_from,
            check_finished=True,
            total_steps=args.total_steps,
        )
        print(f"resuming {agent.run_dir} at step {agent.env_steps}")
    else:
        if args.algo is None or args.env is None:
            raise ConfigError(
                "ascent train needs an algorithm and --env, e.g. ascent train ppo --env CartPole-v1"
            )
        overrides: dict = {}
        if args.config is not None:
            overrides.update(_read_toml(args.config))
        if args.total_steps is not None:
            overrides["total_steps"] = args.total_steps
        if args.n_envs is not None:
            overrides["n_envs"] = args.n_envs
        if args.ray_address is not None:
            overrides["ray_address"] = args.ray_address
        overrides.update(_parse_sets(args.set))
        config = make_config(args.algo, args.env, overrides, use_preset=args.preset)
        agent = Agent(
            args.algo,
            args.env,
            config,
            args.seed,
            step_timeout=args.step_timeout or None,
            action_mask=args.action_mask,
            env_options=_parse_env_options(args.env_option),
        )
        run_dir = args.run_dir or new_run_dir(agent.algo_name, args.env)
        agent.attach_run_dir(Path(run_dir))
        print(f"run folder: {agent.run_dir}")
    if isinstance(agent.env, HostVecEnv):
        agent.env.watchdog.timeout = args.step_timeout or None
        agent.env.watchdog.exit_on_hang = True  # a step stuck in native code ends the process
    agent.loggers = loggers
    agent.learn(
        # a new run's target is in its config; a resumed one goes on to its own
        (args.total_steps or agent.total_steps) if args.resume is not None else None,
        progress=args.progress,
        log_every=args.log_every,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        stop_at_return=args.stop_at_return,
    )
    result = agent.finish(args.eval_episodes)
    agent.close()
    print(
        f"evaluation over {len(result.returns)} episodes: "
        f"mean return {result.mean_return:.2f} ± {result.std_return:.2f}{_by_agent(result)}"
    )
    return 0


def sweep(args: Sweep) -> int:
    from ascent.algos.config import whole_number
    from ascent.io import new_run_dir, print_table
    from ascent.tuning.sweep import parse_grid
    from ascent.tuning.sweep import sweep as run_sweep

    if args.algo is None or args.env is None:
        raise ConfigError(
            "ascent sweep needs an algorithm, --env and --grid, e.g. ascent sweep ppo "
            "--env gymnax/CartPole-v1 --grid lr=1e-4,3e-4 --seeds 3"
        )
    for name in ("seeds", "eval_episodes"):
        whole_number(name, getattr(args, name))
    grid = parse_grid(args.grid)
    overrides: dict = {}
    if args.config is not None:
        overrides.update(_read_toml(args.config))
    if args.total_steps is not None:
        overrides["total_steps"] = args.total_steps
    overrides.update(_parse_sets(args.set))
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    result = run_sweep(args.algo, args.env, grid, seeds, overrides, use_preset=args.preset,
                       eval_episodes=args.eval_episodes, say=print)  # fmt: skip
    out = args.out or new_run_dir(f"sweep-{args.algo}", args.env)
    grids = " ".join(f"--grid '{item}'" for item in args.grid)
    command = f"ascent sweep {args.algo} --env {args.env} {grids} --seeds {args.seeds}"
    written = result.write(out, command)
    print_table(f"{args.algo} on {args.env}", result.rows())
    best = result.best()
    print(f"best: {result.label(best)} (mean final return "
          f"{result.final_returns[best].mean():.2f} over {len(result.seeds)} seeds)")  # fmt: skip
    print(f"results in {out}: {', '.join(p.name for p in written.values())}")
    return 0


def tune(args: Tune) -> int:
    from ascent.tuning.study import run_study

    if args.algo is None or args.env is None:
        raise ConfigError(
            "ascent tune needs an algorithm and --env, e.g. ascent tune ppo --env CartPole-v1 "
            "--trials 50"
        )
    overrides: dict = {}
    if args.total_steps is not None:
        overrides["total_steps"] = args.total_steps
    overrides.update(_parse_sets(args.set))
    run_study(
        args.algo,
        args.env,
        trials=args.trials,
        jobs=args.jobs,
        storage=args.storage,
        study_name=args.study_name,
        space=args.space,
        overrides=overrides,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        out=args.out,
        seed=args.seed,
    )
    return 0


def _by_agent(result: Any) -> str:
    """A team's evaluation: what each agent and the team returned ('' for one agent)."""
    if result.agent_returns is None:
        return ""
    figures = result.to_dict()
    agents = ", ".join(f"{k} {v:.2f}" for k, v in figures["agent_mean_returns"].items())
    return f" (the mean over agents); each agent: {agents}; team: {figures['team_mean_return']:.2f}"


def evaluate(args: Eval) -> int:
    from ascent.api import load

    agent = load(args.run_dir, args.env)
    deterministic = not args.stochastic
    try:
        result = agent.evaluate(args.episodes, deterministic=deterministic, seed=args.seed)
        videos = _watch(agent, args, deterministic)
    finally:
        agent.close()
    if args.json:
        print(json.dumps({**result.to_dict(), **({"videos": videos} if videos else {})}))
    else:
        print(
            f"{agent.algo_name} on {agent.env_id} at step {agent.env_steps}: mean return "
            f"{result.mean_return:.2f} ± {result.std_return:.2f} "
            f"over {len(result.returns)} episodes{_by_agent(result)}"
        )
        if videos:
            print(f"wrote {len(videos)} video{'s' * (len(videos) != 1)} to {args.video}")
    return 0


def _watch(agent: Any, args: Eval, deterministic: bool) -> list[str]:
    """--render's window, then --video's files (their paths); the returns printed are
    the evaluation's (`train/watch.py`)."""
    from ascent.train.watch import record, show

    if args.render:
        show(agent, args.episodes, deterministic=deterministic, seed=args.seed)
    if args.video is None:
        return []
    watched = record(agent, args.video, args.episodes, deterministic=deterministic, seed=args.seed)
    return [str(path) for path in watched.videos]


def export(args: Export) -> int:
    from ascent.api import load
    from ascent.train.export import export_onnx

    agent = load(args.run_dir, args.env)
    try:
        path = export_onnx(agent, args.output)
    finally:
        agent.close()
    print(f"wrote {path}")
    return 0


def plot(args: Plot) -> int:
    from ascent.io import plot_runs

    out = plot_runs(list(args.run_dirs), args.output)
    print(f"wrote {out}")
    return 0


def list_all(args: List) -> int:
    from ascent.catalog.registry import ALGORITHMS, presets, spaces_table
    from ascent.envs import list_envs
    from ascent.io import print_table

    if args.spaces:
        print_table("spaces each algorithm takes", spaces_table())
        return 0

    tuned = presets()
    print_table(
        "algorithms",
        [
            {
                "algorithm": name,
                "presets": ", ".join(tuned.get(name, [])) or "-",
                "about": (cls.__doc__ or "").strip().splitlines()[0],
            }
            for name, cls in ALGORITHMS.items()
        ],
    )
    print_table(
        "environments", [{"door": door, "ids": ", ".join(ids)} for door, ids in list_envs().items()]
    )
    return 0


def theory(args: Theory) -> int:
    from ascent.io import plot_bias_variance, print_table
    from ascent.theory import PGLabConfig, run_pg_lab

    config = PGLabConfig(
        mdp=args.mdp,
        n_states=args.states,
        n_actions=args.actions,
        gamma=args.gamma,
        samples=args.samples,
        horizon=args.horizon,
        seed=args.seed,
    )
    report = run_pg_lab(config)
    out = plot_bias_variance(
        [
            {
                "label": row["estimator"],
                "group": r"$\omega_t = \gamma^t$" if row["discount"] else r"$\omega_t = 1$",
                "bias": row["rel_bias"],
                "bias_se": row["rel_bias_se"],
                "variance": row["variance"],
            }
            for row in report.rows
        ],
        [
            {
                "x": row["gae_lambda"],
                "series": f"{row['critic']} critic",
                "bias": row["rel_bias"],
                "bias_se": row["rel_bias_se"],
                "variance": row["variance"],
            }
            for row in report.sweep
        ],
        args.output,
        sweep_label=r"GAE $\lambda$ ($\omega_t = \gamma^t$)",
        title=f"policy-gradient estimators on {report.mdp}, {report.samples:,} episodes",
    )
    if args.json:
        print(json.dumps(report.to_dict()))
        print(f"wrote {out}", file=sys.stderr)
        return 0
    print(
        f"{report.mdp}: γ = {report.gamma:g}, horizon {report.horizon}, "
        f"{report.samples:,} episodes, J(θ) = {report.objective:.4f}, "
        f"|∇J| = {report.gradient_norm:.4f} (θ random, seed {args.seed})"
    )

    def bias(row: dict) -> str:
        return f"{row['rel_bias']:.3f} ± {row['rel_bias_se']:.3f}"

    print_table(
        "ĝ = Σ_t ω_t Ψ_t ∇log π(a_t|s_t) against the exact ∇J",
        [
            {
                "Ψ_t": row["estimator"],
                "ω_t": "γ^t" if row["discount"] else "1",
                "unbiased": "yes" if row["unbiased"] else "no",
                "rel. bias ± s.e.": bias(row),
                "variance": f"{row['variance']:.4g}",
                "cosine": f"{row['cosine']:.4f}",
            }
            for row in report.rows
        ],
    )
    print_table(
        f"GAE(λ), ω_t = γ^t; noisy critic: V + {report.critic_error:g}·mean|V|·N(0, 1)",
        [
            {
                "λ": f"{row['gae_lambda']:g}",
                "critic": row["critic"],
                "rel. bias ± s.e.": bias(row),
                "variance": f"{row['variance']:.4g}",
                "cosine": f"{row['cosine']:.4f}",
            }
            for row in report.sweep
        ],
    )
    print(f"wrote {out} ({report.seconds:.1f} s)")
    return 0


COMMANDS = {
    "train": (Train, train),
    "eval": (Eval, evaluate),
    "export": (Export, export),
    "plot": (Plot, plot),
    "sweep": (Sweep, sweep),
    "tune": (Tune, tune),
    "list": (List, list_all),
    "theory": (Theory, theory),
}


def main(argv: list[str] | None = None) -> int:
    from_command_line = argv is None
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):  # before tyro, which wants a subcommand
        from ascent._version import __version__

        print(f"ascent {__version__}")
        return 0
    args = tyro.extras.subcommand_cli_from_dict(
        {name: cls for name, (cls, _) in COMMANDS.items()},
        args=argv,
        prog="ascent",
        description="Policy-based reinforcement learning in JAX (ascent --version: the version).",
    )
    handler = next(fn for cls, fn in COMMANDS.values() if isinstance(args, cls))
    # XLA reads its flags, and sizes its thread pool, when its CPU client starts, which
    # is after this point; its threads follow --threads (use_threads), so Eigen's stay on
    set_xla_flags(XLA_FLAGS_BY_AFFINITY)
    try:
        from ascent.runtime import enable_compile_cache, use_threads

        # the cores are the process's: set for a command, not for main([...]) from Python
        if from_command_line and hasattr(args, "threads"):
            use_threads(args.threads)
        enable_compile_cache()
        return handler(args)
    except AscentError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file the command reads or writes (a run folder elsewhere)
        print(f"error: {e.filename or 'a file'}: {e.strerror or e}", file=sys.stderr)
        return 2
    except Interrupted as e:  # SIGINT or SIGTERM in training: where it stopped, how to resume
        print(e, file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
