"""Run folders and checkpoints turned back into agents: loading one (`load_agent`,
behind `ascent.load`) and resuming a run where it stopped (`resume`), never passing over
a damaged checkpoint or deleting what a run wrote."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ascent.algos.config import MAX_STEPS, whole_number
from ascent.catalog import make_config
from ascent.envs.host import ActionMaskSource
from ascent.envs.registry import EnvLike, check_saved_id, env_label
from ascent.errors import CheckpointError, ConfigError
from ascent.io import load_checkpoint, read_json, read_meta
from ascent.io.checkpoint import check_finite_state, list_checkpoints
from ascent.io.metrics import drop_rows_after
from ascent.io.run_dir import RunLock, time_stamp
from ascent.train.agent import MAX_SEED, Agent


def load_agent(
    path: Path, env: EnvLike | None = None, action_mask: ActionMaskSource = None
) -> Agent:
    """The agent of a checkpoint folder, a run folder (its final or newest checkpoint)
    or a path given to `Agent.save`; `env` and `action_mask` as for `ascent.load`."""
    checkpoint = _resolve_checkpoint(path)
    meta = read_meta(checkpoint)
    agent = _agent_of(meta, str(checkpoint / "meta.json"), env, action_mask)
    # a state saved on the other door: parameters, statistics and counters carry over,
    # the environments start afresh (the JAX door's are in the state, the other's are not)
    door = "jax" if agent.is_jax_door else "host"
    fresh = (".env",) if meta.get("door", door) != door else ()
    try:
        saved, _ = load_checkpoint(checkpoint, template=agent.saved_state(), fresh=fresh)
        check_finite_state(saved, checkpoint)
    except BaseException:
        agent.close()
        raise
    # a state saved without its replay buffer gets the fresh, empty one
    agent.state = saved._replace(buffer=agent.state.buffer) if saved.buffer is None else saved
    agent.last_checkpoint = checkpoint
    if path.is_dir() and (path / "config.json").is_file():
        agent.run_dir = path  # locked when it is written to
    return agent


def _agent_of(
    meta: Any, where: str, env: EnvLike | None, action_mask: ActionMaskSource = None
) -> Agent:
    """An untrained agent as `meta` (a checkpoint's or a run's config.json) describes
    it; CheckpointError naming `where` for anything wrong in it."""
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{where} has no 'config' object; it is not an Ascent run")
    if not isinstance(meta.get("algo"), str):
        raise CheckpointError(f"{where} has no 'algo' name; it is not an Ascent run")

    def count(key: str, default: int | None, minimum: int = 1, maximum: int = MAX_STEPS) -> int:
        value = meta.get(key, default)
        try:
            return whole_number(key, value, minimum=minimum, maximum=maximum)
        except ConfigError as e:
            raise CheckpointError(f"{where}: {e}") from None

    env = check_saved_id(meta.get("env_id"), where) if env is None else env
    try:
        config = make_config(meta["algo"], env_label(env), meta["config"], use_preset=False)
    except ConfigError as e:
        raise CheckpointError(f"{where}: {e}") from None
    action_mask = _saved_mask(meta.get("action_mask"), action_mask, where)
    seed = count("seed", None, minimum=0, maximum=MAX_SEED)
    # the saved environment's options, for that environment only (another given instead
    # is made as it is given)
    options = _saved_env_options(meta.get("env_options"), where)
    options = options if env == meta.get("env_id") else {}
    agent = Agent(meta["algo"], env, config, seed, action_mask=action_mask, env_options=options)
    try:
        agent.log_every = count("log_every", agent.log_every)
        agent.checkpoint_every = count("checkpoint_every", agent.checkpoint_every)
        agent.total_steps = count("total_steps", config.total_steps)
        seconds = meta.get("train_seconds", 0.0)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not (0 <= seconds < math.inf)
        ):
            raise CheckpointError(f"{where}: train_seconds must be a number >= 0, got {seconds!r}")
        agent.train_seconds = float(seconds)
    except BaseException:
        agent.close()
        raise
    return agent


def _saved_env_options(saved: Any, where: str) -> dict[str, Any]:
    """An environment's options as a run saved them: names and JSON scalars."""
    if saved is None:
        return {}
    if not isinstance(saved, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in saved.items()
    ):
        raise CheckpointError(f"{where}: env_options must map names to values, got {saved!r}")
    return dict(saved)


