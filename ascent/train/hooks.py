"""What `Agent.learn` does between chunks of iterations at the user's request: a periodic
deterministic evaluation that keeps the best policy and may stop training at a return, and
a callback that sees each chunk's metrics rows and may stop training.

The semantics, exactly:
- Evaluation `eval_every` environment steps: the runner ends a chunk at each iteration
  where the step count reaches a multiple of `eval_every` (rounded up to whole
  iterations), and there `Agent.evaluate(eval_episodes)` runs, deterministic, on its usual
  fresh environments and seeds (the same ones each time, so two evaluations differ only by
  the policy). Its row `eval_return`, `eval_return_std`, `eval_episodes` is logged at
  that step. A mean return above every earlier one of this run (the one stored in
  `RUN/best/`, for a resumed run) saves the state as the checkpoint `RUN/best/`, its meta
  holding `eval_return`; without a run folder the best is only reported
  (`Hooks.best_return`). A mean return at or above `stop_at_return` stops training.
- `callback(agent, rows)` after every chunk (after the evaluation, if one was due): the
  agent with the chunk's state and counters, and the chunk's metrics rows as logged (an
  evaluation's row last). Returning False stops training; None or True go on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ascent.algos.config import whole_number
from ascent.errors import CheckpointError, ConfigError
from ascent.io import read_meta, save_checkpoint
from ascent.io.loggers import Logger
from ascent.train.evaluate import EvalResult

BEST = "best"  # the run folder's checkpoint of the best evaluated policy


class Learner(Protocol):
    """What the hooks use of an `Agent` (which imports this module)."""

    run_dir: Path | None

    @property
    def env_steps(self) -> int: ...

    def evaluate(self, episodes: int = 20) -> EvalResult: ...

    def meta(self) -> dict[str, Any]: ...

    def saved_state(self) -> Any: ...


Rows = Sequence[dict[str, float]]
Callback = Callable[[Any, Rows], Any]  # (the agent, its new rows) -> False to stop


@dataclass
class Hooks:
    callback: Callback | None = None
    eval_every: int = 0  # environment steps; 0: no evaluation during training
    eval_episodes: int = 10
    stop_at_return: float | None = None
    best_return: float = -math.inf

    @classmethod
    def make(
        cls,
        callback: Callback | None,
        eval_every: int | None,
        eval_episodes: int,
        stop_at_return: float | None,
    ) -> Hooks:
        """Checked before anything runs: one line for a bad value."""
        if callback is not None and not callable(callback):
            raise ConfigError(f"callback must be a function (agent, rows), got {callback!r}")
        if stop_at_return is not None:
            if eval_every is None:
                raise ConfigError("stop_at_return needs eval_every (the returns it reads)")
            stop_at_return = float(stop_at_return)
            if math.isnan(stop_at_return):
                raise ConfigError("stop_at_return must be a number, got nan")
        return cls(
            callback=callback,
            eval_every=0 if eval_every is None else whole_number("eval_every", eval_every),
            eval_episodes=whole_number("eval_episodes", eval_episodes),
            stop_at_return=stop_at_return,
        )

    def eval_iterations(self, steps_per_iteration: int) -> int:
        """Iterations between evaluations (0: none)."""
        return math.ceil(self.eval_every / steps_per_iteration) if self.eval_every else 0

    def start(self, agent: Learner) -> None:
        """Before training: the best return so far is the one in RUN/best/, if any."""
        if agent.run_dir is None or not (agent.run_dir / BEST).is_dir():
            return
        try:
            self.best_return = float(read_meta(agent.run_dir / BEST)["eval_return"])
        except (CheckpointError, KeyError, TypeError, ValueError):
            pass  # a damaged best/ is replaced by the next evaluation

    def after_chunk(
        self, agent: Learner, rows: Rows, eval_due: bool, logger: Logger | None
    ) -> bool:
        """Run the hooks due after a chunk; returns whether training goes on."""
        rows = list(rows)
        go_on = True
        if eval_due and self.eval_every:
            result = agent.evaluate(self.eval_episodes)
            row = {
                "env_steps": agent.env_steps,
                "eval_return": result.mean_return,
                "eval_return_std": result.std_return,
                "eval_episodes": len(result.returns),
            }
            if logger is not None:
                logger.log(agent.env_steps, row)
            rows.append(row)
            if result.mean_return > self.best_return:
                self.best_return = result.mean_return
                if agent.run_dir is not None:
                    meta = {**agent.meta(), "eval_return": result.mean_return}
                    save_checkpoint(agent.run_dir / BEST, agent.saved_state(), meta)
            if self.stop_at_return is not None and result.mean_return >= self.stop_at_return:
                go_on = False
        if self.callback is not None and self.callback(agent, rows) is False:
            go_on = False
        return go_on
