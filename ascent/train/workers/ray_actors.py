"""A3C's workers as Ray actors, past one machine (`pip install 'ascent-rl[ray]'`).

`RayDriver` takes the place of the thread drivers (`threads.py`) when the config's
`ray_address` is set (`workers.driver_for`):
"local" starts a Ray instance on 127.0.0.1 for the run, "auto" or "host:port" joins a
running cluster (`ray start --head` on one machine, `ray start --address ...` on the
others). A `ParameterHolder` actor keeps the shared parameters and optimiser
statistics and applies the gradients one at a time, in the order they reach it (Ray
runs an actor's calls one after another); each `Worker` actor builds the same loop
from the algorithm's name, config and environment, and repeats: claim an iteration and
read the parameters (one call), collect and compute the gradient on its own
environments (`AsyncOnPolicyLoop.work`), send it (one call). Only Ray's own calls
carry data: no sockets or protocol of Ascent's.

Faults: a worker that dies (its process killed, its node lost) is replaced, within
`restarts` per run, by a new actor with the current parameters and fresh
environments; the iteration it had claimed goes back to the pool, so no rollout is
counted twice (a gradient counts once it is applied). No iteration for `timeout`
seconds raises TrainingError. `close` kills every actor, and shuts down a Ray instance
the driver started. Every process of a local instance ends with the driver, even one
killed with SIGKILL (`ray_keeper.py`).
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ascent.catalog import algorithm_class
from ascent.errors import ConfigError, TrainingError
from ascent.runtime import FlatTree, enable_compile_cache
from ascent.train.loop import LoopState
from ascent.train.workers.loop import AsyncOnPolicyLoop
from ascent.train.workers.shared import SharedParams

RESTARTS = 8  # workers replaced per run before training stops
KEEPER_WAIT = 40.0  # seconds `close` waits for a local instance's processes to end
WORKER_ENV = ("XLA_FLAGS", "JAX_PLATFORMS", "OMP_NUM_THREADS", "ASCENT_CACHE_DIR")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "ray_address needs Ray: pip install 'ascent-rl[ray]' (or leave ray_address empty "
            "to run the workers as threads)"
        ) from None
    return ray


def _init(ray: Any, level: int, **options: Any) -> None:
    """`ray.init`, showing only its messages of `level` and above, and keeping this
    process's SIGTERM handler: Ray sets one that exits at once, which would cut short
    the Agent's stop with a checkpoint (`train/signals.py`). The "ray" logger gets its
    level back after: only the start-up is quietened (issue 31: its timestamped INFO
    lines, and warnings about a server's file-descriptor limit, alarmed users)."""
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGTERM) if main else None
    ray_logger = logging.getLogger("ray")
    before = ray_logger.level
    try:
        ray.init(logging_level=level, **options)
    finally:
        ray_logger.setLevel(before)
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


def _build_loop(algo_name: str, config: Any, env: Any, cache: str | None) -> AsyncOnPolicyLoop:
    """The run's loop, built again in an actor's process."""
    if cache:
        enable_compile_cache(cache)
    algorithm = algorithm_class(algo_name)(config, env.observation_space, env.action_space)
    return AsyncOnPolicyLoop(algorithm, env)


class ParameterHolder:
    """The shared state of a Ray run (an actor): hands out iterations with the current
    parameters, applies the gradients sent back, keeps each one's metrics row."""

    def __init__(self, algo_name: str, config: Any, env: Any, cache: str | None):
        self.loop = _build_loop(algo_name, config, env, cache)
        self.algo_state = self.loop.init(0).algo
        self.shared = SharedParams(self.algo_state, self.loop.algorithm.apply, lock=False)  # type: ignore[attr-defined]

    def load(self, algo_state: Any, n: int) -> None:
        self.shared.load(algo_state)
        self.left = n
        self.claimed: dict[int, int] = collections.Counter()  # worker -> iterations out
        self.rows: list[np.ndarray] = []
        self.names: tuple[str, ...] = ()
        self.staleness: list[int] = []

    def claim(self, worker: int) -> tuple[tuple[np.ndarray, ...], int] | None:
        """An iteration for `worker`, with the parameters to compute it with, or None
        when every iteration of the chunk is given out."""
        if self.left <= 0:
            return None
        self.left -= 1
        self.claimed[worker] += 1
        return self.shared.read()

    def apply(self, worker: int, grads: Any, version: int, packed: Any) -> None:
        made = self.shared.apply(grads)
        self.claimed[worker] -= 1
        self.rows.append(np.asarray(packed.values))
        self.names = packed.names
        self.staleness.append(made - 1 - version)

    def release(self, worker: int) -> None:
        """A dead worker's claimed iterations go back to the pool (nothing of theirs was
        applied)."""
        self.left += self.claimed.pop(worker, 0)

    def version(self) -> int:
        return self.shared.version

    def results(self) -> tuple[Any, np.ndarray, tuple[str, ...], np.ndarray]:
        """(shared state as numpy, metrics rows [n, M], their names, staleness [n])."""
        state = jax.device_get(self.shared.state())
        return state, np.stack(self.rows), self.names, np.asarray(self.staleness, np.float32)


