"""The protocols an algorithm satisfies: `Algorithm` (init, act, update), with
`grads` and `apply` for those whose update is one gradient step (`GradientAlgorithm`),
and `SequenceAlgorithm` for memory policies.

Every algorithm class names `Algorithm` among its bases, and so inherits the defaults
of its capabilities (`kind`, `driver`, `multi_agent`, `action_spaces`), declared once
here; a class sets only those that differ. What a config allows (memory policies) is
declared on the config (`algos.config.OnPolicyConfig`), and A3C's `lock` is a field of
its config, read by the one driver that uses it."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Protocol

import jax

from ascent.buffers import Rollout


class Algorithm(Protocol):
    """An algorithm built from (config, observation_space, action_space), or, for a
    team's (`multi_agent`), from (config, MultiAgentSpaces)."""

    name: ClassVar[str]
    """Its name in the catalog, the CLI and run folders."""
    Config: ClassVar[type]
    """Its frozen config dataclass."""
    kind: ClassVar[Literal["on-policy", "off-policy", "asynchronous"]] = "on-policy"
    """The loop that trains it (`train.make_loop`): collect → update on each rollout;
    collect → replay → update on minibatches (`update` takes one minibatch of
    `buffers.Transitions`); or rollouts of asynchronous workers."""
    driver: ClassVar[Literal["sync", "workers", "actor-learner"]] = "sync"
    """Who runs its iterations (`train.workers.driver_for`): the calling thread;
    workers that each apply their own gradients (A3C); or actors feeding one learner
    (IMPALA)."""
    multi_agent: ClassVar[bool] = False
    """It trains a team of agents, built from `envs.MultiAgentSpaces`."""
    action_spaces: ClassVar[tuple[str, ...]] = ("Discrete", "Box", "MultiDiscrete", "MultiBinary")
    """The kinds of action space it takes (`ascent list --spaces`; tests/algos/
    test_spaces_declared.py checks each algorithm's constructor agrees)."""

    config: Any

    def init(self, key: jax.Array) -> Any: ...

    def act(
        self, state: Any, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]: ...

    def update(self, state: Any, rollout: Rollout, key: jax.Array) -> tuple[Any, dict]: ...


class GradientAlgorithm(Algorithm, Protocol):
    """An algorithm whose `update` is one optimiser step on a gradient, split in two so
    that the gradient can be computed with one copy of the parameters and applied to
    another (asynchronous workers, A3C): `update(s, b, k)` is, bit for bit,
    `(apply(s, g), metrics)` for `g, metrics = grads(s, b, k)` (for PPO, whose update
    takes many steps, each of its minibatch steps is)."""

    def grads(self, state: Any, batch: Any, key: jax.Array) -> tuple[Any, dict]: ...

    def apply(self, state: Any, grads: Any) -> Any: ...


class SequenceAlgorithm(Algorithm, Protocol):
    """An algorithm whose policy may carry a state between steps (`policy` lstm, gru or
    transformer). The on-policy loop keeps the state of each environment in `LoopState`
    and stores in each rollout what the update needs to rerun the network (see
    `SequenceModel`); `initial_policy_state` returns None for a feed-forward policy, and
    the loop then acts with `act` as for any algorithm."""

    def initial_policy_state(self, n: int) -> Any: ...

    def act_step(
        self,
        state: Any,
        policy_state: Any,
        obs: jax.Array,
        episode_starts: jax.Array,
        key: jax.Array,
        deterministic: bool = False,
    ) -> tuple[jax.Array, jax.Array, Any]: ...

    def next_values(self, state: Any, policy_state: Any, next_obs: jax.Array) -> jax.Array: ...
