"""Sequence policies: one interface for mlp, lstm, gru, transformer and tcn cores."""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.errors import ConfigError
from ascent.nn import MLP, ActionSpec, CategoricalHead, GaussianHead, PolicyNet, ValueNet, dense
from ascent.nn.sequence import (
    CoreSpec,
    SequenceActorCriticNet,
    SequencePolicyNet,
    SequenceValueNet,
)

KINDS = ["lstm", "gru", "transformer", "tcn"]
B, T, OBS = 3, 7, 5


class FeedForwardActorCritic(nn.Module):
    """The oracle: the feed-forward actor-critic net Ascent's policies were before they
    took a core (separate actor and critic, or one trunk with two heads), whose
    parameters and numbers `policy=mlp` must keep."""

    action: ActionSpec
    hidden: tuple[int, ...] = (64, 64)
    shared_trunk: bool = False

    def setup(self) -> None:
        if self.shared_trunk:
            self.trunk = MLP(self.hidden, "tanh")
            head = CategoricalHead if self.action.kind == "discrete" else GaussianHead
            self.policy_head = head(self.action.sizes[0])
            self.value_head = dense(1, scale=1.0)
        else:
            self.actor = PolicyNet(self.action, None, self.hidden)
            self.critic = ValueNet(None, self.hidden)

    def __call__(self, obs: jax.Array) -> tuple[Any, jax.Array]:
        if self.shared_trunk:
            features = self.trunk(obs)
            return self.policy_head(features), self.value_head(features)[..., 0]
        return self.actor(obs), self.critic(obs)


def _action(discrete: bool) -> ActionSpec:
    """Three actions, or a Box of three."""
    return ActionSpec.discrete(3) if discrete else ActionSpec("box", (3,), (3,))


def _spec(kind: str) -> CoreSpec:
    return CoreSpec(kind, embed_dim=8, num_heads=2, memory_len=T)


def _net(kind: str, shared: bool = False, discrete: bool = True) -> SequenceActorCriticNet:
    action = _action(discrete)
    return SequenceActorCriticNet(action, hidden=(8,), shared_trunk=shared, core=_spec(kind))


@functools.cache
def _apply(kind: str, shared: bool = False) -> Any:
    """`_net(kind, shared).apply`, compiled once for the tests that share it (op by op, a
    transformer's hundreds of operations would each compile apart)."""
    return jax.jit(_net(kind, shared).apply)


def _inputs(seed: int = 0) -> tuple[jax.Array, jax.Array]:
    obs = jax.random.normal(jax.random.key(seed), (B, T, OBS))
    resets = jnp.zeros((B, T), bool).at[:, 0].set(True).at[1, 3].set(True).at[2, 5].set(True)
    return obs, resets


