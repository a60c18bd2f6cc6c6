"""A3C's workers and IMPALA's actors as Ray actors on a local Ray instance bound to
127.0.0.1 (`train/workers/ray_actors.py`): training counts every rollout once, a killed
worker is replaced, and no Ray process is left when training ends."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import ascent

pytest.importorskip("ray", reason="Ray is not installed: pip install 'ascent-rl[ray]'")

SMALL = {"n_envs": 4, "n_steps": 5, "hidden": (16,), "total_steps": 4000}


def ray_processes() -> set[int]:
    """Processes of Ray's (its daemons and its workers) running as this user."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"raylet" in command or b"gcs_server" in command or command.startswith(b"ray::"):
            found.add(int(entry.name))
    return found


# impala's actors run on the same Ray workers as a3c's (train/workers/ray_actors.py): its case
# runs with the slow tests, to keep make test under its budget
@pytest.mark.parametrize("algo", ["a3c", pytest.param("impala", marks=pytest.mark.slow)])
def test_ray_workers_train_survive_a_killed_worker_and_leave_nothing(algo, tmp_path):
    before, shared_memory = ray_processes(), set(os.listdir("/dev/shm"))
    agent = ascent.make(algo, "gymnax/CartPole-v1", seed=0, workers=2, ray_address="local", **SMALL)
    killed: list[int] = []

    def kill_one_worker() -> None:
        """Once both workers have applied gradients, SIGKILL one of them."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            driver = agent.runner.driver
            holder = driver._holder
            if holder is not None and len(driver._workers) == 2:
                try:
                    if driver.progress() >= 20:
                        pid = driver.worker_pids()[0]
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        return
                except Exception:
                    pass
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_worker)
    if algo == "impala":
        # the learner runs in this process: kill an actor at its 20th update, mid-chunk
        # (a watching thread may see a fast run end first)
        update, updates = agent.loop.update, []

        def update_and_kill(*args):  # type: ignore[no-untyped-def]
            updates.append(1)
            if len(updates) == 20:
                pid = agent.runner.driver.worker_pids()[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            return update(*args)

        agent.loop.update = update_and_kill
    else:  # A3C applies gradients in the holder actor: watch its count from a thread
        killer.start()
    agent.learn(2000, run_dir=tmp_path, progress=False)
    if killer.is_alive():
        killer.join()
    assert killed, "the test did not get to kill a worker"
    driver = agent.runner.driver
    assert driver.restarts == 1
    # every iteration's gradient applied once: 100 rollouts of 4 x 5 steps
    assert int(agent.state.env_steps) == 2000 and int(agent.state.iteration) == 100
    assert int(agent.state.algo.updates) == 100
    assert sum(driver.staleness_counts.values()) == 100
    import jax

    start = jax.tree.leaves(agent.loop.init(0).algo.params)
    now = jax.tree.leaves(agent.state.algo.params)
    assert any(not np.array_equal(a, b) for a, b in zip(start, now, strict=True))
    assert all(np.isfinite(np.asarray(x)).all() for x in now)
    # nothing of Ray's is left running: no daemon, no worker, not the killed one
    time.sleep(1.0)
    assert not (ray_processes() - before)
    assert not Path(f"/proc/{killed[0]}").exists()
    assert set(os.listdir("/dev/shm")) <= shared_memory  # the object store's memory is freed
