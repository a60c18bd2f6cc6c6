"""SIGINT and SIGTERM during training (issue 30, item 4; `train/signals.py`): the run
stops at the end of the chunk in progress with a checkpoint of it, or at the last good
chunk when the one in progress takes too long; the process exits 130 or 143 with one
line naming the checkpoint and how to resume, and `--resume` continues from it; the
signal again stops at once, leaving only whole checkpoints; worker threads end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import ascent
from ascent.errors import Interrupted
from ascent.io.checkpoint import list_checkpoints, load_checkpoint
from ascent.train import signals

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "hidden=16", "--set", "n_envs=4", "--set", "n_steps=16",
         "--set", "minibatch_size=32", "--set", "n_epochs=2"]  # fmt: skip
# a checkpoint interval longer than the run: before this issue, a signal lost every step
DOORS = {
    "compiled": ["train", "ppo", "--env", "ascent/Chain-v0", "--seed", "3", "--total-steps",
                 "102400", *SMALL, "--checkpoint-every", "100000", "--eval-episodes", "2",
                 "--no-progress"],
    "gymnasium": ["train", "ppo", "--env", "CartPole-v1", "--seed", "3", "--total-steps",
                  "20480", *SMALL, "--checkpoint-every", "100000", "--log-every", "2",
                  "--eval-episodes", "2", "--no-progress"],
}  # fmt: skip


def start(args: list[str], program: str | None = None, stderr: Any = subprocess.PIPE
          ) -> subprocess.Popen[str]:  # fmt: skip
    """`ascent ARGS` in a process of its own (or `program`, given ARGS as its argv)."""
    command = ["-m", "ascent.cli"] if program is None else ["-c", program]
    env = {**os.environ, "ASCENT_CACHE_DIR": str(ROOT / ".cache" / "jax")}
    return subprocess.Popen([sys.executable, *command, *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=stderr)  # fmt: skip


def wait_for(process: subprocess.Popen[str], ready, what: str, seconds: float = 240) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not ready():
        assert process.poll() is None, f"ended before {what}: {process.communicate()[1]}"
        assert time.monotonic() < deadline, f"no {what} in {seconds:g} s"
        time.sleep(0.01)


def rows(run: Path) -> list[int]:
    """The steps of the metrics rows written so far."""
    path = run / "metrics.csv"
    lines = path.read_text().splitlines()[1:] if path.is_file() else []
    return [int(line.split(",", 1)[0]) for line in lines if line]


def option(args: list[str], name: str, value: str) -> list[str]:
    """`args` with option `name` set to `value`."""
    i = args.index(name)
    return [*args[: i + 1], value, *args[i + 2 :]]


def whole(run: Path) -> list[str]:
    """The names in the checkpoints folder, after checking each `step_*` loads whole."""
    folder = run / "checkpoints"
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    for _, path in list_checkpoints(folder):
        load_checkpoint(path)  # meta.json whole, the tensors' hash checked
    return names


def stopped_line(name: str, run: Path) -> re.Pattern[str]:
    return re.compile(
        rf"{name}: training stopped at step (\d+), checkpoint {re.escape(str(run))}/checkpoints/"
        rf"step_(\d{{12}}); resume with: ascent train --resume {re.escape(str(run))}"
    )


@pytest.mark.parametrize(
    ("name", "door"),
    [
        ("SIGTERM", "compiled"),
        ("SIGINT", "gymnasium"),
        pytest.param("SIGINT", "compiled", marks=pytest.mark.slow),
        pytest.param("SIGTERM", "gymnasium", marks=pytest.mark.slow),
    ],
)
def test_a_signal_saves_the_chunk_and_resume_continues_from_it(tmp_path, name, door):
    signum = getattr(signal, name)
    run = tmp_path / "run"
    process = start([*DOORS[door], "--run-dir", str(run)])
    try:
        wait_for(process, lambda: len(rows(run)) >= 2, "metrics rows")
        process.send_signal(signum)
        err = process.communicate(timeout=120)[1]
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == 128 + signum, err
    last = err.strip().splitlines()[-1]
    match = stopped_line(name, run).fullmatch(last)
    assert match, last
    step = int(match.group(1))
    assert int(match.group(2)) == step and step == rows(run)[-1]  # the chunk's end, kept
    assert whole(run) == [f"step_{step:012d}"]

    resumed = subprocess.run(
        [sys.executable, "-m", "ascent.cli", "train", "--resume", str(run), "--no-progress",
         "--eval-episodes", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "ASCENT_CACHE_DIR": str(ROOT / ".cache" / "jax")},
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[0] == f"resuming {run} at step {step}"
    steps = rows(run)
    total = int(DOORS[door][DOORS[door].index("--total-steps") + 1])
    assert steps == sorted(set(steps)) and steps[-1] == total


# the writer of a process whose checkpoint write hangs from its third file on (the
# second checkpoint, the stop's or a periodic one begun before the signal): the second
# signal comes while it is written
SLOW_SAVE = """
import signal, sys, time
from pathlib import Path
import ascent.io.checkpoint as c
real, calls = c.write_file_durably, []
def slow(path, data):
    calls.append(path)
    if len(calls) >= 3:
        if {held}:  # a signal now goes to another thread: the main one sleeps on
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
        Path(sys.argv[-1]).parent.joinpath("SAVING").touch()
        time.sleep(120)
    real(path, data)
