"""Sweeps: every configuration of a grid × seeds on the JAX door, in as few compiled
programs as the grid's shapes allow (issue 33).

A configuration's numbers — float fields (γ, λ, coefficients, clip ranges) and constant
or linear schedules (learning rates, entropy schedules' endpoints) — enter the program
as traced values, so the configurations that differ only in them share one program,
`vmap`ped over configurations × seeds as `train/seeds.py` is over seeds (a block of
`BLOCK` runs side by side, the blocks one after another inside the program). Every other
swept field groups the configurations, one program per group: a field that shapes the
program (network widths, `n_envs`, `n_steps`, `total_steps`), a name or a switch
(`objective`, `normalize_obs`), an exponential or cosine schedule, and a float the code
reads as a Python number (`max_grad_norm`, whose finiteness decides whether gradients
are clipped at all: found by tracing the first group once with each number traced).

A run of a sweep equals the single run of its configuration and seed (`ascent train`,
`ascent.make(...).learn()`) to float round-off, not bit for bit: XLA:CPU compiles a
vmapped program's products and reductions differently from the unbatched one (optax's
Adam divides by its bias correction in one and multiplies by its reciprocal in the
other; the value head's weight gradient is a dot in one and a multiply-and-sum in the
other), as it does for `train/seeds.py`'s seeds. Batching is not the only cause: with
PPO on CartPole, one run compiled alone differs from the single run's chunk program in
the last bits of its parameters (up to 6e-8 after 6 updates) whenever its program
differs in any of: the outputs kept (the chunk's metrics rows dropped), the loop around
it (`lax.map` over two runs), or one number traced instead of constant (`lr`, `gamma`,
`gae_lambda`, `clip_eps`, `ent_coef` or `vf_coef`, each alone). Bit for bit would take
the single run's program itself to take the configuration's numbers as arguments.

`sweep(...)` returns a `SweepResult`; `SweepResult.write(folder)` writes the table
(`sweep.csv`), every run (`runs.csv`) and its curve (`curves.csv`), the plot
(`sweep.png`) and the best configuration as a preset (`best.toml`, which `ascent train
--config` reads).
"""

from __future__ import annotations

import copy
import itertools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ascent.algos.config import ScheduleLike, config_fields
from ascent.catalog.registry import algorithm_class, build_algorithm, make_config
from ascent.catalog.settings import preset_table
from ascent.core.schedules import Schedule
from ascent.envs import is_jax_env
from ascent.envs import make as make_env
from ascent.errors import ConfigError, EnvError
from ascent.io.plots import plot_sweep
from ascent.io.tables import write_csv, write_toml
from ascent.train import make_loop
from ascent.train.evaluate import Evaluator
from ascent.train.loop import LoopState

TRACED_SCHEDULES = ("constant", "linear")
"""Schedule kinds whose endpoints are traced; the others group configurations."""
EVAL_SEED_OFFSET = 1_000_003
"""A run's evaluation key is PRNGKey(seed + this), as in `train/seeds.py`."""
BLOCK = 8
"""Runs computed side by side (`vmap`) in a program; blocks of them run one after another
inside it (`lax.map`). On one CPU core a block of 8 PPO runs on CartPole took 5.4 ms an
iteration per run where 1 or 64 side by side took 6.9 and 7.0 (their arrays stay in the
cache): benchmarks/results/sweep.md."""


