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

from typing import NamedTuple

import jax
import jax.numpy as jnp


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
    """An empty buffer with room for `capacity` transitions (all arrays zero-filled)."""
    c = capacity
    data = Transitions(
        obs=jnp.zeros((c, *obs_shape), jnp.float32),
        actions=jnp.zeros((c, *action_shape), action_dtype),
        rewards=jnp.zeros((c,), jnp.float32),
        next_obs=jnp.zeros((c, *obs_shape), jnp.float32),
        terminated=jnp.zeros((c,), bool),
        truncated=jnp.zeros((c,), bool),
    )
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def replay_like(capacity: int, example: Transitions) -> ReplayBuffer:
    """An empty buffer with room for `capacity` transitions shaped like `example`, one
    transition whose fields may be pytrees (a team's `AgentObs`, actions [A])."""
    data = jax.tree.map(
        lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example
    )
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


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
