"""An agent: an algorithm, its environment, its training state and its run folder.

A thin front that owns its run: `Agent.learn` takes the chunks of iterations its
runner (`runner.py`: driver, checks, metrics rows, progress bar) yields, keeps each
good chunk's state and counters, and writes the checkpoints; `Agent.save` uses the
checkpoint format of `ascent.io.checkpoint`, so a saved agent and a run's checkpoint are
the same thing (`runs.py` loads them back into agents and resumes runs).
"""

from __future__ import annotations

import contextlib
import math
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ascent.algos.config import config_to_dict, whole_number
from ascent.catalog import algorithm_class, build_algorithm
from ascent.envs import AgentObs, HostVecEnv, env_action, is_multiagent
from ascent.envs import make as make_env
from ascent.envs.host import ActionMaskSource
from ascent.envs.registry import EnvLike, env_label
from ascent.envs.watchdog import STEP_TIMEOUT
from ascent.errors import ConfigError, EnvError, Interrupted, StorageError, TrainingError
from ascent.io import (
    TrainingProgress,
    list_checkpoints,
    plot_curve,
    prune_checkpoints,
    save_checkpoint,
    write_json,
)
from ascent.io.loggers import DEFAULT_LOGGERS, open_loggers
from ascent.io.run_dir import RunLock
from ascent.nn.encoders import ObsSpec
from ascent.runtime import default_compile_cache, inline_cpu_dispatch
from ascent.train import make_loop
from ascent.train.evaluate import EvalResult, Evaluator
from ascent.train.hooks import Callback, Hooks
from ascent.train.loop import LoopState
from ascent.train.runner import Cadence, Runner
from ascent.train.signals import GracefulStop
from ascent.train.workers import driver_for

