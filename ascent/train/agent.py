"""An agent: an algorithm, its environment, its training state and its run folder.

`Agent.learn` drives the algorithm's loop in chunks of iterations; between chunks the
host logs metrics, moves the progress bar, checks that everything stayed finite
and writes checkpoints. `Agent.save` / `Agent.load` use the checkpoint format of
`ascent.io.checkpoint`, so a saved agent and a run's checkpoint are the same thing.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ascent.algos.config import MAX_STEPS, config_to_dict, whole_number
from ascent.algos.registry import algorithm_class, make_config
from ascent.envs import HostVecEnv, clip_action
from ascent.envs import make as make_env
from ascent.envs.registry import EnvLike, check_saved_id, env_label
from ascent.envs.watchdog import STEP_TIMEOUT
from ascent.errors import CheckpointError, ConfigError, EnvError, StorageError, TrainingError
from ascent.io import (
    MetricsLogger,
    TrainingProgress,
    load_checkpoint,
    plot_curve,
    prune_checkpoints,
    read_json,
    read_meta,
    save_checkpoint,
    write_json,
)
from ascent.io.checkpoint import check_finite_state, list_checkpoints
from ascent.io.metrics import drop_rows_after
from ascent.io.run_dir import RunLock, time_stamp
from ascent.runtime import CachedJit, inline_cpu_dispatch
from ascent.train import make_loop
from ascent.train.evaluate import EvalResult, Evaluator
from ascent.train.loop import LoopState, all_finite

EVAL_SEED_OFFSET = 1_000_003  # evaluation environments never share seeds with training ones
MAX_SEED = 2**31 - 1
KEEP_CHECKPOINTS = 3
# log rows per compiled call on the JAX door: each call has a fixed cost (0.25 ms for the
# program, near 1 ms with the host's work around it); PPO CartPole's compiled door took
# 1.60 s with one row (3 iterations) per call and 1.51 s with ten
ROWS_PER_COMPILED_CHUNK = 10
# the Gymnasium door comes back to the agent (checks, metrics, progress bar) about this
# often, in whole rows, at most ROWS_PER_COMPILED_CHUNK: each return costs ~1 ms (packing
# the state, a finiteness check, metrics), 0.13 s of PPO CartPole's 2.3 s at a row a chunk
HOST_CHUNK_SECONDS = 0.25
FINITE_CHECKS = {
    "finite_obs": "observation",
    "finite_reward": "reward",
    "finite_loss": "loss",
}


class Agent:
    """Build with `ascent.make(...)` or `ascent.load(path)`."""

    def __init__(
        self,
        algo: str,
        env: EnvLike,
        config: Any,
        seed: int = 0,
        *,
        step_timeout: float | None = STEP_TIMEOUT,
    ):
        """`env`: an id, an environment object or a function returning one (see
        `ascent.envs.make`); `step_timeout`: seconds a Gymnasium environment's step() or
        reset() may take before training stops (None: no limit)."""
        inline_cpu_dispatch()  # before this process's first JAX computation, if it is
        self.run_dir: Path | None = None
        self._lock: RunLock | None = None  # held while this agent may write its run folder
        # derived seeds (environments seed + i, evaluation seed + EVAL_SEED_OFFSET) stay
        # below 2^32, where JAX's PRNGKey wraps around
        seed = whole_number("seed", seed, minimum=0, maximum=MAX_SEED)
        cls = algorithm_class(algo)
        self.algo_name = cls.name
        self.config = config
        self.seed = seed
        self.env = make_env(env, n_envs=config.n_envs, seed=seed, step_timeout=step_timeout)
        self.env_id = env_label(env if isinstance(env, str) else self.env)
        try:
            self.algorithm = cls(config, self.env.observation_space, self.env.action_space)
        except Exception:
            self.close()  # an algorithm that rejects the spaces leaves no environment open
            raise
        self.loop = make_loop(self.algorithm, self.env)
        self.evaluator = Evaluator(self.loop)
        self.state: LoopState = self.loop.init(seed)
        # the target of the run's `learn` (recorded, so that a resumed run goes on to it)
        self.total_steps: int = config.total_steps
        self.train_seconds = 0.0  # wall-clock spent in `learn`, compiling included
        self.last_checkpoint: Path | None = None
        self._host_obs: np.ndarray | None = None
        self._host_rows = 1  # rows in the Gymnasium door's next chunk, from the last one's time
        self._act_key = jax.random.PRNGKey(seed + EVAL_SEED_OFFSET)
        self._state_finite = CachedJit(all_finite)
        # iterations per compiled chunk (one metrics row each) and between checkpoints;
        # saved with the state so a resumed run cuts its chunks where the original did
        iterations = self.iterations_for(config.total_steps)
        self.log_every = max(1, iterations // 100)
        self.checkpoint_every = self.log_every * max(1, iterations // (10 * self.log_every))

    # --- counters -----------------------------------------------------------------

    @property
    def env_steps(self) -> int:
        return int(self.state.env_steps)

    @property
    def iterations(self) -> int:
        """Completed collect → learn iterations."""
        return int(self.state.iteration)

    def iterations_for(self, total_steps: int) -> int:
        return max(1, math.ceil(total_steps / self.loop.steps_per_iteration))

    @property
    def is_jax_door(self) -> bool:
        return self.loop.is_jax

    def meta(self) -> dict[str, Any]:
        return {
            "algo": self.algo_name,
            "env_id": self.env_id,
            "seed": self.seed,
            "config": config_to_dict(self.config),
            "env_steps": self.env_steps,
            "iterations": self.iterations,
            "door": "jax" if self.is_jax_door else "host",
            "log_every": self.log_every,
            "train_seconds": self.train_seconds,
            "checkpoint_every": self.checkpoint_every,
            "total_steps": self.total_steps,
        }

    # --- training -----------------------------------------------------------------

    def learn(
        self,
        total_steps: int | None = None,
        *,
        run_dir: str | Path | None = None,
        progress: bool = True,
        log_every: int | None = None,
        checkpoint_every: int | None = None,
    ) -> Agent:
        """Train until `total_steps` environment steps (default: the config's).

        With `run_dir` (or a run folder already attached), writes metrics.csv,
        TensorBoard events and checkpoints there. A metrics row sums up `log_every`
        iterations; the Gymnasium door comes back from its loop after as many rows as
        take about a quarter of a second (up to ten), the JAX door after up to ten rows
        in one compiled call. A checkpoint is written every
        `checkpoint_every` iterations (by default about ten per run). Both default to the
        agent's (a loaded agent's are those of the run it continues) and are kept for the
        next call.
        """
        # kept in the agent (and its checkpoints' meta) so a resumed run chunks the same way

        def pick(name: str, value: Any) -> int:
            return whole_number(name, getattr(self, name) if value is None else value)

        total_steps = self.config.total_steps if total_steps is None else total_steps
        self.total_steps = total_steps = pick("total_steps", total_steps)
        self.log_every = pick("log_every", log_every)
        self.checkpoint_every = pick("checkpoint_every", checkpoint_every)
        locked_here = self._lock is None  # a folder locked here is free again after
        if run_dir is not None:
            self.attach_run_dir(Path(run_dir))
        elif self.run_dir is not None:  # what this run really uses, should it be resumed
            self.attach_run_dir(self.run_dir)
        try:
            with self._writing():
                self._train(self.iterations_for(total_steps), total_steps, progress)
                if self.run_dir:
                    self.checkpoint()
        finally:
            if locked_here:
                self.release_run_dir()
        return self

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A full disk or a refused write in the run folder stops with one line
        (StorageError); checkpoints are written atomically, so the last one is intact."""
        try:
            yield
        except OSError as e:
            where = e.filename or self.run_dir
            raise StorageError(
                f"cannot write {where}: {e.strerror or e}; training stopped, {self._kept()}"
            ) from None

    def _train(self, iterations_total: int, total_steps: int, progress: bool) -> None:
        """Chunks of iterations until `iterations_total`, each checked, logged and
        checkpointed on cadence."""
        logger = MetricsLogger(self.run_dir) if self.run_dir else None
        bar = TrainingProgress(
            total_steps,
            description=f"{self.algo_name} {self.env_id}",
            enabled=progress,
            start_steps=self.env_steps,
        )
        try:
            with bar:
                last_return = None
                while self.iterations < iterations_total:
                    n = self._chunk_length(iterations_total)
                    start_iteration, start_steps, t0 = (
                        self.iterations,
                        self.env_steps,
                        time.perf_counter(),
                    )
                    try:
                        state, metrics = self._run_chunk(n)
                    except EnvError as e:  # the environment's fault: say where training is
                        raise type(e)(f"{e}; training stopped, {self._kept()}") from None
                    self._check_finite(metrics, state, start_iteration, start_steps)
                    self.state = state
                    seconds = time.perf_counter() - t0
                    per_row = max(seconds, 1e-9) * self.log_every / n
                    rows = max(1, int(HOST_CHUNK_SECONDS / per_row))
                    self._host_rows = min(rows, ROWS_PER_COMPILED_CHUNK)
                    chunk_return = self._log_rows(
                        logger, metrics, seconds, start_iteration, start_steps
                    )
                    last_return = last_return if chunk_return is None else chunk_return
                    bar.update(self.env_steps, last_return)
                    if self.run_dir and self.iterations % self.checkpoint_every == 0:
                        self.checkpoint()
        finally:
            if logger:
                logger.close()

    def _log_rows(
        self,
        logger: MetricsLogger | None,
        metrics: dict[str, np.ndarray],
        seconds: float,
        start_iteration: int,
        start_steps: int,
    ) -> float | None:
        """One metrics row per `log_every` iterations of a chunk (its seconds shared out
        by iterations); returns the last row's episode return, if any episode ended."""
        n = len(metrics["episodes"])
        per_iteration = self.loop.steps_per_iteration
        last_return = None
        for first in range(0, n, self.log_every):
            part = {k: v[first : first + self.log_every] for k, v in metrics.items()}
            count = len(part["episodes"])
            self.train_seconds += seconds * count / n
            row = _summarise(part, count * per_iteration, seconds * count / n)
            last_return = row.get("episode_return", last_return)
            if logger:
                steps = start_steps + (first + count) * per_iteration
                logger.log(
                    steps,
                    {
                        "env_steps": steps,
                        "iterations": start_iteration + first + count,
                        "train_seconds": self.train_seconds,
                        **row,
                    },
                )
        return last_return

    def _chunk_length(self, iterations_total: int) -> int:
        """Iterations in the next call: to the next multiple of ROWS_PER_COMPILED_CHUNK
        × log_every (JAX door; so chunks fall alike in a resumed run) or of as many rows
        as take about HOST_CHUNK_SECONDS (Gymnasium door, whose results do not depend on
        where its chunks fall), never past a checkpoint or the end, nor past 2^31 - 1
        (a compiled chunk counts its iterations in int32)."""
        rows = ROWS_PER_COMPILED_CHUNK if self.is_jax_door else self._host_rows
        i = self.iterations
        return min(
            rows * self.log_every - i % (rows * self.log_every),
            self.checkpoint_every - i % self.checkpoint_every,
            iterations_total - i,
            2**31 - 1,
        )

    def _run_chunk(self, n: int) -> tuple[LoopState, dict[str, np.ndarray]]:
        if self.is_jax_door:
            return self.loop.run_jax_chunk(self.state, n)
        if self._host_obs is None:
            # a resumed host-door run starts fresh episodes, seeded by the update count
            self._host_obs = self.env.reset(seed=self.seed + self.iterations)
            if self.state.episode_starts is not None:  # and a memory policy starts afresh
                starts = jnp.ones_like(self.state.episode_starts)
                self.state = self.state._replace(episode_starts=starts)
        state, metrics, self._host_obs = self.loop.run_host_chunk(self.state, n, self._host_obs)
        return state, metrics

    def _check_finite(
        self,
        metrics: dict[str, np.ndarray],
        state: LoopState,
        start_iteration: int,
        start_steps: int,
    ) -> None:
        """Stop at the first iteration of the chunk whose observations, rewards or losses
        were not finite, or if the state it ended with (parameters, optimiser) is not."""
        kept = self._kept()
        for flag, quantity in FINITE_CHECKS.items():
            bad = np.flatnonzero(metrics[flag] < 0.5)
            if bad.size:
                i = int(bad[0])
                step = start_steps + (i + 1) * self.loop.steps_per_iteration
                raise TrainingError(
                    f"non-finite {quantity} at iteration {start_iteration + i + 1} "
                    f"(environment step {step}); training stopped, {kept}"
                )
        if not bool(self._state_finite(state.algo)):
            end = start_iteration + len(next(iter(metrics.values())))
            raise TrainingError(
                f"non-finite parameters after iteration {end} (within iterations "
                f"{start_iteration + 1}-{end}); training stopped, {kept}"
            )

    def _kept(self) -> str:
        if self.last_checkpoint:
            return f"last good checkpoint: {self.last_checkpoint}"
        return "no checkpoint was written"

    # --- run folders and checkpoints ----------------------------------------------

    def attach_run_dir(self, run_dir: Path) -> None:
        """Write to `run_dir` from now on: lock it (RunInUseError if another process
        has it) and record the run's settings in config.json."""
        with self._writing():
            if self._lock is None or self._lock.run_dir != run_dir:
                lock = RunLock(run_dir)
                self.release_run_dir()
                self._lock = lock
            self.run_dir = run_dir
            write_json(run_dir / "config.json", self.meta())

    def release_run_dir(self) -> None:
        """Let other processes write the run folder (`close` does this too)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def saved_state(self) -> LoopState:
        """The state as checkpoints hold it: without the replay buffer unless the config
        asks for it (`save_buffer`; the buffer can be far larger than the networks)."""
        if getattr(self.config, "save_buffer", False):
            return self.state
        return self.state._replace(buffer=None)

    def checkpoint(self) -> Path:
        """Write `checkpoints/step_<n>` in the run folder, keeping the newest few."""
        assert self.run_dir is not None and self._lock is not None
        folder = self.run_dir / "checkpoints"
        path = save_checkpoint(
            folder / f"step_{self.env_steps:012d}", self.saved_state(), self.meta()
        )
        self.last_checkpoint = path
        prune_checkpoints(folder, KEEP_CHECKPOINTS)
        return path

    def save(self, path: str | Path) -> Path:
        """Save the whole training state (a checkpoint folder) at `path`."""
        return save_checkpoint(Path(path), self.saved_state(), self.meta())

    @classmethod
    def load(cls, path: str | Path, env: EnvLike | None = None) -> Agent:
        """An agent from a checkpoint folder, a run folder (its final or latest
        checkpoint) or a path given to `save`.

        The environment is the one the checkpoint names, if it is registered (a file
        never makes Ascent import a module), or `env`: an id, object or function, needed
        for a run trained on an environment object."""
        path = Path(path)
        checkpoint = _resolve_checkpoint(path)
        meta = read_meta(checkpoint)
        agent = _agent_of(meta, str(checkpoint / "meta.json"), env)
        try:
            saved, _ = load_checkpoint(checkpoint, template=agent.saved_state())
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

    def finish(self, eval_episodes: int) -> EvalResult:
        """End a run: final checkpoint, evaluation (eval.json) and curve.png."""
        assert self.run_dir is not None
        whole_number("eval_episodes", eval_episodes)  # before the final checkpoint is written
        if self._lock is None:
            self.attach_run_dir(self.run_dir)
        with self._writing():
            save_checkpoint(self.run_dir / "final", self.saved_state(), self.meta())
            result = self.evaluate(eval_episodes)
            write_json(self.run_dir / "eval.json", result.to_dict())
            if (self.run_dir / "metrics.csv").is_file():
                plot_curve(self.run_dir)
        return result

    # --- using the policy ---------------------------------------------------------

    def evaluate(
        self, episodes: int = 20, *, deterministic: bool = True, seed: int | None = None
    ) -> EvalResult:
        """Returns of `episodes` whole episodes on fresh environments."""
        whole_number("episodes", episodes)
        seed = (
            self.seed + EVAL_SEED_OFFSET if seed is None else whole_number("seed", seed, minimum=0)
        )
        result = self.evaluator(self.state, episodes, seed, deterministic=deterministic)
        if isinstance(self.env, HostVecEnv) and self.env.factory is None:
            self._host_obs = None  # evaluation stepped the one environment: start anew
        return result

    def act(
        self,
        obs: Any,
        state: Any = None,
        deterministic: bool = True,
        episode_start: Any = None,
    ) -> tuple[np.ndarray, Any]:
        """The action for one observation (or a batch), ready for `env.step`.

        Returns (action, state). For a memory policy (`policy` lstm, gru, transformer)
        `state` is what it carries between steps: pass None at the start of an episode and
        the returned state on each later step; `episode_start` (a bool, or one per row of
        a batch) resets the rows whose episode begins at this observation, as
        Stable-Baselines3's `predict` does. For a feed-forward policy `state` passes
        through unchanged.
        """
        obs = np.asarray(obs, np.float32)
        single = obs.shape == tuple(self.env.observation_space.shape)
        batch = obs[None] if single else obs
        self._act_key, key = jax.random.split(self._act_key)
        acting = self.loop.acting
        policy_state, starts = None, None
        if acting.memory:
            n = batch.shape[0]
            if state is None:
                policy_state, starts = acting.initial(n)
            else:
                flags = False if episode_start is None else episode_start
                policy_state, starts = state, np.broadcast_to(np.asarray(flags, bool), (n,))
        action, _, policy_state = acting.compiled(deterministic)(
            self.state.algo, self.state.norm, policy_state, starts, batch, key
        )
        state = policy_state if acting.memory else state  # a feed-forward one's passes through
        action = clip_action(np.asarray(action), self.env.action_space)
        return (action[0] if single else action), state

    def close(self) -> None:
        self.release_run_dir()
        if isinstance(self.env, HostVecEnv):
            self.env.close()


def _summarise(metrics: dict[str, np.ndarray], steps: int, seconds: float) -> dict[str, float]:
    """One metrics row for a chunk: means over its iterations, episode-weighted returns."""
    row = {
        k: float(np.mean(v)) for k, v in metrics.items() if not k.startswith(("finite_", "episode"))
    }
    row.pop("episodes", None)
    episodes = float(metrics["episodes"].sum())
    if episodes > 0:
        row["episode_return"] = float(metrics["episode_return_sum"].sum()) / episodes
        row["episode_length"] = float(metrics["episode_length_sum"].sum()) / episodes
    row["episodes"] = episodes
    row["steps_per_second"] = steps / max(seconds, 1e-9)
    return row


def _agent_of(meta: Any, where: str, env: EnvLike | None) -> Agent:
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
    agent = Agent(meta["algo"], env, config, count("seed", None, minimum=0, maximum=MAX_SEED))
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
    run_dir: str | Path, env: EnvLike | None = None, start: str | Path | None = None
) -> Agent:
    """The agent of a run folder at its newest checkpoint (or at `start`, a checkpoint's
    name such as `step_000000004096`), ready to `learn` on; `env` as for `Agent.load`.

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
            agent = _agent_of(read_json(where), str(where), env)
        else:
            try:
                agent = Agent.load(chosen, env)
            except CheckpointError as e:
                older = [p.name for _, p in found if p != chosen]
                hint = f"; or resume from an older one: --resume-from {older[-1]}" if older else ""
                raise CheckpointError(f"cannot resume from {chosen.name}: {e}{hint}") from None
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