# --- the grid ----------------------------------------------------------------------


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """`--grid field=v1,v2,...` items -> {field: [values as text]}. Commas inside
    parentheses belong to a value (`lr=linear(1e-3, 0),3e-4`); a field twice, a missing
    `=` or an empty value is a ConfigError."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ConfigError(f"--grid expects field=value1,value2,...; got {item!r}")
        if name in grid:
            raise ConfigError(f"--grid {name} is given twice: put its values in one list")
        values = [v.strip() for v in re.split(r",(?![^()]*\))", text)]
        if not values or any(not v for v in values):
            raise ConfigError(f"--grid {name}: an empty value in {text!r}")
        grid[name] = values
    return grid


def _value_of(config: Any, name: str) -> Any:
    """A config's value of field `name` (`core.kind`: a nested spec's field)."""
    head, _, sub = name.partition(".")
    value = getattr(config, head)
    return getattr(value, sub) if sub else value


def _traced_form(kind: Any, value: Any) -> tuple[str, tuple[float, float]] | None:
    """(the structural part, the numbers traced) of a value of a field of type `kind`, or
    None when the field cannot be traced: a float is (`float`, (x, x)), a constant or
    linear schedule (its kind, (init, end))."""
    if kind is float and isinstance(value, float):
        return "float", (value, value)
    if kind is ScheduleLike or kind == ScheduleLike:
        if isinstance(value, float):
            return "constant", (value, value)
        if isinstance(value, Schedule) and value.kind in TRACED_SCHEDULES:
            end = value.init if value.end is None else value.end
            return value.kind, (value.init, end)
    return None


def _substitute(config: Any, forms: Mapping[str, str], values: Mapping[str, jax.Array]) -> Any:
    """`config` with each traced field replaced by its traced numbers ([2]: init, end),
    without validation (every configuration's numbers were validated as a config)."""
    new = copy.copy(config)  # a frozen dataclass: fields set past its __setattr__
    for name, form in forms.items():
        pair = values[name]
        if form == "float":
            value: Any = pair[0]
        else:
            value = Schedule.traced(form, pair[0], pair[1] if form == "linear" else None)
        object.__setattr__(new, name, value)
    return new


# --- the result ---------------------------------------------------------------------


@dataclass
class Group:
    """The configurations that share one compiled program."""

    configs: list[int]  # indices into SweepResult.configs
    structural: dict[str, Any]  # the swept fields' values that made this group
    traced: list[str]  # the swept fields traced in its program
    compile_seconds: float = 0.0
    train_seconds: float = 0.0  # running it: training and the final evaluation
    states: LoopState | None = None  # every run's final state, stacked [configs × seeds]

    @property
    def seconds(self) -> float:
        return self.compile_seconds + self.train_seconds


@dataclass
class SweepResult:
    algo: str
    env_id: str
    fields: list[str]  # the swept fields, in the grid's order
    configs: list[dict[str, Any]]  # each configuration's swept values
    full_configs: list[Any]  # each configuration's whole validated config
    seeds: list[int]
    final_returns: np.ndarray  # [C, S] mean deterministic evaluation return of each run
    curves: list[np.ndarray]  # per configuration [S, U]: mean return of the training
    # episodes that ended in each update (NaN where none did)
    env_steps: list[np.ndarray]  # per configuration [U]: environment steps after each update
    groups: list[Group] = field(default_factory=list)
    eval_episodes: int = 20

    @property
    def auc(self) -> np.ndarray:
        """[C, S] the area under each run's training curve over its steps: the mean
        training-episode return over training (updates where no episode ended skipped)."""
        with np.errstate(all="ignore"):
            return np.stack([np.nanmean(c, axis=1) for c in self.curves])

    def group_of(self, config: int) -> Group:
        return next(g for g in self.groups if config in g.configs)

    def state(self, config: int, seed_index: int) -> LoopState:
        """The final LoopState of configuration `config`'s run with `seeds[seed_index]`."""
        group = self.group_of(config)
        run = group.configs.index(config) * len(self.seeds) + seed_index
        return jax.tree.map(lambda x: x[run], group.states)

    def best(self) -> int:
        """The configuration with the highest mean final return over seeds (ties: the
        larger area under the curve, then the first)."""
        final = self.final_returns.mean(axis=1)
        auc = np.nan_to_num(self.auc.mean(axis=1), nan=-np.inf)
        return max(range(len(self.configs)), key=lambda c: (final[c], auc[c], -c))

    def label(self, config: int) -> str:
        return " ".join(f"{k}={_text(v)}" for k, v in self.configs[config].items())

    def rows(self) -> list[dict[str, Any]]:
        """One row per configuration: its values, final return (mean, std over seeds),
        area under the curve, its program and seconds (its group's, shared evenly)."""
        auc = self.auc
        rows = []
        for c, values in enumerate(self.configs):
            group = self.group_of(c)
            rows.append(
                {
                    "config": c,
                    **{k: _text(v) for k, v in values.items()},
                    "final_return_mean": round(float(self.final_returns[c].mean()), 4),
                    "final_return_std": round(float(self.final_returns[c].std()), 4),
                    "auc_mean": round(float(np.nanmean(auc[c])), 4),
                    "program": self.groups.index(group),
                    "seconds": round(group.seconds / len(group.configs), 3),
                }
            )
        return rows

    def write(self, folder: str | Path, command: str = "") -> dict[str, Path]:
        """sweep.csv, runs.csv, curves.csv, sweep.png and best.toml in `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        runs, curves = [], []
        auc = self.auc
        for c, values in enumerate(self.configs):
            texts = {k: _text(v) for k, v in values.items()}
            for s, seed in enumerate(self.seeds):
                runs.append({"config": c, **texts, "seed": seed,
                             "final_return": float(self.final_returns[c, s]),
                             "auc": float(auc[c, s])})  # fmt: skip
                curves += [
                    {"config": c, "seed": seed, "env_steps": int(step), "episode_return": float(r)}
                    for step, r in zip(self.env_steps[c], self.curves[c][s], strict=True)
                    if np.isfinite(r)
                ]
        best = self.best()
        header = (
            f"the best of {len(self.configs)} configurations of `{command or 'ascent sweep'}` "
            f"(mean final return {self.final_returns[best].mean():.2f} over "
            f"{len(self.seeds)} seeds: {self.label(best)});\n"
            f"train with it: ascent train {self.algo} --env {self.env_id} --config best.toml"
        )
        return {
            "table": write_csv(folder / "sweep.csv", self.rows()),
            "runs": write_csv(folder / "runs.csv", runs),
            "curves": write_csv(folder / "curves.csv", curves),
            "plot": plot_sweep(
                folder / "sweep.png",
                [self.label(c) for c in range(len(self.configs))],
                self.env_steps,
                self.curves,
                self.final_returns,
                title=f"{self.algo} on {self.env_id}: {len(self.configs)} configurations × "
                f"{len(self.seeds)} seeds",
            ),
            "best": write_toml(folder / "best.toml", preset_table(self.full_configs[best]), header),
        }


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


# --- training -------------------------------------------------------------------------


def sweep(
    algo: str,
    env: str,
    grid: Mapping[str, Sequence[Any]],
    seeds: int | Sequence[int] = 1,
    overrides: Mapping[str, Any] | None = None,
    *,
    use_preset: bool = True,
    eval_episodes: int = 20,
    block: int = BLOCK,
    say: Callable[[str], None] | None = None,
) -> SweepResult:
    """Train every configuration of `grid` ({field: [values]}, the product of the lists)
    with each seed (`seeds`: a count from 0, or the seeds) on JAX environment `env`;
    each configuration is the preset (unless `use_preset` is False), then `overrides`,
    then its grid values, validated before anything is compiled. `block`: runs side by
    side in each program (`BLOCK`). `say` gets a line per program (its configurations,
    then its seconds)."""
    cls = algorithm_class(algo)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ConfigError("a sweep needs at least one seed")
    if not grid:
        raise ConfigError("a sweep needs a grid: --grid field=value1,value2,...")
    for name, values in grid.items():
        if isinstance(values, str) or not len(values):
            raise ConfigError(f"grid field {name}: give a list of values, got {values!r}")
    names = list(grid)
    full_configs, configs = [], []
    for combination in itertools.product(*(grid[n] for n in names)):
        values = {**(overrides or {}), **dict(zip(names, combination, strict=True))}
        config = make_config(algo, env, values, use_preset=use_preset)
        full_configs.append(config)
        configs.append({n: _value_of(config, n) for n in names})
    kinds = config_fields(cls.Config)
    forms = [{n: _traced_form(kinds.get(n), c[n]) for n in names} for c in configs]
    traceable = [n for n in names if all(f[n] is not None for f in forms)]
    say = say or (lambda line: None)
    env_obj = make_env(env, n_envs=full_configs[0].n_envs)
    if not is_jax_env(env_obj):
        raise EnvError(
            f"a sweep trains on the JAX door (gymnax/..., ascent/..., jaxmarl/...), not {env}; "
            "ascent tune runs studies on any environment"
        )
    traced = _traceable_fields(cls, env, full_configs, forms, traceable)
    groups = _group(configs, forms, names, traced)
    result = SweepResult(algo, env, names, configs, full_configs, seed_list,
                         np.zeros((len(configs), len(seed_list))), [None] * len(configs),
                         [None] * len(configs), groups, eval_episodes)  # fmt: skip
    for number, group in enumerate(groups, 1):
        fixed = ", ".join(f"{k}={_text(v)}" for k, v in group.structural.items())
        say(f"program {number}/{len(groups)}: {len(group.configs)} configurations × "
            f"{len(seed_list)} seeds{f' ({fixed})' if fixed else ''}; traced: "
            f"{', '.join(group.traced) or 'none'}")  # fmt: skip
        _train_group(cls, env, group, full_configs, forms, seed_list, eval_episodes, block,
                     result)  # fmt: skip
        say(f"program {number}/{len(groups)}: compiled in {group.compile_seconds:.1f} s, "
            f"ran in {group.train_seconds:.1f} s")  # fmt: skip
    return result


def _group(
    configs: list[dict[str, Any]],
    forms: list[dict[str, Any]],
    names: list[str],
    traced: list[str],
) -> list[Group]:
    """Configurations grouped by their untraced values and their traced schedules'
    kinds, in the grid's order."""
    by_key: dict[tuple, Group] = {}
    for c, (values, form) in enumerate(zip(configs, forms, strict=True)):
        structural = {n: values[n] for n in names if n not in traced}
        kinds = {n: form[n][0] for n in traced if form[n][0] not in ("float", "constant")}
        key = (tuple(map(repr, structural.values())), tuple(kinds.items()))
        if key not in by_key:
            by_key[key] = Group([], {**structural, **{f"{n} (kind)": k for n, k in
                                                      kinds.items()}}, traced)  # fmt: skip
        by_key[key].configs.append(c)
    return list(by_key.values())


def _traceable_fields(
    cls: type,
    env_id: str,
    full_configs: list[Any],
    forms: list[dict[str, Any]],
    candidates: list[str],
) -> list[str]:
    """The candidate fields the program takes as traced values: all of them when the
    first configuration's program traces so, else each that traces alone (a field the
    code reads as a Python number raises a concretization error)."""
    if not candidates:
        return []
    env = make_env(env_id, n_envs=full_configs[0].n_envs)

    def traces(names: list[str]) -> bool:
        fn = _run_fn(cls, env, full_configs[0], {n: forms[0][n][0] for n in names}, 1, 1)
        values = {n: jnp.zeros((1, 2), jnp.float32) + jnp.asarray(forms[0][n][1]) for n in names}
        try:
            jax.eval_shape(jax.vmap(fn), values, jnp.zeros((1,), jnp.uint32))
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
                jax.errors.TracerIntegerConversionError, TypeError):  # fmt: skip
            return False
        return True

    if traces(candidates):
        return candidates
    return [n for n in candidates if traces([n])]


