"""The replay buffer of off-policy algorithms: a preallocated ring of transitions.

A `ReplayBuffer` is a pytree of arrays with a leading capacity axis C, so it lives in
the training state, crosses `jit`, `vmap` and `lax.scan`, and is saved like any
other state. `replay_add` writes a batch of transitions at the write position
(wrapping around, overwriting the oldest) and returns a new buffer; `replay_sample`
draws a uniform minibatch with an explicit key. Both are pure and jittable, so the
compiled loop calls them inside its program and the host loop calls them jitted.

Each transition keeps `next_obs`, the observation the step truly led to — for a
truncated episode that is its real final observation, not the first observation of
the next episode that the doors' automatic reset hands back — and both flags:
a terminated transition does not bootstrap, a truncated one does.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ascent.errors import ConfigError


class Transitions(NamedTuple):
    """A batch of transitions, leading axis B (or C in a buffer).

    obs, next_obs [B, *obs_shape] float32; actions [B, *action_shape] as the
    environment received them; rewards [B] float32; terminated, truncated [B] bool.
    """

    obs: jax.Array
    actions: jax.Array
    rewards: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    truncated: jax.Array


class ReplayBuffer(NamedTuple):
    """`data` [C, ...]; `position` where the next transition goes; `size` ≤ C filled."""

    data: Transitions
    position: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return int(self.data.rewards.shape[0])


def replay_init(
    capacity: int,
    obs_shape: tuple[int, ...],
    action_shape: tuple[int, ...],
    action_dtype: jnp.dtype = jnp.float32,
) -> ReplayBuffer:
    """An empty buffer with room for `capacity` transitions (all arrays zero-filled);
    ConfigError if it would not fit in memory (`replay_like`)."""
    example = Transitions(
        obs=jax.ShapeDtypeStruct(obs_shape, jnp.float32),
        actions=jax.ShapeDtypeStruct(action_shape, action_dtype),
        rewards=jax.ShapeDtypeStruct((), jnp.float32),
        next_obs=jax.ShapeDtypeStruct(obs_shape, jnp.float32),
        terminated=jax.ShapeDtypeStruct((), bool),
        truncated=jax.ShapeDtypeStruct((), bool),
    )
    return replay_like(capacity, example)


def replay_like(capacity: int, example: Transitions) -> ReplayBuffer:
    """An empty buffer with room for `capacity` transitions shaped like `example`, one
    transition whose fields may be pytrees (a team's `AgentObs`, actions [A]) of arrays
    or `jax.ShapeDtypeStruct`s.

    Every replay buffer is made here, so here its size is checked before anything is
    allocated: ConfigError naming buffer_size, the bytes it would take and the memory
    there is (XLA would otherwise fail with RESOURCE_EXHAUSTED, issue 30)."""
    layout = jax.tree.map(lambda x: jax.ShapeDtypeStruct(jnp.shape(x), _dtype(x)), example)
    check_fits(capacity, layout)
    data = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape), x.dtype), layout)
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def _dtype(x: object) -> np.dtype:
    """The dtype an array of `x` has in JAX (float64 numpy arrays are float32 unless x64)."""
    if isinstance(x, jax.ShapeDtypeStruct):
        return jax.dtypes.canonicalize_dtype(x.dtype)
    return jnp.asarray(x).dtype


MAX_CAPACITY = 2**31 - 1
"""The most transitions a buffer may hold: its positions are int32."""


def replay_nbytes(capacity: int, example: Transitions) -> int:
    """Bytes of a buffer of `capacity` transitions shaped like `example` (one transition
    of arrays or `jax.ShapeDtypeStruct`s)."""
    one = sum(int(np.prod(jnp.shape(x))) * _dtype(x).itemsize for x in jax.tree.leaves(example))
    return capacity * one


def check_fits(capacity: int, example: Transitions) -> None:
    """ConfigError unless `capacity` transitions shaped like `example` fit in the memory
    available now (the default device's where it reports it, a GPU's; else the host's)."""
    need = replay_nbytes(capacity, example)
    free, where = _available_memory()
    if free is not None and need > free:
        one = replay_nbytes(1, example)
        raise ConfigError(
            f"buffer_size={capacity}: the replay buffer would take {_size(need)} ({one} bytes "
            f"a transition), more than the {_size(free)} of {where} available; lower "
            f"buffer_size (at most {min(free // one, MAX_CAPACITY)} fit)"
        )
    if capacity > MAX_CAPACITY:
        raise ConfigError(f"buffer_size must be at most {MAX_CAPACITY} (the buffer's positions "
                          f"are int32), got {capacity}")  # fmt: skip


def _available_memory() -> tuple[int | None, str]:
    """(bytes free, where): the default device's free memory when it reports it (a GPU's
    pool), else the host's MemAvailable (/proc/meminfo) or physical memory; None when
    neither can be read."""
    device = jax.devices()[0]
    stats = device.memory_stats()
    if stats and "bytes_limit" in stats:
        return stats["bytes_limit"] - stats.get("bytes_in_use", 0), f"{device.platform} memory"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "memory"
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "memory"
    except (AttributeError, OSError, ValueError):
        return None, "memory"


def _size(n: int) -> str:
    """Bytes in GB (TB from 1000 GB), as people read memory sizes: '216 TB', '0.42 GB'."""
    if n >= 1e12:
        return f"{n / 1e12:.3g} TB"
    return f"{n / 1e9:.3g} GB"


def replay_add(buffer: ReplayBuffer, batch: Transitions) -> ReplayBuffer:
    """The buffer with the B transitions of `batch` [B, ...] written at its position.

    Slots position, position + 1, ... (mod C) are overwritten, so once full the oldest
    transitions go first. B must be at most C.
    """
    capacity = buffer.capacity
    n = batch.rewards.shape[0]
    if n > capacity:
        raise ValueError(f"cannot add {n} transitions to a replay buffer of {capacity}")
    slots = (buffer.position + jnp.arange(n)) % capacity
    data = jax.tree.map(
        lambda store, new: store.at[slots].set(new.astype(store.dtype)), buffer.data, batch
    )
    return ReplayBuffer(
        data, (buffer.position + n) % capacity, jnp.minimum(buffer.size + n, capacity)
    )


def replay_sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transitions:
    """`batch_size` transitions drawn uniformly, with replacement, from the filled part.

    Sampling with replacement as Stable-Baselines3 does; an empty buffer gives slot 0's
    zeros (callers sample only after their warm-up has filled it).
    """
    index = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda x: x[index], buffer.data)


def flatten_steps(batch: Transitions) -> Transitions:
    """[T, N, ...] transitions -> [T·N, ...], in time-major order."""
    return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), batch)