class Worker:
    """One A3C worker (an actor): its own environments, its own parameter copy."""

    def __init__(self, algo_name: str, config: Any, env: Any, cache: str | None, index: int):
        self.loop = _build_loop(algo_name, config, env, cache)
        self.index = index
        self.layout = None

    def pid(self) -> int:
        return os.getpid()

    def set_part(self, part: LoopState) -> None:
        """This actor's environments and key for the chunk (IMPALA's actors)."""
        self.part = part

    def get_part(self) -> LoopState:
        return jax.device_get(self.part)

    def collect(self, algo: Any, version: int) -> tuple[Any, Any, Any, int]:
        """One rollout with parameters `algo` (of `version`): (rollout, episode
        statistics, the learner's key, version), all as numpy."""
        self.part, rollout, stats, key = self.loop.collect(algo, self.part)
        return jax.device_get((rollout, stats, key)) + (version,)

    def run(self, holder: Any, part: LoopState) -> LoopState:
        """Iterations until the holder has none left; returns the worker's state."""
        import ray

        while True:
            claimed = ray.get(holder.claim.remote(self.index))
            if claimed is None:
                return jax.device_get(part)
            flat, version = claimed
            if self.layout is None:
                self.layout = FlatTree(self.loop.init(0).algo)
            part, grads, packed = self.loop.work(flat, part, self.layout)
            ray.get(holder.apply.remote(self.index, jax.device_get(grads), version, packed))


