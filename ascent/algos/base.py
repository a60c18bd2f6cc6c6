"""What every on-policy algorithm shares: the config fields for rollouts and
networks, building a config from presets and `--set` strings, the optimiser, and
the Protocol an algorithm satisfies.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Union

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ascent.buffers import Rollout
from ascent.core.schedules import Schedule, as_schedule
from ascent.envs.spaces import check_space
from ascent.errors import ConfigError
from ascent.nn import ACTIVATIONS, PolicyNet, action_head_size
from ascent.nn.sequence import (
    CoreSpec,
    SequenceActorCriticNet,
    SequencePolicyNet,
    SequenceValueNet,
)

ScheduleLike = Union[float, str, Schedule]  # noqa: UP007  (a runtime alias, read by the parser)
"""A coefficient that may change over training: a number, or a schedule such as
"linear(1e-3, 0)" (see `ascent.core.schedules.as_schedule`)."""


class Algorithm(Protocol):
    """An algorithm built from (config, observation_space, action_space)."""

    name: str
    config: Any

    def init(self, key: jax.Array) -> Any: ...

    def act(
        self, state: Any, obs: jax.Array, key: jax.Array, deterministic: bool = False
    ) -> tuple[jax.Array, jax.Array]: ...

    def update(self, state: Any, rollout: Rollout, key: jax.Array) -> tuple[Any, dict]: ...


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


@dataclass(frozen=True)
class OnPolicyConfig:
    """Fields every on-policy algorithm has (rollouts, discounting, networks)."""

    total_steps: int = 100_000
    """Environment steps to train for, summed over all parallel environments."""
    n_envs: int = 8
    """Parallel environments N in each rollout."""
    n_steps: int = 32
    """Steps T per environment in each rollout; an update sees T × N transitions."""
    gamma: float = 0.99
    """Discount factor γ in [0, 1]."""
    lr: ScheduleLike = 3e-4
    """Learning rate: a number or a schedule over training, e.g. "linear(1e-3, 0)"."""
    ent_coef: ScheduleLike = 0.0
    """Entropy bonus coefficient (a number or a schedule)."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this value (inf: no clipping)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the MLP torsos."""
    activation: str = "tanh"
    """Activation of the hidden layers: tanh, relu, elu, gelu or silu."""
    state_dependent_std: bool = False
    """Box actions: a state-dependent log-std output instead of a free parameter."""
    log_std_init: float = 0.0
    """Box actions: the initial log standard deviation of the Gaussian policy."""
    normalize_obs: bool = False
    """Normalise observations by running mean and variance (saved with the state)."""
    normalize_reward: bool = False
    """Scale rewards by the running std of the discounted return (saved with the state)."""
    clip_obs: float = 10.0
    """Clip normalised observations to [−clip_obs, clip_obs]."""
    policy: str = "mlp"
    """Policy network: mlp (feed-forward), or a memory policy that carries a state from
    step to step, reset at each episode's start: lstm, gru or transformer (REINFORCE, A2C
    and PPO). The core comes first, then the MLP of `hidden` widths, then the head."""
    embed_dim: int = 64
    """lstm, gru: units of the recurrent state; transformer: the model width."""
    num_layers: int = 1
    """transformer: blocks in the encoder."""
    num_heads: int = 2
    """transformer: attention heads per block (each of embed_dim / num_heads, even)."""
    memory_len: int = 32
    """transformer: past steps of its episode that each step attends to (its memory)."""
    score: str = "scaled_dot"
    """transformer: attention score: dot, scaled_dot, cosine, additive, multiplicative
    or euclidean."""
    position: str = "xl"
    """transformer: positional scheme: none, sinusoidal, learned, shaw, xl (Transformer-XL's
    relative positions, the default), rope or alibi."""
    norm: str = "pre"
    """transformer: layer norm before each sublayer (pre) or after its residual (post)."""
    gate: str = "gru"
    """transformer: how a sublayer's output joins the stream: residual, or gru (GTrXL's
    gate, the default: it starts near the identity and trains stably in RL)."""

    memory_policies: ClassVar[bool] = False
    """Whether the algorithm takes `policy` other than mlp (set by those that do)."""

    @property
    def core(self) -> CoreSpec:
        """The policy's core (`ascent.nn.sequence`), from `policy` and its options."""
        return CoreSpec(
            self.policy,
            self.embed_dim,
            self.num_layers,
            self.num_heads,
            self.memory_len,
            self.score,
            self.position,
            self.norm,
            self.gate,
        )

    @property
    def batch_size(self) -> int:
        """Transitions per rollout, T × N."""
        return self.n_steps * self.n_envs

    @property
    def total_updates(self) -> int:
        """Number of collect → update iterations; schedules run over this count."""
        return max(1, math.ceil(self.total_steps / self.batch_size))

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field."""
        check_field_types(self)
        _positive(self, "total_steps", "n_envs", "n_steps")
        _in_unit_interval(self, "gamma")
        _positive_schedule(self, "lr")
        _nonnegative_schedule(self, "ent_coef")
        if not self.max_grad_norm > 0:
            raise ConfigError(
                f"max_grad_norm must be > 0 (inf disables clipping), got {self.max_grad_norm}"
            )
        _positive(self, "clip_obs")
        if not self.hidden or any(w <= 0 for w in self.hidden):
            raise ConfigError(
                f"hidden must be positive layer widths, e.g. 64,64; got {self.hidden}"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}"
            )
        core = self.core  # building the spec checks `policy` and the attention options
        if core.stateful and not self.memory_policies:
            raise ConfigError(
                f"policy={self.policy!r}: this algorithm has feed-forward policies only; "
                "use policy=mlp (memory policies: reinforce, a2c, ppo)"
            )


# --- validation helpers: each raises ConfigError naming the field -----------------

MAX_STEPS = 2**53
"""The most environment steps (or iterations) a run may count: beyond any run's length,
and every count up to it is exact as a float."""


def whole_number(name: str, value: Any, *, minimum: int = 1, maximum: int = MAX_STEPS) -> int:
    """`value` as an int if it is a whole number in [minimum, maximum] (an integral float
    such as 1e5 counts; True, 16.9, inf and "8" do not); else ConfigError naming `name`."""
    integral = isinstance(value, int | np.integer) or (
        isinstance(value, float | np.floating) and math.isfinite(value) and value == int(value)
    )
    if isinstance(value, bool | np.bool_) or not integral:
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not minimum <= int(value) <= maximum:
        bound = f"at most {maximum:.3g}" if int(value) > maximum else f">= {minimum}"
        raise ConfigError(f"{name} must be {bound}, got {value!r}")
    return int(value)


def _positive(config: Any, *fields: str) -> None:
    for name in fields:
        value = getattr(config, name)
        if not value > 0:
            raise ConfigError(f"{name} must be > 0, got {value}")


def _nonnegative(config: Any, *fields: str) -> None:
    for name in fields:
        value = getattr(config, name)
        if not value >= 0:
            raise ConfigError(f"{name} must be >= 0, got {value}")


def _in_unit_interval(config: Any, *fields: str) -> None:
    for name in fields:
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} must be in [0, 1], got {value}")


def _schedule_values(config: Any, name: str) -> tuple[float, float]:
    schedule = as_schedule(getattr(config, name), field=name)
    end = schedule.init if schedule.end is None else schedule.end
    return schedule.init, end


def _positive_schedule(config: Any, name: str) -> None:
    init, end = _schedule_values(config, name)
    if not init > 0 or not end >= 0:
        raise ConfigError(f"{name} must start > 0 and stay >= 0, got {getattr(config, name)}")


def _nonnegative_schedule(config: Any, name: str) -> None:
    init, end = _schedule_values(config, name)
    if not (init >= 0 and end >= 0):
        raise ConfigError(f"{name} must be >= 0, got {getattr(config, name)}")


INFINITE_OK = frozenset({"max_grad_norm", "clip_obs"})
"""Float fields where inf means "no limit"; every other float must be finite."""


def check_field_types(config: Any) -> None:
    """ConfigError naming the first field whose value is not of its declared kind: a
    bool where a number goes, NaN, 16.9 for a count, a count past MAX_STEPS. What a
    Python caller can pass that the command line's parser (`_convert`) refuses."""
    for name, kind in config_fields(type(config)).items():
        _check_kind(name, kind, getattr(config, name))


