"""A policy and V network seen as one function over sequences (`SequenceModel`): acting,
acting one step with a state, bootstrapping, rerunning a rollout, minibatches of whole
sequences; and `ActsThroughModel`, the acting methods REINFORCE, A2C and PPO share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ascent.algos.networks import sample_action
from ascent.buffers import Rollout


def flatten_time(x: jax.Array) -> jax.Array:
    """[T, N, ...] -> [T·N, ...]."""
    return x.reshape(-1, *x.shape[2:])


def _swap(x: jax.Array) -> jax.Array:
    """[T, N, ...] <-> [N, T, ...]: rollouts are time-major, sequence networks batch-first."""
    return jnp.swapaxes(x, 0, 1)


Forward = Callable[[Any, Any, jax.Array, Any], tuple[Any, Any, jax.Array]]


class SequenceModel:
    """An algorithm's policy and V networks seen as one function over sequences, and the
    four things done with it: act, act one step with a state, bootstrap, rerun a rollout.

    `forward(params, policy_state, obs [B, T, ...], episode_starts [B, T]) ->
    (policy_state, dist [B, T], V [B, T])`; `initial_state(n)` is the state of n
    environments before their first step. A feed-forward (`mlp`) policy has state None;
    its forward takes observations of any leading dims and ignores state and starts, so
    its rollouts stay flat transitions and nothing about it changes.

    Memory policies are trained on the rollout as N sequences of T steps: `unroll` reruns
    each environment's T steps from the state stored at the rollout's start, resetting
    where `episode_starts` is True, which reproduces what acting computed one step at a
    time (the same log-probabilities), and nothing flows from one episode into the next.
    """

    def __init__(
        self,
        forward: Forward,
        initial_state: Callable[[int], Any],
        sample_mask: Callable[[Any], jax.Array | None] | None = None,
    ):
        """`sample_mask(obs)`: which samples of observations `obs` count in the losses
        (a team's `active` agents, [..., A]); None (the default): all of them."""
        self.forward = forward
        self.initial_state = initial_state
        self.stateful = initial_state(1) is not None
        self.sample_mask = sample_mask or (lambda obs: None)

    def act(
        self, params: Any, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> tuple[jax.Array, jax.Array]:
        """(action, log π(action)) without a carried state: feed-forward policies take obs
        of any leading dims; a memory policy sees each row of obs [N, ...] as the first
        step of an episode."""
        if not self.stateful:
            _, dist, _ = self.forward(params, None, obs, None)
            return sample_action(dist, key, deterministic)
        n = _rows(obs)
        starts = jnp.ones((n,), bool)
        action, log_prob, _ = self.step(
            params, self.initial_state(n), obs, starts, key, deterministic
        )
        return action, log_prob

    def act_value(
        self, params: Any, obs: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(action, log π(action), V(obs)) of a feed-forward policy from one network
        call (a shared torso computes V for the price of its value head)."""
        assert not self.stateful, "a memory policy's values come from unroll"
        _, dist, value = self.forward(params, None, obs, None)
        action, log_prob = sample_action(dist, key, False)
        return action, log_prob, value

    def step(
        self,
        params: Any,
        policy_state: Any,
        obs: jax.Array,
        episode_starts: jax.Array,
        key: jax.Array,
        deterministic: bool,
    ) -> tuple[jax.Array, jax.Array, Any]:
        """One step of N environments: obs [N, ...], episode_starts [N] (reset the state of
        those rows first) -> (action [N, ...], log_prob [N], the state after the step)."""
        policy_state, dist, _ = self.forward(
            params, policy_state, _one_step(obs), episode_starts[:, None]
        )
        action, log_prob = sample_action(dist, key, deterministic)
        return action[:, 0], log_prob[:, 0], policy_state

    def next_values(self, params: Any, policy_state: Any, next_obs: jax.Array) -> jax.Array:
        """V(next_obs) [N] seen from the state after the step that led to next_obs [N, ...]
        (no reset): the bootstrap value of that step, truncated or last in the rollout."""
        starts = jnp.zeros((_rows(next_obs), 1), bool)
        _, _, value = self.forward(params, policy_state, _one_step(next_obs), starts)
        return value[:, 0]

    def unroll(
        self, params: Any, rollout: Rollout, chunk: int | None = None
    ) -> tuple[Any, jax.Array]:
        """(dist, V) [T, N] of every step of a rollout, time-major. `chunk`: a
        feed-forward policy's T·N steps go through the network `chunk` at a time (when
        it divides them), as an update's minibatches do: on a CPU a pass over the whole
        rollout at once is slower than in pieces that stay in cache (MinAtar's CNN:
        8192 frames 220 ms at once, 91 ms in chunks of 1024)."""
        if not self.stateful:
            t, n = rollout.rewards.shape[:2]
            if chunk is None or chunk >= t * n or (t * n) % chunk:
                _, dist, values = self.forward(params, None, rollout.obs, None)
                return dist, values

            def piece(obs: Any) -> tuple[Any, jax.Array]:
                _, dist, values = self.forward(params, None, obs, None)
                return dist, values

            pieces = jax.tree.map(lambda x: x.reshape(-1, chunk, *x.shape[2:]), rollout.obs)
            dist, values = jax.lax.map(piece, pieces)  # [T·N / chunk, chunk, ...]
            return jax.tree.map(lambda x: x.reshape(t, n, *x.shape[2:]), (dist, values))
        _, dist, values = self.forward(
            params,
            rollout.policy_state,
            jax.tree.map(_swap, rollout.obs),
            _swap(rollout.episode_starts),
        )
        return jax.tree.map(_swap, dist), _swap(values)

    def bootstrap_values(
        self, params: Any, rollout: Rollout, values: jax.Array | None = None
    ) -> jax.Array:
        """V(next_obs[t]) [T, N]: computed here for a feed-forward critic; a memory
        critic's were computed while acting, from the state after each step (the state
        at a truncated step is gone by the time the update runs).

        `values`: V(obs) [T, N] at `params`, when the caller has them. Where step t did
        not end its episode, next_obs[t] is obs[t+1], so V(next_obs[t]) is values[t+1];
        after a termination it is multiplied by 0. What is left to evaluate is the last
        step's next observations and the true final observation of each step truncated
        inside the rollout: only those, gathered into one batch, when they are at most
        an eighth of the steps (MPE's time limit cuts 16 environments 5 times in 128
        steps: 80 rows, not 2048); all of them otherwise (`lax.switch`, so only then).
        The same values up to float round-off, for a ninth of PPO's update on MinAtar
        (no step cut inside) and about 1 ms of IPPO's 38 ms iteration on MPE."""
        if self.stateful:
            return rollout.next_values

        def every() -> jax.Array:
            return self.forward(params, None, rollout.next_obs, None)[2]

        if values is None:
            return every()
        t, n = rollout.truncated.shape[:2]
        inside = rollout.truncated[:-1].reshape(-1)  # [(T-1)·N]: cut before the last step
        capacity = max(1, (t * n) // 8)

        def gathered(count: int) -> jax.Array:
            # `count` rows for the steps cut inside (out of range where there are fewer:
            # read clipped, written nowhere), then the last step's N
            index = jnp.nonzero(inside, size=count, fill_value=inside.size)[0]

            def pick(x: jax.Array) -> jax.Array:  # [T, N, ...] -> [1, count + N, ...]
                return jnp.concatenate([x[:-1].reshape(-1, *x.shape[2:])[index], x[-1]])[None]

            rows = jax.tree.map(pick, rollout.next_obs)
            v = self.forward(params, None, rows, None)[2][0]
            later = values[1:].reshape(-1, *values.shape[2:]).at[index].set(v[:count], mode="drop")
            return jnp.concatenate([later.reshape(values[1:].shape), v[None, count:]])

        if t == 1:
            return gathered(0)
        cut = jnp.sum(inside)
        branch = jnp.where(cut == 0, 0, jnp.where(cut <= capacity, 1, 2))
        return jax.lax.switch(branch, [lambda: gathered(0), lambda: gathered(capacity), every])

    def minibatch_units(
        self, batch: dict[str, Any], rollout: Rollout, minibatch_size: int
    ) -> tuple[dict[str, Any], int]:
        """What minibatches are drawn from, and how many per minibatch.

        batch: {name: [T, N, ...]}. Feed-forward: the T·N transitions, `minibatch_size`
        at a time. Memory policies: the N environment sequences [N, T, ...] with their
        start states and episode starts, `minibatch_size // T` (at least one) at a time,
        so each minibatch reruns whole sequences from their stored start.
        """
        if not self.stateful:
            flat = jax.tree.map(flatten_time, batch)
            return {**flat, "policy_state": None, "episode_starts": None}, minibatch_size
        sequences = jax.tree.map(_swap, batch)
        sequences["policy_state"] = rollout.policy_state
        sequences["episode_starts"] = _swap(rollout.episode_starts)
        return sequences, max(1, minibatch_size // _rows(rollout.obs))


def _rows(obs: Any) -> int:
    """The leading dimension of observations: an array's, or a Dict's or Tuple's leaves'."""
    return int(jax.tree.leaves(obs)[0].shape[0])


def _one_step(obs: Any) -> Any:
    """Observations [N, ...] as sequences of one step, [N, 1, ...] (any pytree)."""
    return jax.tree.map(lambda x: x[:, None], obs)


def shuffled_minibatches(batch: Any, key: jax.Array, n_minibatches: int, size: int) -> Any:
    """One epoch's minibatches [n_minibatches, size, ...] of a random permutation of the
    leading axis of every leaf of `batch` (units left over are dropped). A single
    minibatch of the whole batch keeps its order: its mean loss is the same in any
    order, and the permutation and gathers are a large part of a small update
    (benchmarks/results/design_notes.md)."""
    units = jax.tree.leaves(batch)[0].shape[0]
    if n_minibatches == 1 and size == units:
        return jax.tree.map(lambda x: x[None], batch)
    order = jax.random.permutation(key, units)[: n_minibatches * size]
    return jax.tree.map(lambda x: x[order].reshape(n_minibatches, size, *x.shape[1:]), batch)


class ActsThroughModel:
    """Acting for an on-policy algorithm whose state holds `params` and whose `model` is
    a `SequenceModel`: the four methods the loops call, the same for REINFORCE, A2C and
    PPO, whatever their policy (feed-forward or memory)."""

    model: SequenceModel
    values_while_acting: bool = False
    """Whether the update reads `Rollout.values`, so collectors record V(obs) as they
    act (`act_value`); the algorithm sets it."""

    def initial_policy_state(self, n: int) -> Any:
        return self.model.initial_state(n)

    def act_value(
        self, state: Any, obs: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        return self.model.act_value(state.params, obs, key)

    def act(
        self, state: Any, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        return self.model.act(state.params, obs, key, deterministic)

    def act_step(
        self,
        state: Any,
        policy_state: Any,
        obs: jax.Array,
        episode_starts: jax.Array,
        key: jax.Array,
        deterministic: bool = False,
    ) -> tuple[jax.Array, jax.Array, Any]:
        return self.model.step(state.params, policy_state, obs, episode_starts, key, deterministic)

    def next_values(self, state: Any, policy_state: Any, next_obs: jax.Array) -> jax.Array:
        return self.model.next_values(state.params, policy_state, next_obs)
