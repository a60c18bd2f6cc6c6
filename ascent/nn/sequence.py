"""Sequence policies: feed-forward, recurrent and attention networks behind one interface.

A policy network is a *core* that may carry a state from step to step, then the MLP of
`hidden` widths, then a head. Every core has the same two methods, batch-first:

- `initial_state(batch) -> state`: the state before an episode's first step (None for a
  core without one);
- `__call__(state, x [B, T, F], resets [B, T]) -> (state, y [B, T, F'])`: T steps from
  `state`; where `resets[b, t]` is True (step t is the first of a new episode, Stable-
  Baselines3's `episode_starts`) row b starts again from the initial state, so nothing
  reaches an episode from the one before.

One call over T steps equals T calls over one step each, so acting (T = 1, the state
carried between environment steps) and training (the T steps of a rollout from the
state stored at its start) compute the same function. The cores, by `CORES` name:

- `mlp`: no state; x passes through, and the MLP after it is the whole torso. With this
  core the networks below have exactly the parameters (names, shapes, initial values) of
  `PolicyNet`, `ValueNet` and the feed-forward actor-critic Ascent's policies were
  before they took a core (tests/nn/test_sequence.py keeps it as the oracle).
- `lstm`, `gru`: a recurrent cell of `embed_dim` units scanned over time (Hochreiter &
  Schmidhuber 1997; Cho et al. 2014).
- `transformer`: `attention.TransformerEncoder` with a memory of `memory_len` past steps
  per layer (Transformer-XL's segment memory, Dai et al. 2019; GTrXL's gate, Parisotto et
  al. 2019).
- `tcn`: `tcn.TemporalConv`, causal dilated convolutions over time (Bai et al. 2018's TCN,
  WaveNet's dilations 1, 2, 4, ...): `num_layers` layers see the last 2^num_layers steps
  of the episode (at most `memory_len`), all T steps of a call computed in parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from ascent.core.distributions import Categorical, DiagGaussian
from ascent.errors import ConfigError
from ascent.nn.attention import NORMS, TransformerEncoder
from ascent.nn.attention.block import GATES, init_memory
from ascent.nn.attention.mha import check_attention, check_choice
from ascent.nn.encoders import Encoder, ObsSpec, encode
from ascent.nn.heads import ActionSpec, with_mask
from ascent.nn.tcn import TemporalConv
from ascent.nn.torso import HIDDEN_GAIN, MLP, dense

Array = jax.Array


class FeedForward(nn.Module):
    """The `mlp` core: no state, no parameters; the features pass through unchanged."""

    stateful: ClassVar[bool] = False

    def initial_state(self, batch: int) -> None:
        del batch
        return None

    def __call__(self, state: None, x: Array, resets: Array | None) -> tuple[None, Array]:
        del resets
        return state, x


CELLS: dict[str, Callable[..., nn.RNNCellBase]] = {
    "lstm": nn.OptimizedLSTMCell,
    "gru": nn.GRUCell,
}
"""Recurrent cell name -> flax cell constructor (`features=` the state size)."""


class _ResetCell(nn.Module):
    """One step of a cell whose state is zeroed first where `reset` [B] is True."""

    cell: str
    size: int

    @nn.compact
    def __call__(self, state: Any, inputs: tuple[Array, Array]) -> tuple[Any, Array]:
        x, reset = inputs
        keep = (~reset)[:, None].astype(x.dtype)  # the initial state is all zeros
        state = jax.tree.map(lambda s: s * keep, state)
        return CELLS[self.cell](features=self.size, name="cell")(state, x)


class Recurrent(nn.Module):
    """An LSTM or GRU core of `size` units, scanned over the time axis.

    State: LSTM (c, h) [B, size] each; GRU h [B, size]; zeros at an episode's start.
    """

    cell: str = "lstm"
    size: int = 64
    stateful: ClassVar[bool] = True

    def initial_state(self, batch: int) -> Any:
        zeros = jnp.zeros((batch, self.size), jnp.float32)
        return (zeros, zeros) if self.cell == "lstm" else zeros

    @nn.compact
    def __call__(self, state: Any, x: Array, resets: Array) -> tuple[Any, Array]:
        scan = nn.scan(
            _ResetCell,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=1,
            out_axes=1,
        )
        return scan(self.cell, self.size, name="rnn")(state, (x, jnp.asarray(resets, bool)))


class Attention(nn.Module):
    """A transformer core: `TransformerEncoder` of `num_layers` blocks of width `dim`,
    each step attending to the last `memory_len` steps of its episode. State: `Memory`.
    By default GTrXL's recipe (Parisotto et al. 2019): pre-LN, GRU gates, relative
    (Transformer-XL) positions."""

    dim: int = 64
    num_layers: int = 1
    num_heads: int = 2
    memory_len: int = 32
    score: str = "scaled_dot"
    position: str = "xl"
    norm: str = "pre"
    gate: str = "gru"
    stateful: ClassVar[bool] = True

    def initial_state(self, batch: int) -> Any:
        return init_memory(batch, self.num_layers, self.memory_len, self.dim)

    @nn.compact
    def __call__(self, state: Any, x: Array, resets: Array) -> tuple[Any, Array]:
        encoder = TransformerEncoder(
            self.dim,
            self.num_layers,
            self.num_heads,
            self.memory_len,
            score=self.score,
            position=self.position,
            norm=self.norm,
            gate=self.gate,
            name="encoder",
        )
        y, memory = encoder(x, state, resets)
        return memory, y


@dataclass(frozen=True)
class CoreSpec:
    """Which core a policy uses and its options (hashable: a static field of the nets).

    `kind` names an entry of `CORES`; `embed_dim` is the recurrent state size or the
    transformer or TCN width; `input_dim`, when above 0, puts a dense layer of that
    width and a ReLU before the core (`InputLayer`: JaxMARL's recurrent MAPPO reads its
    GRU's input so); the other fields are the transformer's (see `Attention`), except
    that a `tcn` has `num_layers` layers, whose receptive field 2^num_layers must fit in
    `memory_len` (see `TemporalConv`).
    """

    kind: str = "mlp"
    embed_dim: int = 64
    input_dim: int = 0
    num_layers: int = 1
    num_heads: int = 2
    memory_len: int = 32
    score: str = "scaled_dot"
    position: str = "xl"
    norm: str = "pre"
    gate: str = "gru"

    def __post_init__(self) -> None:
        check_choice("core.kind", self.kind, CORES)
        if self.input_dim < 0:
            raise ConfigError(f"core.input_dim must be >= 0 (0: none), got {self.input_dim}")
        if self.kind == "mlp":
            return
        if self.embed_dim < 1:
            raise ConfigError(f"core.embed_dim must be >= 1, got {self.embed_dim}")
        if self.kind == "transformer":
            if self.num_layers < 1 or self.memory_len < 1 or self.num_heads < 1:
                raise ConfigError(
                    f"core.num_layers ({self.num_layers}), core.num_heads ({self.num_heads}) "
                    f"and core.memory_len ({self.memory_len}) must be >= 1"
                )
            check_attention(self.embed_dim, self.num_heads, self.score, self.position)
            check_choice("core.norm", self.norm, NORMS)
            check_choice("core.gate", self.gate, GATES)
        fits = 1 <= self.num_layers and 2**self.num_layers <= self.memory_len
        if self.kind == "tcn" and not fits:
            raise ConfigError(
                f"core.kind=tcn: core.num_layers={self.num_layers} must be >= 1 and its "
                f"receptive field 2**num_layers <= core.memory_len={self.memory_len}"
            )

    def build(self, name: str | None = None) -> nn.Module:
        """The core module, a submodule called `name` of the module being set up (with
        its input layer first, when `input_dim`)."""
        if self.input_dim:
            return InputLayer(self, name=name)
        return CORES[self.kind](self, name=name)

    def _detached(self) -> nn.Module:
        return CORES[self.kind](self, parent=None)

    @property
    def stateful(self) -> bool:
        return bool(self._detached().stateful)

    def initial_state(self, batch: int) -> Any:
        """The state of `batch` rows before their first step (None for `mlp`)."""
        return self._detached().initial_state(batch)


class InputLayer(nn.Module):
    """A core (`spec.kind`) that reads relu(W x + b) of width `spec.input_dim` instead
    of x: (state, x [B, T, d], resets) -> the core's (state, y). The core is the
    submodule `core`, the layer `input` (`torso.dense`: orthogonal weights of gain √2);
    the state is the core's own."""

    spec: CoreSpec

    @nn.compact
    def __call__(self, state: Any, x: Array, resets: Array | None) -> tuple[Any, Array]:
        x = nn.relu(dense(self.spec.input_dim, name="input")(x))
        return CORES[self.spec.kind](self.spec, name="core")(state, x, resets)


CORES: dict[str, Callable[..., nn.Module]] = {
    "mlp": lambda spec, **kw: FeedForward(**kw),
    "lstm": lambda spec, **kw: Recurrent("lstm", spec.embed_dim, **kw),
    "gru": lambda spec, **kw: Recurrent("gru", spec.embed_dim, **kw),
    "transformer": lambda spec, **kw: Attention(
        spec.embed_dim,
        spec.num_layers,
        spec.num_heads,
        spec.memory_len,
        spec.score,
        spec.position,
        spec.norm,
        spec.gate,
        **kw,
    ),
    "tcn": lambda spec, **kw: TemporalConv(spec.embed_dim, spec.num_layers, **kw),
}
"""Policy kind (the config's `policy`) -> core builder (`spec`, then flax's `name`/`parent`)."""


class SequencePolicyNet(nn.Module):
    """(state, obs [B, T, *obs_shape], resets [B, T]) -> (state, the action distribution
    [B, T] of `action`'s kind): core, MLP, head. With the `mlp` core, obs may have any
    leading dims."""

    action: ActionSpec
    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    state_dependent_std: bool = False
    log_std_init: float = 0.0
    core: CoreSpec = CoreSpec()
    hidden_gain: float = HIDDEN_GAIN

    @nn.compact
    def __call__(
        self, state: Any, obs: Array, resets: Array | None
    ) -> tuple[Any, Categorical | DiagGaussian]:
        state, x = self.core.build("core")(state, encode(self.obs_spec, obs), resets)
        features = MLP(self.hidden, self.activation, self.hidden_gain)(x)
        head = self.action.head(self.state_dependent_std, self.log_std_init)
        return state, with_mask(head(features), self.obs_spec, obs, self.action)


class SequenceValueNet(nn.Module):
    """(state, obs [B, T, *obs_shape], resets [B, T]) -> (state, V [B, T]): core, MLP, V."""

    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    core: CoreSpec = CoreSpec()
    hidden_gain: float = HIDDEN_GAIN

    @nn.compact
    def __call__(self, state: Any, obs: Array, resets: Array | None) -> tuple[Any, Array]:
        state, x = self.core.build("core")(state, encode(self.obs_spec, obs), resets)
        features = MLP(self.hidden, self.activation, self.hidden_gain)(x)
        return state, dense(1, scale=1.0)(features)[..., 0]


class SequenceActorCriticNet(nn.Module):
    """A policy and a V critic over sequences: `(state, obs, resets) -> (state, dist, V)`.

    With `shared_trunk=False` the actor and the critic each have their own core, MLP and
    parameter subtree (`actor`, `critic`) and the state is `{"actor": ..., "critic": ...}`;
    with `shared_trunk=True` one core and one MLP feed both heads and the state is
    `{"trunk": ...}`. A feed-forward (`mlp`) net has state None and the parameters of
    the feed-forward actor-critic before cores (tests/nn/test_sequence.py).
    """

    action: ActionSpec
    obs_spec: ObsSpec | None = None  # None: a flat vector
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    shared_trunk: bool = False
    state_dependent_std: bool = False
    log_std_init: float = 0.0
    core: CoreSpec = CoreSpec()
    hidden_gain: float = HIDDEN_GAIN

    def initial_state(self, batch: int) -> dict[str, Any] | None:
        """The state of `batch` rows before their first step (needs no parameters)."""
        if not self.core.stateful:
            return None
        parts = ("trunk",) if self.shared_trunk else ("actor", "critic")
        return {part: self.core.initial_state(batch) for part in parts}

    def setup(self) -> None:
        if self.shared_trunk:
            self.encoder = Encoder(self.obs_spec)
            self.trunk_core = self.core.build()
            self.trunk = MLP(self.hidden, self.activation, self.hidden_gain)
            self.policy_head = self.action.head(self.state_dependent_std, self.log_std_init)
            self.value_head = dense(1, scale=1.0)
        else:
            self.actor = SequencePolicyNet(
                self.action,
                self.obs_spec,
                self.hidden,
                self.activation,
                self.state_dependent_std,
                self.log_std_init,
                self.core,
                self.hidden_gain,
            )
            self.critic = SequenceValueNet(
                self.obs_spec, self.hidden, self.activation, self.core, self.hidden_gain
            )

    def __call__(
        self, state: dict[str, Any] | None, obs: Array, resets: Array | None
    ) -> tuple[dict[str, Any] | None, Categorical | DiagGaussian, Array]:
        if self.shared_trunk:
            trunk = None if state is None else state["trunk"]
            trunk, x = self.trunk_core(trunk, self.encoder(obs), resets)
            features = self.trunk(x)
            new_state = None if state is None else {"trunk": trunk}
            dist = with_mask(self.policy_head(features), self.obs_spec, obs, self.action)
            return new_state, dist, self.value_head(features)[..., 0]
        actor, critic = (None, None) if state is None else (state["actor"], state["critic"])
        actor, dist = self.actor(actor, obs, resets)
        critic, value = self.critic(critic, obs, resets)
        new_state = None if state is None else {"actor": actor, "critic": critic}
        return new_state, dist, value
