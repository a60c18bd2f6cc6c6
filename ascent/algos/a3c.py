"""Asynchronous advantage actor-critic (A3C; Mnih et al. 2016, Algorithm S3).

The loss, the n-step returns and the optimiser are A2C's (`a2c.py`); what differs is
who applies the gradients. K workers each own `n_envs` environments, a copy of the
parameters and a collector; each computes A2C's gradient on its own rollout (`grads`)
with the copy it last read, applies it to the shared parameters and optimiser
statistics (`apply`, `train/workers/shared.py`), lock-free by default, and reads them again.
A gradient may so be computed with parameters some applies old (its staleness,
logged). The workers run as threads of one process (`train/workers/threads.py`):
a compiled program runs without Python's GIL, so workers compute at once on as many
cores as there are workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ascent.algos.a2c import A2C, A2CConfig
from ascent.errors import ConfigError


@dataclass(frozen=True)
class A3CConfig(A2CConfig):
    """A3C settings: A2C's (per worker: `n_envs` environments, `n_steps` steps per
    gradient), with the number of workers and how they share the parameters."""

    workers: int = 2
    """Worker threads, each with its own `n_envs` environments and parameter copy."""
    lock: bool = False
    """Apply gradients one at a time under a lock (default: lock-free, Hogwild-style)."""
    ray_address: str = ""
    """Run the workers as Ray actors: "local" (a Ray instance on 127.0.0.1 for the run),
    "auto" or "host:port" (a running cluster); empty: threads of this process."""

    memory_policies: ClassVar[bool] = False  # each worker's policy state is not split yet

    def validate(self) -> None:
        super().validate()
        check_workers(self, "a3c")


def check_workers(config: A2CConfig, name: str) -> None:
    """ConfigError for a worker count out of range, or normalisation (each worker's
    running statistics would differ)."""
    workers = config.workers  # type: ignore[attr-defined]
    if not 1 <= workers <= 256:
        raise ConfigError(f"workers must be between 1 and 256, got {workers}")
    if config.normalize_obs or config.normalize_reward:
        raise ConfigError(
            f"{name} does not normalise observations or rewards (each worker's running "
            "statistics would differ); set normalize_obs=false and normalize_reward=false"
        )


class A3C(A2C):
    """A2C's loss and optimiser, applied by asynchronous workers."""

    name = "a3c"
    Config = A3CConfig
    kind = "asynchronous"
    driver = "workers"  # every worker applies its own gradients (train.workers)
