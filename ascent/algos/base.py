"""What every on-policy algorithm shares: the config fields for rollouts and
networks, building a config from presets and `--set` strings, the optimiser, and
the Protocol an algorithm satisfies.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Protocol, Union

import gymnasium as gym
import jax
import jax.numpy as jnp
import optax

from ascent.buffers import Rollout
from ascent.core.schedules import Schedule, as_schedule
from ascent.envs.spaces import check_space
from ascent.errors import ConfigError
from ascent.nn import ACTIVATIONS, ActorCriticNet, PolicyNet, action_head_size

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


# --- validation helpers: each raises ConfigError naming the field -----------------


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
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(float(value)) if isinstance(value, str) else int(value)
        if kind is float:
            return float(value)
        if kind is str:
            return str(value)
        if origin is tuple:
            if isinstance(value, str):
                value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
            return tuple(int(v) for v in value)
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
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name}: cannot read {value!r} as {getattr(kind, '__name__', kind)}"
        ) from None
    return value


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


def actor_critic_net(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> ActorCriticNet:
    """The policy + V network of a config's network fields (shared trunk if it asks)."""
    discrete, n_out = action_head_size(action_space)
    return ActorCriticNet(
        discrete=discrete,
        n_out=n_out,
        obs_ndim=len(observation_space.shape),
        hidden=config.hidden,
        activation=config.activation,
        shared_trunk=getattr(config, "shared_trunk", False),
        state_dependent_std=config.state_dependent_std,
        log_std_init=config.log_std_init,
    )


def policy_net(
    config: OnPolicyConfig, observation_space: gym.Space, action_space: gym.Space
) -> PolicyNet:
    """The policy network alone, for algorithms whose critic is a separate network."""
    discrete, n_out = action_head_size(action_space)
    return PolicyNet(
        discrete=discrete,
        n_out=n_out,
        obs_ndim=len(observation_space.shape),
        hidden=config.hidden,
        activation=config.activation,
        state_dependent_std=config.state_dependent_std,
        log_std_init=config.log_std_init,
    )


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