class RayDriver:
    """A3C's iterations made by Ray actors (module docstring)."""

    def __init__(self, loop: AsyncOnPolicyLoop, algo_name: str, env: Any, address: str):
        self.loop = loop
        self.algo_name = algo_name
        self.env = env
        self.address = address
        self.restarts_left = RESTARTS
        self.restarts = 0
        self.timeout = 120.0
        self.staleness_counts: collections.Counter[int] = collections.Counter()
        self._started_ray = False
        self._keeper: subprocess.Popen[bytes] | None = None  # of a local instance
        self._holder: Any = None
        self._workers: dict[int, tuple[int, Any]] = {}  # slot -> (worker number, actor)
        self._next_index = 0
        self._updates = 0  # IMPALA's updates in the current chunk
        if address == "local":
            # Ray reads these when it is imported (here, later): a single-node instance
            # addressed on 127.0.0.1, whose address is not resolved to this host's
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            if "ray" not in sys.modules:  # token authentication, as `ray.init` gives a
                os.environ.setdefault("RAY_AUTH_MODE", "token")  # new instance by default

    def restart_episodes(self) -> None:
        pass

    # --- actors -------------------------------------------------------------------

    def _start(self) -> None:
        ray = _ray()
        local = False
        if not ray.is_initialized():
            if self.address == "local":
                self._start_local(ray)
                local = True
            else:
                # a cluster of the user's: its warnings are theirs to see
                _init(ray, logging.WARNING, address=self.address, log_to_driver=False)
            self._started_ray = True
        options: dict[str, Any] = {"num_cpus": 0}
        if not local:  # a local instance's workers inherit this process's environment
            options["runtime_env"] = {"env_vars": self._worker_env()}
        cache = jax.config.jax_compilation_cache_dir
        args = (self.algo_name, self.loop.algorithm.config, self.env, cache)
        self._args = args
        self._options = options
        self._holder = ray.remote(ParameterHolder).options(**options).remote(*args)
        for slot in range(self.loop.workers):
            self._add_worker(slot)

    def _start_local(self, ray: Any) -> None:
        """Start a Ray instance on 127.0.0.1 through a keeper (`ray_keeper.py`), which
        ends its every process when this one ends, even by SIGKILL, and connect to it.
        Ray 2.x starts an API server and the raylet's DashboardAgent and
        RuntimeEnvAgent whatever it is told (the raylet refuses to start without
        them); the dashboard is left out, and no runtime environment is asked of the
        agents (the instance's workers inherit this process's environment)."""
        keeper = Path(__file__).with_name("ray_keeper.py")
        # the instance authenticates as this process does: Ray read RAY_AUTH_MODE when
        # it was imported (unset: no authentication)
        auth = os.environ.get("RAY_AUTH_MODE", "disabled")
        self._keeper = subprocess.Popen(
            [sys.executable, "-P", str(keeper), str(max(2, self.loop.workers + 1))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "RAY_AUTH_MODE": auth},
            start_new_session=True,  # the terminal's Ctrl-C is for this process to handle
        )
        address = self._keeper.stdout.readline().decode().strip()  # type: ignore[union-attr]
        self._keeper.stdout.close()  # type: ignore[union-attr]
        if not address:
            self._end_keeper()
            raise TrainingError("a local Ray instance did not start (Ray's message is above)")
        try:
            # Ascent's own instance: a failure to connect raises, the rest is noise
            _init(ray, logging.ERROR, address=address, _node_ip_address="127.0.0.1",
                  log_to_driver=False)  # fmt: skip
        except BaseException:
            self._end_keeper()
            raise

    def _end_keeper(self) -> None:
        """Let the keeper end what is left of the local instance, and wait for it."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.stdin.close()  # type: ignore[union-attr]
            try:
                keeper.wait(timeout=KEEPER_WAIT)
            except subprocess.TimeoutExpired:
                keeper.kill()
                keeper.wait()

    def _worker_env(self) -> dict[str, str]:
        return {k: os.environ[k] for k in WORKER_ENV if k in os.environ}

    def _add_worker(self, slot: int) -> None:
        """A new worker actor for the environments of `slot` (its rows in the state)."""
        ray = _ray()
        index = self._next_index  # the holder knows workers by a number never reused
        self._next_index += 1
        # a core each, spread over the cluster's nodes rather than packed onto one
        options = {**self._options, "num_cpus": 1, "max_restarts": 0}
        options["scheduling_strategy"] = "SPREAD"
        actor = ray.remote(Worker).options(**options).remote(*self._args, index)
        self._workers[slot] = (index, actor)

    def progress(self) -> int:
        """Gradients applied (A3C) or updates made (IMPALA) in the current chunk."""
        if self.loop.algorithm.driver == "actor-learner":
            return self._updates
        return _ray().get(self._holder.version.remote())

    def worker_pids(self) -> list[int]:
        ray = _ray()
        return ray.get([actor.pid.remote() for _, actor in self._workers.values()])

    def close(self) -> None:
        """Kill every actor; shut down the Ray instance this driver started, and with
        a local one, every process it started."""
        if self._holder is None and not self._started_ray:
            self._end_keeper()
            return
        ray = _ray()
        for actor in [*(a for _, a in self._workers.values()), self._holder]:
            if actor is not None:
                try:
                    ray.kill(actor)
                except Exception:  # an actor already dead
                    pass
        self._workers.clear()
        self._holder = None
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
        self._end_keeper()

    # --- a chunk ------------------------------------------------------------------

    def run(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, np.ndarray]]:
        ray = _ray()
        if self._holder is None:
            self._start()
        if self.loop.algorithm.driver == "actor-learner":
            return self._run_actor_learner(state, n)
        loop = self.loop
        ray.get(self._holder.load.remote(jax.device_get(state.algo), n))
        parts = dict(enumerate(loop.split(state)))  # slot -> the worker's state
        pending = {
            actor.run.remote(self._holder, parts[slot]): slot
            for slot, (_, actor) in self._workers.items()
        }
        done: dict[int, LoopState] = {}
        last, since = 0, time.monotonic()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                slot = pending.pop(ref)
                try:
                    done[slot] = ray.get(ref)
                except ray.exceptions.RayActorError:
                    pending[self._replace(slot, parts, state)] = slot
            version = ray.get(self._holder.version.remote())
            if version != last:
                last, since = version, time.monotonic()
            elif time.monotonic() - since > self.timeout:
                raise TrainingError(
                    f"no training iteration finished in {self.timeout:g} s: a Ray worker hangs"
                )
        algo, values, names, staleness = ray.get(self._holder.results.remote())
        self.staleness_counts.update(staleness.astype(int).tolist())
        metrics = {k: values[:, i] for i, k in enumerate(names)}
        metrics["staleness"] = staleness
        return loop.join(state, [done[slot] for slot in sorted(done)], algo, n), metrics

    def _run_actor_learner(
        self, state: LoopState, n: int
    ) -> tuple[LoopState, dict[str, np.ndarray]]:
        """IMPALA: the actors collect with the parameters last sent to them; the learner
        (this process) updates on each rollout as it arrives and sends the new
        parameters with the actor's next request. A dead actor's rollout never came, so
        its request is made again by its replacement."""
        ray = _ray()
        loop = self.loop
        parts = dict(enumerate(loop.split(state)))
        for slot, (_, actor) in list(self._workers.items()):
            try:
                ray.get(actor.set_part.remote(parts[slot]))
            except ray.exceptions.RayActorError:  # died between chunks
                self._replace_actor(slot, parts, state)
        algo, version = state.algo, 0
        params = ray.put(jax.device_get(algo))
        pending: dict[Any, int] = {}
        asked = 0

        def ask(slot: int) -> None:
            nonlocal asked
            if asked < n:
                asked += 1
                pending[self._workers[slot][1].collect.remote(params, version)] = slot

        for slot in self._workers:
            ask(slot)
        rows: list[dict[str, Any]] = []
        staleness: list[int] = []
        since = time.monotonic()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            if not ready:
                if time.monotonic() - since > self.timeout:
                    raise TrainingError(
                        f"no training iteration finished in {self.timeout:g} s: a Ray actor hangs"
                    )
                continue
            ref = ready[0]
            slot = pending.pop(ref)
            try:
                rollout, stats, key, used = ray.get(ref)
            except ray.exceptions.RayActorError:
                asked -= 1  # its rollout never came: asked again of the replacement
                self._replace_actor(slot, parts, state)
                ask(slot)
                continue
            algo, metrics = loop.update(algo, rollout, key)
            staleness.append(version - used)
            version += 1
            self._updates = version
            rows.append({**metrics, **stats})
            params = ray.put(jax.device_get(algo))
            since = time.monotonic()
            ask(slot)
        done = []
        for slot in sorted(self._workers):
            try:
                done.append(ray.get(self._workers[slot][1].get_part.remote()))
            except ray.exceptions.RayActorError:  # died after its last rollout came
                self._replace_actor(slot, parts, state)
                done.append(parts[slot])
        fetched = jax.device_get(rows)
        metrics_out = {k: np.stack([row[k] for row in fetched]) for k in fetched[0]}
        metrics_out["staleness"] = np.asarray(staleness, np.float32)
        self.staleness_counts.update(staleness)
        return loop.join(state, done, algo, n), metrics_out

    def _replace_actor(self, slot: int, parts: dict[int, LoopState], state: LoopState) -> None:
        ray = _ray()
        self._use_restart()
        self._add_worker(slot)
        key = jax.random.fold_in(state.key, 1_000 + self.restarts)
        parts[slot] = self.loop.fresh_part(parts[slot], key)
        ray.get(self._workers[slot][1].set_part.remote(parts[slot]))

    def _use_restart(self) -> None:
        if self.restarts_left <= 0:
            raise TrainingError(
                f"Ray workers died {self.restarts} times (restart budget {RESTARTS})"
            )
        self.restarts_left -= 1
        self.restarts += 1

    def _replace(self, slot: int, parts: dict[int, LoopState], state: LoopState) -> Any:
        """A new worker for the dead one of `slot`, with fresh environments in its rows;
        returns the reference of its run."""
        self._use_restart()
        ray = _ray()
        dead, _ = self._workers[slot]
        ray.get(self._holder.release.remote(dead))
        self._add_worker(slot)
        key = jax.random.fold_in(state.key, 1_000 + self.restarts)
        parts[slot] = self.loop.fresh_part(parts[slot], key)
        return self._workers[slot][1].run.remote(self._holder, parts[slot])