EVAL_SEED_OFFSET = 1_000_003  # evaluation environments never share seeds with training ones
MAX_SEED = 2**31 - 1
KEEP_CHECKPOINTS = 3


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
        action_mask: ActionMaskSource = None,
        env_options: dict[str, Any] | None = None,
    ):
        """`env`: an id, an environment object or a function returning one (see
        `ascent.envs.make`); `step_timeout`: seconds a Gymnasium environment's step() or
        reset() may take before training stops (None: no limit); `action_mask`: "info" or
        a function of an observation, where a Gymnasium environment's allowed actions come
        from when its observations do not carry them; `env_options`: an id's own options
        (`atari/<Game>`'s `engine="envpool"`), recorded with the run."""
        inline_cpu_dispatch()  # before this process's first JAX computation, if it is
        default_compile_cache()  # a second run in a new process starts warm (compile_cache.py)
        self.run_dir: Path | None = None
        # where a run's metrics rows go besides metrics.csv (`ascent.io.loggers.LOGGERS`)
        self.loggers: tuple[str, ...] = DEFAULT_LOGGERS
        self._lock: RunLock | None = None  # held while this agent may write its run folder
        # derived seeds (environments seed + i, evaluation seed + EVAL_SEED_OFFSET) stay
        # below 2^32, where JAX's PRNGKey wraps around
        seed = whole_number("seed", seed, minimum=0, maximum=MAX_SEED)
        cls = algorithm_class(algo)
        self.algo_name = cls.name
        self.config = config
        self.seed = seed
        self.action_mask = action_mask
        self.env_options = dict(env_options or {})
        self.env = make_env(
            env,
            n_envs=config.n_envs,
            seed=seed,
            step_timeout=step_timeout,
            action_mask=action_mask,
            **self.env_options,
        )
        self.env_id = env_label(env if isinstance(env, str) else self.env)
        try:
            self.algorithm = build_algorithm(cls, config, self.env)
            self.loop = make_loop(self.algorithm, self.env)
        except Exception:
            self.close()  # an algorithm or loop that rejects the env leaves it closed
            raise
        self.evaluator = Evaluator(self.loop)
        self.state: LoopState = self.loop.init(seed)
        # the target of the run's `learn` (recorded, so that a resumed run goes on to it)
        self.total_steps: int = config.total_steps
        self.train_seconds = 0.0  # wall-clock spent in `learn`, compiling included
        self.last_checkpoint: Path | None = None
        self._act_key = jax.random.PRNGKey(seed + EVAL_SEED_OFFSET)
        self.runner = Runner(self.loop, driver_for(self.loop, seed))
        # iterations per compiled chunk (one metrics row each) and between checkpoints;
        # saved with the state so a resumed run cuts its chunks where the original did
        iterations = self.iterations_for(config.total_steps)
        self.log_every = max(1, iterations // 100)
        self.checkpoint_every = self.log_every * max(1, iterations // (10 * self.log_every))

    def __repr__(self) -> str:
        run = f"run {self.run_dir}" if self.run_dir is not None else "no run folder"
        return (
            f"Agent({self.algo_name} on {self.env_id}, seed {self.seed}, "
            f"{self.env_steps:,} steps, {run})"
        )

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
            # how each leaf is read (an image's channel order and torso): stated, not guessed
            "observation": self.observation(),
            # a function cannot be saved: `ascent.load(..., action_mask=...)` takes it again
            "action_mask": self.action_mask if self.action_mask in (None, "info") else "function",
            "env_options": self.env_options,  # made again with them by `ascent.load`
            "log_every": self.log_every,
            "train_seconds": self.train_seconds,
            "checkpoint_every": self.checkpoint_every,
            "total_steps": self.total_steps,
        }

    def observation(self) -> dict[str, str] | None:
        """Each observation leaf's path and how the policy reads it (`ObsSpec.describe`);
        None for teams, whose observations are each agent's vector."""
        if self.algorithm.multi_agent:
            return None
        return ObsSpec.of(self.env.observation_space, self.config.torso).describe()

    # --- training -----------------------------------------------------------------

    def learn(
        self,
        total_steps: int | None = None,
        *,
        steps: int | None = None,
        run_dir: str | Path | None = None,
        progress: bool = True,
        log_every: int | None = None,
        checkpoint_every: int | None = None,
        callback: Callback | None = None,
        eval_every: int | None = None,
        eval_episodes: int = 10,
        stop_at_return: float | None = None,
    ) -> Agent:
        """Train until the agent has taken `total_steps` environment steps in all (counted
        from its first step: a loaded agent counts on from its run; default: the config's
        `total_steps`), or for `steps` more from where it is, as Stable-Baselines3's
        `learn(n, reset_num_timesteps=False)` does; not both. Steps are taken in whole
        iterations (`n_envs` × `n_steps` each for PPO), so the last one may go a little
        past the target. A call with nothing to do (the agent is there already) warns and
        returns.

        With `run_dir` (or a run folder already attached), writes metrics.csv,
        TensorBoard events and checkpoints there. A metrics row sums up `log_every`
        iterations; the Gymnasium door comes back from its loop after as many rows as
        take about a quarter of a second (up to ten), the JAX door after up to ten rows
        in one compiled call. A checkpoint is written every `checkpoint_every`
        iterations (by default about ten per run). Both default to the agent's (a loaded
        agent's are those of the run it continues) and are kept for the next call.

        Hooks, after each chunk of iterations:
        - `eval_every` (environment steps): a deterministic evaluation of `eval_episodes`
          episodes whenever the step count passes a multiple of it (chunks end there), logged
          as `eval_return`, `eval_return_std` and `eval_episodes`; the best policy so far
          is kept in the run folder's `best/` (a checkpoint: `ascent.load(RUN/best)`), and
          training stops once the mean return reaches `stop_at_return`.
        - `callback(agent, rows)`: the agent as it is now and the chunk's new metrics rows
          (dicts as logged, an evaluation's row last); returning False stops training
          (None or True goes on), as Stable-Baselines3's callbacks do. A stop keeps the
          state reached and writes a checkpoint as the end of a run does.
        """
        # kept in the agent (and its checkpoints' meta) so a resumed run chunks the same way

        def pick(name: str, value: Any) -> int:
            return whole_number(name, getattr(self, name) if value is None else value)

        if steps is not None:
            if total_steps is not None:
                raise ConfigError("learn takes total_steps (in all) or steps (more), not both")
            total_steps = self.env_steps + whole_number("steps", steps)
        total_steps = self.config.total_steps if total_steps is None else total_steps
        self.total_steps = total_steps = pick("total_steps", total_steps)
        self.log_every = pick("log_every", log_every)
        self.checkpoint_every = pick("checkpoint_every", checkpoint_every)
        hooks = Hooks.make(callback, eval_every, eval_episodes, stop_at_return)
        if self.iterations >= self.iterations_for(total_steps):
            warnings.warn(
                f"learn: nothing to do: the agent has taken {self.env_steps:,} steps and "
                f"total_steps is {total_steps:,} (steps in all); learn(steps=n) trains n more",
                stacklevel=2,
            )
            return self
        locked_here = self._lock is None  # a folder locked here is free again after
        if run_dir is not None:
            self.attach_run_dir(Path(run_dir))
        elif self.run_dir is not None:  # what this run really uses, should it be resumed
            self.attach_run_dir(self.run_dir)
        try:
            # SIGINT and SIGTERM stop at the end of a chunk (or at the last one's, when
            # it takes too long), saving a checkpoint: Interrupted says where (signals.py)
            stop = GracefulStop(self._save_on_signal, self._stopped_at_once)
            with self._writing(), stop:
                self._train(self.iterations_for(total_steps), progress, stop, hooks)
                with stop.lock:
                    if self.run_dir:
                        self.checkpoint()
                        write_json(self.run_dir / "config.json", self.meta())  # steps reached
                    self._stop_if_asked(stop)
        finally:
            if locked_here:
                self.release_run_dir()
        return self

    def _train(
        self, iterations_total: int, progress: bool, stop: GracefulStop, hooks: Hooks
    ) -> None:
        """The runner's chunks until `iterations_total`: each good chunk's state and
        time are kept, a checkpoint written on cadence and the hooks run (`hooks.py`),
        which may end training early; after a signal, the chunk's state is saved and
        training stops (`stop`)."""
        logger = open_loggers(self.run_dir, self.loggers) if self.run_dir else None
        hooks.start(self)
        bar = TrainingProgress(
            # the steps the last iteration ends on: the bar never passes its total
            iterations_total * self.loop.steps_per_iteration,
            description=f"{self.algo_name} {self.env_id}",
            enabled=progress,
            start_steps=self.env_steps,
        )
        chunks = self.runner.chunks(
            self.state,
            iterations_total,
            Cadence(
                self.log_every,
                self.checkpoint_every,
                hooks.eval_iterations(self.loop.steps_per_iteration),
            ),
            logger=logger,
            bar=bar,
            train_seconds=self.train_seconds,
        )
        try:
            with bar, contextlib.closing(chunks):
                for chunk in chunks:
                    with stop.lock:  # not while the signal thread saves (signals.py)
                        stop.check()
                        self.state, self.train_seconds = chunk.state, chunk.train_seconds
                        if self.run_dir and chunk.checkpoint_due:
                            self.checkpoint()
                        self._stop_if_asked(stop)
                        if not hooks.after_chunk(self, chunk.rows, chunk.eval_due, logger):
                            break
        except KeyboardInterrupt as e:
            # a continued run starts fresh episodes, as a resumed one does (the
            # Gymnasium door's environments may have stepped past the state kept)
            self.runner.driver.restart_episodes()
            if stop.raised is None or e is stop.raised:
                raise
            raise stop.raised from None  # Ray's calls raise a plain KeyboardInterrupt
        except (EnvError, TrainingError) as e:  # the environment's fault, a non-finite
            # quantity or a hung worker: say where training is
            raise type(e)(f"{e}; training stopped, {self.kept()}") from None
        finally:
            if logger:
                logger.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A full disk or a refused write in the run folder stops with one line
        (StorageError); checkpoints are written atomically, so the last one is intact."""
        try:
            yield
        except OSError as e:
            where = e.filename or self.run_dir
            raise StorageError(
                f"cannot write {where}: {e.strerror or e}; training stopped, {self.kept()}"
            ) from None

    def _stop_if_asked(self, stop: GracefulStop) -> None:
        """After a SIGINT or SIGTERM, save the state kept and raise Interrupted."""
        signum = stop.check()
        if signum is not None:
            stop.stopping()
            raise Interrupted(signum, self._save_on_signal(signum))

    def _save_on_signal(self, signum: int) -> str:
        """Save the state kept (the last good chunk's) in a checkpoint, unless it is the
        newest one already; returns the line to stop with."""
        name, step = signal.Signals(signum).name, self.env_steps
        if self.run_dir is None:
            return (
                f"{name}: training stopped at step {step}; nothing was saved (no run "
                "folder: agent.save(path) saves it)"
            )
        if self.last_checkpoint != self.checkpoint_path():
            self.checkpoint()
        return (
            f"{name}: training stopped at step {step}, checkpoint {self.last_checkpoint}; "
            f"resume with: ascent train --resume {self.run_dir}"
        )

    def _stopped_at_once(self, signum: int) -> str:
        """The line for a stop without saving (the signal came again)."""
        resume = f"; resume with: ascent train --resume {self.run_dir}" if self.run_dir else ""
        return f"{signal.Signals(signum).name} again: stopped at once, {self.kept()}{resume}"

    def kept(self) -> str:
        if self.last_checkpoint:
            return f"last good checkpoint: {self.last_checkpoint}"
        return "no checkpoint was written"

    # --- run folders and checkpoints ----------------------------------------------

    def attach_run_dir(self, run_dir: Path) -> None:
        """Write to `run_dir` from now on: lock it (RunInUseError if another process
        has it) and record the run's settings in config.json. A folder other than this
        agent's own run that holds checkpoints is another run: ConfigError, nothing
        written (its checkpoints would mix with this one's, and --resume pick the newest)."""
        if run_dir != self.run_dir and (found := list_checkpoints(run_dir)):
            raise ConfigError(
                f"run folder {run_dir} holds another run (checkpoints to step {found[-1][0]:,}); "
                f"continue it with: ascent train --resume {run_dir}, or choose another --run-dir"
            )
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
        if self.state.buffer is None or self.config.save_buffer:
            return self.state
        return self.state._replace(buffer=None)

    def checkpoint_path(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / "checkpoints" / f"step_{self.env_steps:012d}"

    def checkpoint(self) -> Path:
        """Write `checkpoints/step_<n>` in the run folder, keeping the newest few."""
        assert self.run_dir is not None and self._lock is not None
        path = save_checkpoint(self.checkpoint_path(), self.saved_state(), self.meta())
        self.last_checkpoint = path
        prune_checkpoints(path.parent, KEEP_CHECKPOINTS)
        return path

    def save(self, path: str | Path) -> Path:
        """Save the whole training state (a checkpoint folder) at `path`."""
        return save_checkpoint(Path(path), self.saved_state(), self.meta())

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
            self.runner.driver.restart_episodes()  # evaluation stepped the one environment
        return result

    def act(
        self,
        obs: Any,
        state: Any = None,
        deterministic: bool = True,
        episode_start: Any = None,
        action_mask: Any = None,
    ) -> tuple[np.ndarray, Any]:
        """The action for one observation (or a batch), ready for `env.step`: an array, or a
        dict or tuple of them as the observation space has it; for a team,
        the actions [A] of every agent for one `AgentObs` (or [N, A] for a batch of them).

        Returns (action, state). For a memory policy (`policy` lstm, gru, transformer)
        `state` is what it carries between steps: pass None at the start of an episode and
        the returned state on each later step; `episode_start` (a bool, or one per row of
        a batch) resets the rows whose episode begins at this observation, as
        Stable-Baselines3's `predict` does. For a feed-forward policy `state` passes
        through unchanged. `action_mask` (one per row of a batch): the actions allowed now,
        for an agent whose masks came from `info` or a function (`ascent.make(...,
        action_mask=...)`); an observation with its own `action_mask` key carries it.
        """
        if self.action_mask is not None:
            if action_mask is None:
                raise ConfigError(
                    "this agent's actions are masked (action_mask="
                    f"{self.action_mask if isinstance(self.action_mask, str) else 'a function'}"
                    "): pass the allowed actions, act(obs, action_mask=...)"
                )
            obs = {"obs": obs, "action_mask": np.asarray(action_mask, bool)}
        if is_multiagent(self.env):  # a team's AgentObs: actions [A], or [N, A] for a batch
            obs = AgentObs(*(np.asarray(x) for x in obs))
            single = obs.obs.ndim == 2
            batch = jax.tree.map(lambda x: x[None], obs) if single else obs
            rows = batch.obs.shape[0]
        else:  # an array, or a pytree of them shaped like the observation space
            spec = self.loop.obs_spec
            obs = spec.map(lambda leaf, x: np.asarray(x, leaf.dtype), obs)
            first = spec.values(obs)[0]
            single = first.ndim == len(spec.leaves()[0].shape)
            batch = jax.tree.map(lambda x: x[None], obs) if single else obs
            rows = spec.values(batch)[0].shape[0]
        self._act_key, key = jax.random.split(self._act_key)
        acting = self.loop.acting
        policy_state, starts = acting.carried(state, episode_start, rows)
        action, _, policy_state = acting.compiled(deterministic)(
            self.state.algo, self.state.norm, policy_state, starts, batch, key
        )
        state = policy_state if acting.memory else state  # a feed-forward one's passes through
        action = env_action(np.asarray(action), self.env.action_space)
        return (action[0] if single else action), state

    def close(self) -> None:
        self.release_run_dir()
        if isinstance(self.env, HostVecEnv):
            self.env.close()