def _saved_mask(saved: Any, given: ActionMaskSource, where: str) -> ActionMaskSource:
    """Where the masks of a run come from: as saved ("info", or none), or the function
    `given` again for one trained with a function (a file holds no code)."""
    if saved in (None, "info"):
        return given if given is not None else saved
    if saved == "function":
        if given is None:
            raise CheckpointError(
                f"{where}: this run's action masks came from a function; pass it again: "
                "ascent.load(path, action_mask=...)"
            )
        return given
    raise CheckpointError(f"{where}: action_mask must be null, 'info' or 'function', got {saved!r}")


def _resolve_checkpoint(path: Path) -> Path:
    """The checkpoint `path` names: itself, a run's final/ or its newest checkpoint
    (never an older one in its place: a damaged newest one is reported on loading)."""
    if (path / "meta.json").exists():
        return path
    if (path / "final").is_dir():
        return path / "final"
    found = list_checkpoints(path / "checkpoints")
    if found:
        return found[-1][1]
    raise CheckpointError(
        f"no checkpoint at {path}: expected meta.json, final/ or checkpoints/ there"
    )


def resume(
    run_dir: str | Path,
    env: EnvLike | None = None,
    start: str | Path | None = None,
    action_mask: ActionMaskSource = None,
    *,
    check_finished: bool = False,
    total_steps: int | None = None,
) -> Agent:
    """The agent of a run folder at its newest checkpoint (or at `start`, a checkpoint's
    name such as `step_000000004096`), ready to `learn` on; `env` as for `ascent.load`.
    With `check_finished` (`ascent train --resume`), a run with nothing left to train
    to `total_steps` (default: its own target) is refused, ConfigError naming
    `--total-steps`, before anything in its folder is moved.

    The run folder is locked first. A newest checkpoint that cannot be loaded stops
    the resume (CheckpointError naming it); nothing is passed over silently. Rows of
    metrics.csv after the checkpoint are dropped (the resumed run logs them again); when
    `start` is older than the newest, the later checkpoints, final/ and those rows are
    moved into `abandoned/` in the run folder, not deleted.
    """
    run_dir = Path(run_dir)
    lock = RunLock(run_dir)
    try:
        found = list_checkpoints(run_dir / "checkpoints")
        chosen = found[-1][1] if found else None
        if start is not None:
            chosen = run_dir / "checkpoints" / Path(start).name
            if not chosen.is_dir():
                names = ", ".join(p.name for _, p in found[-3:]) or "none"
                raise CheckpointError(f"no checkpoint {chosen}; the newest are: {names}")
        if chosen is None:
            where = run_dir / "config.json"
            agent = _agent_of(read_json(where), str(where), env, action_mask)
        else:
            try:
                agent = load_agent(chosen, env, action_mask)
            except CheckpointError as e:
                older = [p.name for _, p in found if p != chosen]
                hint = f"; or resume from an older one: --resume-from {older[-1]}" if older else ""
                raise CheckpointError(f"cannot resume from {chosen.name}: {e}{hint}") from None
        target = agent.total_steps if total_steps is None else total_steps
        if check_finished and agent.iterations >= agent.iterations_for(target):
            agent.close()
            raise ConfigError(_finished(run_dir, agent.env_steps, target, total_steps is None))
    except BaseException:
        lock.release()
        raise
    agent._lock, agent.run_dir = lock, run_dir
    later = [p for step, p in found if step > agent.env_steps]
    if later and (run_dir / "final").is_dir():
        later.append(run_dir / "final")
    aside = None
    if later:
        aside = run_dir / "abandoned" / f"after-{chosen.name if chosen else 'start'}-{time_stamp()}"
        for path in later:
            aside.mkdir(parents=True, exist_ok=True)
            path.rename(aside / path.name)
    # rows logged after the checkpoint will be logged again by the resumed run
    drop_rows_after(run_dir, agent.env_steps, keep_in=aside and aside / "metrics.csv")
    return agent


def _finished(run_dir: Path, steps: int, target: int, own_target: bool) -> str:
    """What to do with a run that has nothing left to train."""
    further = f"train further with --resume {run_dir} --total-steps N (steps in all, N > {steps:,})"
    if own_target:
        return f"run {run_dir} has finished ({steps:,} of {target:,} steps); {further}"
    return f"run {run_dir} has taken {steps:,} steps already, --total-steps {target:,}; {further}"