c.write_file_durably = slow
from ascent.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("held", [False, True], ids=["main_thread_reached", "main_thread_held"])
def test_the_signal_again_during_the_save_stops_at_once_leaving_whole_checkpoints(tmp_path, held):
    """Reached, the main thread's save raises and removes its temporary folder; held
    (in a write, a compiled call), the watching thread ends the process and removes it."""
    run = tmp_path / "run"
    args = [*option(DOORS["compiled"], "--checkpoint-every", "16"), "--run-dir", str(run)]
    log = tmp_path / "stderr"
    with log.open("w") as stderr:
        process = start(args, SLOW_SAVE.format(held=held), stderr)
    try:
        wait_for(process, lambda: bool(list_checkpoints(run)), "checkpoint")
        # past the first checkpoint's stop check (a signal just before it would find
        # that checkpoint the newest and stop without a save): a later chunk's row
        first = list_checkpoints(run)[0][0]
        wait_for(process, lambda: any(s > first for s in rows(run)), "a row after it")
        process.send_signal(signal.SIGTERM)
        wait_for(process, (tmp_path / "SAVING").exists, "save after the signal", 60)
        # the first signal taken (announced) before the second is sent: two SIGTERMs
        # sent at once can reach the process as one
        wait_for(process, lambda: "stopping after" in log.read_text(), "the stop announced")
        process.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        process.communicate(timeout=60)
        seconds = time.monotonic() - t0
    finally:
        process.kill()
        process.communicate()
    err = log.read_text()
    assert process.returncode == 128 + signal.SIGTERM, err
    kept = list_checkpoints(run)[-1][1]
    last = err.strip().splitlines()[-1]
    assert last == (
        f"SIGTERM again: stopped at once, last good checkpoint: {kept}; "
        f"resume with: ascent train --resume {run}"
    )
    assert seconds < 10
    assert whole(run) == [kept.name]  # no temporary folder, no half-written checkpoint


# a compiled chunk that outlasts the grace: training stops at the last good state
SHORT_GRACE = """
import sys
import ascent.train.signals as s
s.STOP_GRACE = 0.5
from ascent.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_compiled_chunk_longer_than_the_grace_is_abandoned_for_the_last_good_state(tmp_path):
    run = tmp_path / "run"
    # one chunk of 16,000 iterations: seconds in one compiled call
    args = option(DOORS["compiled"], "--total-steps", "10240000")
    args = [*args, "--log-every", "1600", "--run-dir", str(run)]
    process = start(args, SHORT_GRACE)
    try:
        wait_for(process, (run / "config.json").exists, "run folder")
        time.sleep(1.0)  # into the first chunk, its handlers installed
        process.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        err = process.communicate(timeout=60)[1]
        seconds = time.monotonic() - t0
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == 128 + signal.SIGTERM, err
    match = stopped_line("SIGTERM", run).fullmatch(err.strip().splitlines()[-1])
    assert match and int(match.group(1)) == 0, err  # the state before the chunk
    assert whole(run) == ["step_000000000000"] and not rows(run)
    assert seconds < 0.5 + signals.REACH + 5


# IMPALA's wait is A3C's (workers.threads.wait_for): its case runs with the slow tests
@pytest.mark.parametrize("algo", ["a3c", pytest.param("impala", marks=pytest.mark.slow)])
def test_worker_threads_stop_with_the_run(tmp_path, algo, monkeypatch):
    """A3C's and IMPALA's threads: a chunk cut short by the grace ends its workers, the
    last good state (here the first) is saved, and the handlers are given back."""
    monkeypatch.setattr(signals, "STOP_GRACE", 0.2)
    agent = ascent.make(algo, "gymnax/CartPole-v1", seed=0, workers=2, n_envs=4, n_steps=5,
                        hidden=(16,), total_steps=10**8)  # fmt: skip
    previous = signal.getsignal(signal.SIGTERM)
    # A3C's workers each take gradients (work), IMPALA's learner updates (update)
    name = "work" if algo == "a3c" else "update"
    step, calls = getattr(agent.loop, name), []

    def counted(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 20:  # the workers are busy: SIGTERM to this process
            os.kill(os.getpid(), signal.SIGTERM)
        return step(*args)

    monkeypatch.setattr(agent.loop, name, counted)
    with pytest.raises(Interrupted) as info:  # one chunk of 100,000 iterations
        agent.learn(run_dir=tmp_path, progress=False, log_every=10**5, checkpoint_every=10**6)
    assert info.value.signum == signal.SIGTERM
    assert str(info.value).startswith("SIGTERM: training stopped at step 0, checkpoint ")
    assert agent.env_steps == 0 and whole(tmp_path) == ["step_000000000000"]
    time.sleep(1.0)  # a worker in the middle of an iteration ends it
    made = len(calls)
    time.sleep(0.5)
    assert len(calls) == made  # no worker goes on
    names = ("ascent-worker", "ascent-learner", "ascent-signals")
    threads = [t.name for t in threading.enumerate() if t.name.startswith(names)]
    assert not threads, threads
    assert signal.getsignal(signal.SIGTERM) is previous
    agent.close()