def _init(net: SequenceActorCriticNet, seed: int = 1) -> Any:
    obs, resets = _inputs()
    params = net.init(jax.random.key(seed), net.initial_state(B), obs[:, :1], resets[:, :1])
    # larger weights than the initial ones, so that every input visibly moves the outputs
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    noisy = [x + 0.3 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
    return jax.tree.unflatten(tree, noisy)


def _same(a: Any, b: Any, atol: float = 0.0) -> bool:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        np.allclose(x, y, rtol=0.0, atol=atol) for x, y in pairs
    )


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("discrete", [True, False])
def test_mlp_core_has_the_feed_forward_nets_parameters_and_outputs(
    shared: bool, discrete: bool
) -> None:
    """policy=mlp keeps the parameters (names, shapes, initial values) and numbers of the
    feed-forward nets, so the default policy trains exactly as before."""
    key, obs = jax.random.key(3), jnp.ones((1, OBS))
    old = FeedForwardActorCritic(_action(discrete), hidden=(8, 8), shared_trunk=shared)
    new = SequenceActorCriticNet(_action(discrete), hidden=(8, 8), shared_trunk=shared)
    old_params, new_params = old.init(key, obs), new.init(key, None, obs, None)
    assert _same(old_params, new_params)
    x = jax.random.normal(key, (4, 6, OBS))  # any leading dims, state and resets unused
    state, dist, value = new.apply(new_params, None, x, None)
    assert state is None and new.initial_state(4) is None
    assert _same(old.apply(old_params, x), (dist, value))

    assert _same(
        PolicyNet(_action(True)).init(key, obs),
        SequencePolicyNet(_action(True)).init(key, None, obs, None),
    )
    assert _same(ValueNet().init(key, obs), SequenceValueNet().init(key, None, obs, None))


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_one_call_over_t_steps_equals_t_calls_of_one_step(kind: str, shared: bool) -> None:
    net = _net(kind, shared)
    params = _init(net)
    obs, resets = _inputs()
    apply = _apply(kind, shared)
    state_t, dist_t, value_t = apply(params, net.initial_state(B), obs, resets)
    state, logits, values = net.initial_state(B), [], []
    for t in range(T):
        state, dist, value = apply(params, state, obs[:, t : t + 1], resets[:, t : t + 1])
        logits.append(dist.logits[:, 0])
        values.append(value[:, 0])
    assert dist_t.logits.shape == (B, T, 3) and value_t.shape == (B, T)
    np.testing.assert_allclose(jnp.stack(logits, 1), dist_t.logits, atol=1e-5)
    np.testing.assert_allclose(jnp.stack(values, 1), value_t, atol=1e-5)
    assert _same(state, state_t, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_state_resets_at_episode_starts_and_nothing_leaks(kind: str) -> None:
    """Row 1 starts a new episode at step 3: its outputs from there on equal those of the
    new episode run alone from the initial state, whatever came before (any state,
    any observations). Inside an episode the past does matter (the core has memory)."""
    net, apply = _net(kind), _apply(kind)
    params = _init(net)
    obs, resets = _inputs()
    _, dist, value = apply(params, net.initial_state(B), obs, resets)

    alone_state = net.initial_state(B)
    _, alone, alone_value = apply(params, alone_state, obs[:, 3:], resets[:, 3:].at[1, 0].set(True))
    np.testing.assert_allclose(dist.logits[1, 3:], alone.logits[1], atol=1e-6)
    np.testing.assert_allclose(value[1, 3:], alone_value[1], atol=1e-6)

    # a different earlier episode and a carried-in state change nothing after the reset
    other_obs = obs.at[1, :3].set(10.0 * jax.random.normal(jax.random.key(9), (3, OBS)))
    carried, _, _ = apply(params, net.initial_state(B), obs[:, ::-1], resets)
    _, dist2, value2 = apply(params, carried, other_obs, resets)
    np.testing.assert_allclose(dist2.logits[1, 3:], dist.logits[1, 3:], atol=1e-6)
    np.testing.assert_allclose(value2[1, 3:], value[1, 3:], atol=1e-6)
    assert not np.allclose(dist2.logits[1, :3], dist.logits[1, :3], atol=1e-3)

    # within an episode the past matters: change step 3 of row 1, step 4 moves
    inside = obs.at[1, 3].add(3.0)
    _, dist3, _ = apply(params, net.initial_state(B), inside, resets)
    assert not np.allclose(dist3.logits[1, 4], dist.logits[1, 4], atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_initial_states(kind: str) -> None:
    state = _net(kind).initial_state(4)
    shared = _net(kind, shared=True).initial_state(4)
    assert set(state) == {"actor", "critic"} and set(shared) == {"trunk"}
    leaves = jax.tree.leaves(state)
    assert leaves and all(x.shape[0] == 4 for x in leaves)
    if kind == "lstm":
        assert [x.shape for x in jax.tree.leaves(state["actor"])] == [(4, 8), (4, 8)]
    if kind == "gru":
        assert state["actor"].shape == (4, 8)
    if kind == "transformer":
        assert state["actor"].hidden.shape == (4, 1, T, 8) and not state["actor"].valid.any()
    if kind == "tcn":  # one layer: the last step's embedding, and the episode's age
        assert state["actor"].taps[0].shape == (4, 1, 8) and state["actor"].age.shape == (4,)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kind": "rnn"}, "core.kind"),
        ({"kind": "transformer", "score": "cos"}, "score"),
        ({"kind": "transformer", "position": "abs"}, "position"),
        ({"kind": "transformer", "norm": "mid"}, "norm"),
        ({"kind": "transformer", "gate": "lstm"}, "gate"),
        ({"kind": "transformer", "embed_dim": 6, "num_heads": 4}, "num_heads"),
        ({"kind": "transformer", "memory_len": 0}, "memory_len"),
        ({"kind": "gru", "embed_dim": 0}, "embed_dim"),
        ({"kind": "gru", "input_dim": -1}, "input_dim"),
        ({"kind": "tcn", "num_layers": 3, "memory_len": 7}, "num_layers"),
    ],
)
def test_bad_core_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        CoreSpec(**options)


def test_an_input_layer_is_a_dense_relu_before_the_core() -> None:
    # core.input_dim: the core reads relu(W x + b), its own state unchanged
    spec = CoreSpec(kind="gru", embed_dim=8, input_dim=6)
    core = spec.build()
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 3))
    resets = jnp.zeros((2, 5), bool).at[1, 2].set(True)
    params = core.init(jax.random.PRNGKey(1), spec.initial_state(2), x, resets)
    state, y = core.apply(params, spec.initial_state(2), x, resets)
    p = params["params"]
    assert p["input"]["kernel"].shape == (3, 6)
    inner = CoreSpec(kind="gru", embed_dim=8).build()
    h = jax.nn.relu(x @ p["input"]["kernel"] + p["input"]["bias"])
    state2, y2 = inner.apply({"params": p["core"]}, spec.initial_state(2), h, resets)
    np.testing.assert_allclose(y, y2, atol=1e-6)
    np.testing.assert_allclose(state, state2, atol=1e-6)
    assert spec.stateful and state.shape == (2, 8)