def _check_kind(name: str, kind: Any, value: Any) -> None:
    if kind is ScheduleLike or kind == ScheduleLike:
        if isinstance(value, Schedule | str):
            return  # checked by the field's validator, which reads the schedule
        kind = float
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return
        kind = next(o for o in options if o is not type(None))
    if kind is int:
        whole_number(name, value, minimum=-MAX_STEPS)
    elif kind is float:
        if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        if math.isnan(value) or (math.isinf(value) and name not in INFINITE_OK):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    elif kind is bool and not isinstance(value, bool | np.bool_):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    elif kind is str and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {value!r}")
    elif typing.get_origin(kind) is tuple:
        if not isinstance(value, tuple):
            raise ConfigError(f"{name} must be a tuple of whole numbers, got {value!r}")
        for item in value:
            whole_number(name, item, minimum=-MAX_STEPS)


# --- building configs from presets, TOML and `--set field=value` strings ----------


def config_fields(cls: type) -> dict[str, Any]:
    """Field name -> resolved type annotation."""
    hints = typing.get_type_hints(cls, globalns={"ScheduleLike": ScheduleLike, **vars(typing)})
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> its docstring (the string literal under the field), for help texts."""
    import ast
    import inspect

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(inspect.getsource(klass))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _convert(name: str, kind: Any, value: Any) -> Any:
    """Convert a TOML value or a command-line string to the field's type."""
    if kind is ScheduleLike or kind == ScheduleLike:
        schedule = as_schedule(value, field=name)
        return schedule.init if schedule.is_constant else schedule
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is int:
            return _whole(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is str:
            return str(value)
        if origin is tuple:
            if isinstance(value, str):
                value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
            return tuple(_whole(v) for v in value)
        if origin in (typing.Union, types.UnionType):
            for option in typing.get_args(kind):
                if option is type(None) and value in (None, "none", "None"):
                    return None
            options = [o for o in typing.get_args(kind) if o is not type(None)]
            return _convert(name, options[0], value)
        if origin is typing.Literal:
            if value not in typing.get_args(kind):
                raise ValueError(value)
            return value
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(
            f"{name}: cannot read {value!r} as {getattr(kind, '__name__', kind)}"
        ) from None
    return value


def _whole(value: Any) -> int:
    """A whole number from a TOML value or a string ("16", "1e5"); ValueError for
    16.9, inf, nan, true and the like (never truncated)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            value = float(text)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError(value)
    if not isinstance(value, int | float):
        raise TypeError(value)
    return int(value)


def build_config(cls: type, values: dict[str, Any], *, algo: str) -> Any:
    """A validated `cls` from defaults updated by `values` (TOML values or strings)."""
    kinds = config_fields(cls)
    converted = {}
    for name, value in values.items():
        key = name.replace("-", "_")
        if key not in kinds:
            known = ", ".join(kinds)
            raise ConfigError(f"{algo} has no setting {name!r}; its settings are: {known}")
        converted[key] = _convert(key, kinds[key], value)
    config = cls(**converted)
    config.validate()
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict: schedules as their string form, tuples as lists."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Schedule):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


# --- pieces every on-policy algorithm uses ----------------------------------------


def schedule_fn(value: ScheduleLike, total: int) -> optax.Schedule:
    """An optax schedule of the update count for a config value (number or schedule)."""
    return as_schedule(value).build(total)


def make_optimizer(
    max_grad_norm: float, kind: str = "adam", *, eps: float = 1e-5, rms_decay: float = 0.99
) -> optax.GradientTransformation:
    """Gradient clipping then Adam or RMSprop, with a learning rate set each update.

    The learning rate is an injected hyperparameter (see `set_lr`), so every schedule
    in Ascent is a function of the same counter: the number of updates so far.
    """

    def chain(learning_rate: float) -> optax.GradientTransformation:
        if kind == "adam":
            step = optax.adam(learning_rate, eps=eps)
        elif kind == "rmsprop":
            # PyTorch-style RMSprop, as A2C uses (Mnih et al. 2016; SB3's defaults)
            step = optax.rmsprop(learning_rate, decay=rms_decay, eps=eps, eps_in_sqrt=False)
        else:
            raise ConfigError(f"optimizer must be 'adam' or 'rmsprop', got {kind!r}")
        clip = (
            optax.clip_by_global_norm(max_grad_norm)
            if math.isfinite(max_grad_norm)
            else optax.identity()
        )
        return optax.chain(clip, step)

    return optax.inject_hyperparams(chain)(learning_rate=1.0)


def set_lr(opt_state: Any, lr: jax.Array) -> Any:
    """The optimiser state with its injected learning rate replaced."""
    hyperparams = dict(opt_state.hyperparams)
    hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
    return opt_state._replace(hyperparams=hyperparams)


def check_on_policy_spaces(
    name: str, observation_space: gym.Space, action_space: gym.Space
) -> None:
    check_space(observation_space, allowed=("Box",), who=name, role="observation")
    check_space(action_space, allowed=("Discrete", "Box"), who=name)


def flatten_time(x: jax.Array) -> jax.Array:
    """[T, N, ...] -> [T·N, ...]."""
    return x.reshape(-1, *x.shape[2:])


def sample_action(dist: Any, key: jax.Array, deterministic: bool) -> tuple[jax.Array, jax.Array]:
    """(action, log π(action)): the mode when deterministic, else a sample."""
    action = dist.mode() if deterministic else dist.sample(key)
    return action, dist.log_prob(action)


def metrics_of(**values: Any) -> dict[str, jax.Array]:
    return {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}


def _policy_fields(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> dict[str, Any]:
    """The fields every policy network takes from a config and the spaces."""
    discrete, n_out = action_head_size(action_space)
    return {
        "discrete": discrete,
        "n_out": n_out,
        "obs_ndim": len(observation_space.shape),
        "hidden": config.hidden,
        "activation": config.activation,
        "state_dependent_std": config.state_dependent_std,
        "log_std_init": config.log_std_init,
    }


def actor_critic_net(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> SequenceActorCriticNet:
    """The policy + V network of a config's network fields (shared trunk if it asks);
    with `policy=mlp` its parameters are those of `ascent.nn.ActorCriticNet`."""
    return SequenceActorCriticNet(
        **_policy_fields(config, observation_space, action_space),
        shared_trunk=getattr(config, "shared_trunk", False),
        core=config.core,
    )


def sequence_policy_net(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> SequencePolicyNet:
    """The policy network alone, with the config's core (`policy`)."""
    return SequencePolicyNet(
        **_policy_fields(config, observation_space, action_space), core=config.core
    )


def sequence_value_net(config: OnPolicyConfig, observation_space: gym.Space) -> SequenceValueNet:
    """A V network with the config's core (`policy`)."""
    return SequenceValueNet(
        len(observation_space.shape), config.hidden, config.activation, config.core
    )


def policy_net(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> PolicyNet:
    """The feed-forward policy network alone, for algorithms whose critic is separate."""
    return PolicyNet(**_policy_fields(config, observation_space, action_space))


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

    def __init__(self, forward: Forward, initial_state: Callable[[int], Any]):
        self.forward = forward
        self.initial_state = initial_state
        self.stateful = initial_state(1) is not None

    def act(
        self, params: Any, obs: jax.Array, key: jax.Array, deterministic: bool
    ) -> tuple[jax.Array, jax.Array]:
        """(action, log π(action)) without a carried state: feed-forward policies take obs
        of any leading dims; a memory policy sees each row of obs [N, ...] as the first
        step of an episode."""
        if not self.stateful:
            _, dist, _ = self.forward(params, None, obs, None)
            return sample_action(dist, key, deterministic)
        n = obs.shape[0]
        starts = jnp.ones((n,), bool)
        action, log_prob, _ = self.step(
            params, self.initial_state(n), obs, starts, key, deterministic
        )
        return action, log_prob

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
            params, policy_state, obs[:, None], episode_starts[:, None]
        )
        action, log_prob = sample_action(dist, key, deterministic)
        return action[:, 0], log_prob[:, 0], policy_state

    def next_values(self, params: Any, policy_state: Any, next_obs: jax.Array) -> jax.Array:
        """V(next_obs) [N] seen from the state after the step that led to next_obs [N, ...]
        (no reset): the bootstrap value of that step, truncated or last in the rollout."""
        starts = jnp.zeros((next_obs.shape[0], 1), bool)
        _, _, value = self.forward(params, policy_state, next_obs[:, None], starts)
        return value[:, 0]

    def unroll(self, params: Any, rollout: Rollout) -> tuple[Any, jax.Array]:
        """(dist, V) [T, N] of every step of a rollout, time-major."""
        if not self.stateful:
            _, dist, values = self.forward(params, None, rollout.obs, None)
            return dist, values
        _, dist, values = self.forward(
            params, rollout.policy_state, _swap(rollout.obs), _swap(rollout.episode_starts)
        )
        return jax.tree.map(_swap, dist), _swap(values)

    def bootstrap_values(self, params: Any, rollout: Rollout) -> jax.Array:
        """V(next_obs[t]) [T, N]: computed here for a feed-forward critic; a memory
        critic's were computed while acting, from the state after each step (the state
        at a truncated step is gone by the time the update runs)."""
        if self.stateful:
            return rollout.next_values
        _, _, values = self.forward(params, None, rollout.next_obs, None)
        return values

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
        return sequences, max(1, minibatch_size // rollout.obs.shape[0])


def shuffled_minibatches(batch: Any, key: jax.Array, n_minibatches: int, size: int) -> Any:
    """One epoch's minibatches [n_minibatches, size, ...] of a random permutation of the
    leading axis of every leaf of `batch` (units left over are dropped). A single
    minibatch of the whole batch keeps its order: its mean loss is the same in any
    order, and the permutation and gathers cost about a fifth of PPO's update on
    CartPole."""
    units = jax.tree.leaves(batch)[0].shape[0]
    if n_minibatches == 1 and size == units:
        return jax.tree.map(lambda x: x[None], batch)
    order = jax.random.permutation(key, units)[: n_minibatches * size]
    return jax.tree.map(lambda x: x[order].reshape(n_minibatches, size, *x.shape[1:]), batch)


def step_actor_and_critic(
    optimizer: optax.GradientTransformation,
    params: dict,
    opt_state: dict,
    grads: dict,
    lrs: dict[str, jax.Array],
) -> tuple[dict, dict]:
    """One optimiser step for each of the "actor" and "critic" parameter trees, each at
    its own learning rate; returns (params, opt_state)."""
    new_params, new_opt_state = {}, {}
    for part in ("actor", "critic"):
        state = set_lr(opt_state[part], lrs[part])
        step, new_opt_state[part] = optimizer.update(grads[part], state, params[part])
        new_params[part] = optax.apply_updates(params[part], step)
    return new_params, new_opt_state


class ActsThroughModel:
    """Acting for an on-policy algorithm whose state holds `params` and whose `model` is
    a `SequenceModel`: the four methods the loops call, the same for REINFORCE, A2C and
    PPO, whatever their policy (feed-forward or memory)."""

    model: SequenceModel

    def initial_policy_state(self, n: int) -> Any:
        return self.model.initial_state(n)

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
