"""Asynchronous training: K workers, each with its own environments, around one set of
parameters (A3C, IMPALA).

- `loop.py`: `AsyncOnPolicyLoop`, the compiled pieces a worker runs (collect, and the
  gradient on the rollout or the learner's update) and the split of the run's state
  into the workers' rows;
- `shared.py`: `SharedParams`, the parameters the workers read and apply gradients to;
- `threads.py`: the workers as threads of this process (`ThreadDriver`: every worker
  applies its own gradients; `ActorLearnerDriver`: actors feed one learner);
- `ray_actors.py`: the same as Ray actors (`RayDriver`), past one machine.

`driver_for` is the one place that chooses who runs a loop's iterations.
"""

from __future__ import annotations

from ascent.train.drivers import Driver, SyncDriver
from ascent.train.loop import Loop
from ascent.train.workers.loop import AsyncOnPolicyLoop
from ascent.train.workers.ray_actors import RayDriver  # Ray is imported when one starts
from ascent.train.workers.threads import ActorLearnerDriver, ThreadDriver


def driver_for(loop: Loop, seed: int) -> Driver:
    """The driver of a loop: the synchronous one, unless the algorithm's `driver` names
    workers (`"workers"`: A3C's threads, each applying its own gradients;
    `"actor-learner"`: IMPALA's actors and one learner), which run as Ray actors when
    the config sets `ray_address`."""
    algorithm = loop.algorithm
    if algorithm.driver == "sync":
        return SyncDriver(loop, seed)
    assert isinstance(loop, AsyncOnPolicyLoop)
    if algorithm.config.ray_address:
        return RayDriver(loop, algorithm.name, loop.env, algorithm.config.ray_address)
    if algorithm.driver == "actor-learner":
        return ActorLearnerDriver(loop)
    return ThreadDriver(loop)


__all__ = ["ActorLearnerDriver", "AsyncOnPolicyLoop", "RayDriver", "ThreadDriver", "driver_for"]