def _run_fn(
    cls: type, env: Any, template: Any, forms: Mapping[str, str], n_iterations: int,
    eval_episodes: int,
) -> Callable[[dict[str, jax.Array], jax.Array], tuple]:  # fmt: skip
    """One run as a function of its traced numbers and seed: (final state, the episode
    return sums [U] and counts [U] of each update, evaluation returns [E])."""

    def run(values: dict[str, jax.Array], seed: jax.Array) -> tuple:
        config = _substitute(template, forms, values)
        loop = make_loop(build_algorithm(cls, config, env), env)
        state = loop.init(seed)

        def iteration(state: LoopState, _: None) -> tuple[LoopState, tuple]:
            state, metrics = loop.iterate_jax(state)
            return state, (metrics["episode_return_sum"], metrics["episodes"])

        state, (sums, counts) = jax.lax.scan(iteration, state, None, length=n_iterations)
        key = jax.random.PRNGKey(seed + EVAL_SEED_OFFSET)
        returns, _ = Evaluator(loop).run_jax(state, key, eval_episodes, True)
        return state, sums, counts, returns

    return run


def _train_group(
    cls: type,
    env_id: str,
    group: Group,
    full_configs: list[Any],
    forms: list[dict[str, Any]],
    seeds: list[int],
    eval_episodes: int,
    block: int,
    result: SweepResult,
) -> None:
    """Compile and run one group's program; fill its rows of `result`."""
    template = full_configs[group.configs[0]]
    env = make_env(env_id, n_envs=template.n_envs)
    steps_per_iteration = make_loop(build_algorithm(cls, template, env), env).steps_per_iteration
    n_iterations = max(1, -(-template.total_steps // steps_per_iteration))
    group_forms = {n: forms[group.configs[0]][n][0] for n in group.traced}
    run = blocked(_run_fn(cls, env, template, group_forms, n_iterations, eval_episodes), block)
    S = len(seeds)
    values = {
        n: jnp.asarray(np.repeat([forms[c][n][1] for c in group.configs], S, axis=0), jnp.float32)
        for n in group.traced
    }  # [R, 2]: each configuration's numbers, once per seed
    seed_array = jnp.asarray(np.tile(seeds, len(group.configs)), jnp.uint32)
    start = time.perf_counter()
    compiled = run.lower(values, seed_array).compile()
    group.compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    states, sums, counts, returns = jax.block_until_ready(compiled(values, seed_array))
    group.train_seconds = time.perf_counter() - start
    group.states = states
    sums, counts, returns = (np.asarray(x) for x in (sums, counts, returns))
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = sums / counts  # [R, U] (a team's: [R, U] of per-agent means, as seeds.py)
    while returns.ndim > 2:  # a team's [R, E, A]: the mean over its agents
        returns = returns.mean(axis=-1)
    while curve.ndim > 2:
        curve = curve.mean(axis=-1)
    steps = np.arange(1, n_iterations + 1) * steps_per_iteration
    for i, c in enumerate(group.configs):
        rows = slice(i * S, (i + 1) * S)
        result.final_returns[c] = returns[rows].mean(axis=1)
        result.curves[c] = curve[rows]
        result.env_steps[c] = steps


def blocked(one: Callable[..., Any], block: int) -> Callable[..., Any]:
    """`one` over arguments with a leading run axis [R, ...], compiled: `block` runs side
    by side (`vmap`), the blocks one after another (`lax.map`); R is padded to whole
    blocks with copies of the last run, whose results are dropped."""

    @jax.jit
    def run(*args: Any) -> Any:
        runs = jax.tree.leaves(args)[0].shape[0]
        size = max(1, min(block, runs))
        blocks = -(-runs // size)

        def split(x: jax.Array) -> jax.Array:
            pad = jnp.repeat(x[-1:], blocks * size - runs, axis=0)
            return jnp.concatenate([x, pad]).reshape(blocks, size, *x.shape[1:])

        out = jax.lax.map(lambda a: jax.vmap(one)(*a), jax.tree.map(split, args))
        return jax.tree.map(lambda x: x.reshape(blocks * size, *x.shape[2:])[:runs], out)

    return run
