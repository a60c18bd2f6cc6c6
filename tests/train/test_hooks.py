"""`Agent.learn`'s step counts and hooks (issue 31): callbacks that see each chunk and may
stop training, evaluation during training with the best policy kept and a return to stop
at, and a call with nothing to do that says so."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ascent
from ascent.errors import ConfigError
from ascent.io import read_meta

# the shapes of tests/test_api.py's tiny run (64 steps an iteration), so programs are shared
CHAIN = {"hidden": (16,), "n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2}


def chain(**overrides: Any) -> ascent.Agent:
    return ascent.make("ppo", env="ascent/Chain-v0", seed=1, **{**CHAIN, **overrides})


def test_a_callback_sees_each_chunk_and_may_stop_training() -> None:
    agent = chain(total_steps=64 * 40)
    seen: list[tuple[int, list[dict]]] = []

    def callback(a: ascent.Agent, rows: list[dict]) -> bool:
        assert a is agent
        seen.append((a.env_steps, rows))
        return a.env_steps < 64 * 10  # stop once past 10 iterations

    agent.learn(progress=False, log_every=1, callback=callback)
    steps = [s for s, _ in seen]
    assert steps == sorted(steps) and steps[-1] >= 64 * 10
    assert agent.env_steps == steps[-1] < 64 * 40  # stopped where the callback said
    # each call's rows are that chunk's, one per iteration (log_every=1), as logged
    rows = [r for _, chunk in seen for r in chunk]
    assert [r["env_steps"] for r in rows] == list(range(64, steps[-1] + 1, 64))
    assert all("policy_loss" in r and "train_seconds" in r for r in rows)


def test_evaluation_during_training_keeps_the_best_and_stops_at_a_return(
    tmp_path: Path,
) -> None:
    agent = chain(total_steps=64 * 12)
    evaluated: list[dict] = []
    agent.learn(
        run_dir=tmp_path / "run",
        progress=False,
        eval_every=64 * 3,
        eval_episodes=3,
        callback=lambda a, rows: evaluated.extend(r for r in rows if "eval_return" in r),
    )
    assert [r["env_steps"] for r in evaluated] == [192, 384, 576, 768]
    with (tmp_path / "run" / "metrics.csv").open() as f:
        logged = [r for r in csv.DictReader(f) if r["eval_return"]]
    assert [int(r["step"]) for r in logged] == [192, 384, 576, 768]
    assert [float(r["eval_return"]) for r in logged] == pytest.approx(
        [r["eval_return"] for r in evaluated]
    )
    # best/ holds the first evaluation with the highest mean, loadable as a policy
    best = max(evaluated, key=lambda r: r["eval_return"])
    meta = read_meta(tmp_path / "run" / "best")
    assert meta["eval_return"] == pytest.approx(best["eval_return"])
    assert meta["env_steps"] == best["env_steps"]
    loaded = ascent.load(tmp_path / "run" / "best")
    assert loaded.evaluate(3).mean_return == pytest.approx(best["eval_return"])
    loaded.close()
    agent.close()

    # a return every evaluation reaches stops at the first one
    early = chain(total_steps=64 * 12)
    early.learn(progress=False, eval_every=64 * 3, eval_episodes=2, stop_at_return=-1.0)
    assert early.env_steps == 192


def test_a_resumed_evaluation_keeps_a_better_best(tmp_path: Path) -> None:
    agent = chain(total_steps=64 * 3)
    agent.learn(run_dir=tmp_path / "run", progress=False, eval_every=64 * 3, eval_episodes=2)
    first = read_meta(tmp_path / "run" / "best")["eval_return"]
    from ascent.train.hooks import Hooks

    hooks = Hooks(eval_every=64, best_return=-np.inf)
    hooks.start(agent)  # a later learn starts from the return stored in best/
    assert hooks.best_return == pytest.approx(first)
    agent.close()


def test_learn_counts_steps_in_all_or_more_and_says_when_it_has_nothing_to_do(
    tmp_path: Path,
) -> None:
    agent = chain(total_steps=64 * 4)
    agent.learn(progress=False, run_dir=tmp_path / "run")
    assert agent.env_steps == 256
    with pytest.warns(UserWarning, match="nothing to do.*256 steps.*learn\\(steps=n\\)"):
        agent.learn(progress=False)  # the config's 256 again: nothing to do
    assert agent.env_steps == 256
    agent.learn(steps=128, progress=False)  # 128 more, as SB3's learn(n, False)
    assert agent.env_steps == 384
    agent.learn(total_steps=448, progress=False)  # up to 448 in all
    assert agent.env_steps == 448
    # config.json holds the steps reached, not only those of the first call
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["env_steps"] == 448 and config["total_steps"] == 448
    with pytest.raises(ConfigError, match="not both"):
        agent.learn(total_steps=512, steps=64)
    with pytest.raises(ConfigError, match="stop_at_return needs eval_every"):
        agent.learn(steps=64, stop_at_return=1.0)
    with pytest.raises(ConfigError, match="callback must be a function"):
        agent.learn(steps=64, callback="print")
    agent.close()


def test_the_progress_bar_ends_on_its_total(capsys: pytest.CaptureFixture[str]) -> None:
    """100 steps of 64-step iterations end at 128: the bar's total is 128, not 100."""
    agent = chain(total_steps=100)
    agent.learn(progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "steps (" in line]
    assert lines and "128/128 steps (100%)" in lines[-1]
    assert not any("/100 steps" in line for line in lines)


def test_the_cli_evaluates_while_training_and_stops_at_a_return(tmp_path: Path) -> None:
    from ascent.cli import main

    tiny = ["--set", "hidden=16", "--set", "n_envs=4", "--set", "n_steps=16",
            "--set", "minibatch_size=32", "--set", "n_epochs=2"]  # fmt: skip
    run = tmp_path / "run"
    args = ["train", "ppo", "--env", "ascent/Chain-v0", *tiny, "--total-steps", "768",
            "--eval-episodes", "2", "--eval-every", "192", "--no-progress"]  # fmt: skip
    assert main([*args, "--stop-at-return", "-1", "--run-dir", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["env_steps"] == 192  # the first evaluation's return (>= -0.33) stopped it
    assert read_meta(run / "best")["env_steps"] == 192
    # checked before a folder is made
    assert main([*args[:-3], "--stop-at-return", "1", "--run-dir", str(tmp_path / "no")]) == 2
    assert not (tmp_path / "no").exists()


def test_only_a_better_evaluation_replaces_the_best(tmp_path: Path) -> None:
    """With returns 1, 3, 2 the best is saved at the first and second evaluations only,
    and a return reaching stop_at_return stops."""
    from ascent.train.evaluate import EvalResult
    from ascent.train.hooks import Hooks

    class Fake:
        run_dir = tmp_path
        env_steps = 0
        returns = iter([1.0, 3.0, 2.0, 5.0])

        def evaluate(self, episodes: int = 20) -> EvalResult:
            r = next(self.returns)
            return EvalResult(returns=[r], lengths=[1])

        def meta(self) -> dict:
            return {"env_steps": self.env_steps}

        def saved_state(self) -> dict:
            return {"w": np.zeros(1)}

    fake, saved = Fake(), []
    hooks = Hooks.make(None, 64, 1, 5.0)
    for step in (64, 128, 192):
        fake.env_steps = step
        assert hooks.after_chunk(fake, [], True, None)
        saved.append(read_meta(tmp_path / "best")["env_steps"])
    assert saved == [64, 128, 128] and hooks.best_return == 3.0
    fake.env_steps = 256
    assert not hooks.after_chunk(fake, [], True, None)  # 5.0 reaches stop_at_return
