"""The config fields every on-policy algorithm has, and the validators every config
uses (each raises ConfigError naming the field)."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Union

import numpy as np

from ascent.core.schedules import Schedule, as_schedule
from ascent.errors import ConfigError
from ascent.nn import ACTIVATIONS
from ascent.nn.encoders import TORSO_CHOICES
from ascent.nn.sequence import CoreSpec
from ascent.nn.torso import HIDDEN_GAIN

ScheduleLike = Union[float, str, Schedule]  # noqa: UP007  (a runtime alias, read by the parser)
"""A coefficient that may change over training: a number, or a schedule such as
"linear(1e-3, 0)" (see `ascent.core.schedules.as_schedule`)."""


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
    """Hidden layer widths of the MLP after the observation's encoder (empty: the heads
    read the encoder's features, as Atari's CNN policies do)."""
    activation: str = "tanh"
    """Activation of the hidden layers: tanh, relu, elu, gelu or silu."""
    hidden_gain: float = HIDDEN_GAIN
    """Gain of the hidden layers' orthogonal initial weights: √2 (Andrychowicz et al.
    2021, §3.2; Stable-Baselines3, CleanRL); JaxMARL's recurrent MAPPO uses 2 for the
    layer after its GRU. The heads keep theirs (0.01 policy, 1 value)."""
    torso: str = "auto"
    """Image observations' convolutional torso (`ascent.nn.cnn`): nature (Mnih et al.
    2015), impala (Espeholt et al. 2018's ResNet), minatar (Young & Tian 2019), mlp (the
    scaled pixels flattened), or auto: nature for frames of 36 pixels a side or more,
    minatar below. Other observations ignore it."""
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
    core: CoreSpec = CoreSpec()
    """The policy's core, before the MLP of `hidden` widths and the head
    (`ascent.nn.sequence.CoreSpec`), set field by field as `core.<name>` (`--set
    core.position=rope`), as a table (`core={"kind": "gru"}`) or a `CoreSpec`.
    `core.kind`: mlp (feed-forward), or a memory
    policy that carries a state from step to step, reset at each episode's start: lstm,
    gru, transformer or tcn (REINFORCE, A2C and PPO). `core.embed_dim`: lstm, gru: units
    of the recurrent state; transformer, tcn: the model width. `core.input_dim`: a
    dense layer of that width and a ReLU before the core (0, the default: none). tcn
    (a temporal convolution): `num_layers` dilated causal convolutions, each step seeing the last
    2^num_layers steps of its episode, at most `memory_len`. Transformer: `num_layers`
    (blocks), `num_heads` (attention heads, each of embed_dim / num_heads, even),
    `memory_len` (past steps of its episode each step attends to), `score` (dot,
    scaled_dot, cosine, additive, multiplicative or euclidean), `position` (none,
    sinusoidal, learned, shaw, xl: Transformer-XL's relative positions, the default,
    rope or alibi), `norm` (pre or post: layer norm before each sublayer or after its
    residual), `gate` (residual, or gru: GTrXL's gate, the default)."""

    memory_policies: ClassVar[bool] = False
    """Whether the algorithm takes `policy` other than mlp (set by those that do)."""

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
        positive(self, "total_steps", "n_envs", "n_steps")
        in_unit_interval(self, "gamma")
        positive_schedule(self, "lr")
        nonnegative_schedule(self, "ent_coef")
        if not self.max_grad_norm > 0:
            raise ConfigError(
                f"max_grad_norm must be > 0 (inf disables clipping), got {self.max_grad_norm}"
            )
        positive(self, "clip_obs")
        if not 0 < self.hidden_gain < math.inf:
            raise ConfigError(f"hidden_gain must be a finite number > 0, got {self.hidden_gain}")
        if any(w <= 0 for w in self.hidden):
            raise ConfigError(
                f"hidden must be positive layer widths, e.g. 64,64; got {self.hidden}"
            )
        check_torso(self.torso)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}"
            )
        core = self.core  # its construction checked the kind and the attention options
        if core.stateful and not self.memory_policies:
            raise ConfigError(
                f"core.kind={core.kind!r}: this algorithm has feed-forward policies only; "
                "use core.kind=mlp (memory policies: reinforce, a2c, ppo, ippo, mappo)"
            )


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


def positive(config: Any, *fields: str) -> None:
    for name in fields:
        value = getattr(config, name)
        if not value > 0:
            raise ConfigError(f"{name} must be > 0, got {value}")


def nonnegative(config: Any, *fields: str) -> None:
    for name in fields:
        value = getattr(config, name)
        if not value >= 0:
            raise ConfigError(f"{name} must be >= 0, got {value}")


def in_unit_interval(config: Any, *fields: str) -> None:
    for name in fields:
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} must be in [0, 1], got {value}")


def _schedule_values(config: Any, name: str) -> tuple[float, float]:
    schedule = as_schedule(getattr(config, name), field=name)
    end = schedule.init if schedule.end is None else schedule.end
    return schedule.init, end


def positive_schedule(config: Any, name: str) -> None:
    init, end = _schedule_values(config, name)
    if not init > 0 or not end >= 0:
        raise ConfigError(f"{name} must start > 0 and stay >= 0, got {getattr(config, name)}")


def nonnegative_schedule(config: Any, name: str) -> None:
    init, end = _schedule_values(config, name)
    if not (init >= 0 and end >= 0):
        raise ConfigError(f"{name} must be >= 0, got {getattr(config, name)}")


def probability_schedule(config: Any, name: str) -> None:
    """A probability or a schedule of one: every value over training in [0, 1]. Each kind
    moves monotonically from init to end, so those two bound it."""
    init, end = _schedule_values(config, name)
    if not (0 <= init <= 1 and 0 <= end <= 1):
        value = as_schedule(getattr(config, name), field=name)
        raise ConfigError(f"{name} must stay in [0, 1] over training, got {value}")


INFINITE_OK = frozenset({"max_grad_norm", "clip_obs"})
"""Float fields where inf means "no limit"; every other float must be finite."""


def check_field_types(config: Any) -> None:
    """ConfigError naming the first field whose value is not of its declared kind: a
    bool where a number goes, NaN, 16.9 for a count, a count past MAX_STEPS. What a
    Python caller can pass that the parser of `settings.build_config` refuses."""
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
    elif dataclasses.is_dataclass(kind):  # a nested spec: each of its fields in turn
        if not isinstance(value, kind):
            raise ConfigError(f"{name} must be a {kind.__name__}, got {value!r}")
        for sub, sub_kind in typing.get_type_hints(kind).items():
            _check_kind(f"{name}.{sub}", sub_kind, getattr(value, sub))
    elif typing.get_origin(kind) is tuple:
        if not isinstance(value, tuple):
            raise ConfigError(f"{name} must be a tuple of whole numbers, got {value!r}")
        for item in value:
            whole_number(name, item, minimum=-MAX_STEPS)


def config_fields(cls: type) -> dict[str, Any]:
    """Field name -> resolved type annotation."""
    names = {"ScheduleLike": ScheduleLike, "CoreSpec": CoreSpec}
    hints = typing.get_type_hints(cls, globalns={**names, **vars(typing)})
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict: schedules as their string form, tuples as lists."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Schedule):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        out[f.name] = value
    return out


def check_torso(torso: str) -> None:
    """ConfigError in one line for a `torso` that names no torso."""
    if torso not in TORSO_CHOICES:
        raise ConfigError(f"torso must be one of {', '.join(TORSO_CHOICES)}; got {torso!r}")
