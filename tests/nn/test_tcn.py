"""The temporal convolution core (ascent/nn/tcn.py): causal, exactly its receptive field,
nothing across an episode start, a naive loop over each step's window, chunks = steps,
all steps of a call in parallel."""

from __future__ import annotations

from functools import cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.errors import ConfigError
from ascent.nn.sequence import CoreSpec
from ascent.nn.tcn import TemporalConv

B, T, F, E = 2, 13, 3, 4


@cache
def _core(num_layers: int = 3) -> tuple[TemporalConv, Any, Any]:
    """The core, noisy parameters (non-zero biases too, so that zero padding at every
    layer differs from zero inputs), and its compiled apply."""
    core = TemporalConv(E, num_layers)
    x, resets = _inputs()
    params = core.init(jax.random.key(1), core.initial_state(B), x[:, :1], resets[:, :1])
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(2), len(leaves))
    noisy = [p + 0.5 * jax.random.normal(k, p.shape) for k, p in zip(keys, leaves, strict=True)]
    return core, jax.tree.unflatten(tree, noisy), jax.jit(core.apply)


def _inputs(seed: int = 0) -> tuple[jax.Array, jax.Array]:
    """Row 0 one episode of T steps; row 1 a new episode at step 6."""
    x = jax.random.normal(jax.random.key(seed), (B, T, F))
    resets = jnp.zeros((B, T), bool).at[:, 0].set(True).at[1, 6].set(True)
    return x, resets


def _naive(params: Any, num_layers: int, x: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """The equation of the module docstring, one step at a time: for step t, the steps
    of its episode among the last 2^L, each layer over them with zeros before the first."""
    p = jax.tree.map(np.asarray, params["params"])
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    out = np.zeros((B, T, E))
    for b in range(B):
        for t in range(T):
            start = max(s for s in range(t + 1) if resets[b, s])
            window = range(max(start, t - 2**num_layers + 1), t + 1)
            h = [x[b, s] @ p["embed"]["kernel"] + p["embed"]["bias"] for s in window]
            for l in range(num_layers):
                d, conv = 2**l, p[f"conv_{l}"]
                new = []
                for i in range(len(h)):
                    back = h[i - d] if i >= d else np.zeros(E)  # zero before the window
                    taps = np.concatenate([back, h[i]])
                    new.append(h[i] + relu(taps @ conv["kernel"] + conv["bias"]))
                h = new
            out[b, t] = h[-1]
    return out


@cache
def _jacobian(num_layers: int) -> np.ndarray:
    """|∂y[b, t] / ∂x[b', t']| summed over features and over three inputs (a ReLU may be
    off for one of them at every unit of a layer): [B, T, B, T]."""
    core, params, _ = _core(num_layers)
    resets = _inputs()[1]

    def y(x: jax.Array) -> jax.Array:
        return core.apply(params, core.initial_state(B), x, resets)[1]

    jacs = [jax.jacrev(y)(_inputs(seed)[0]) for seed in range(3)]  # [B, T, E, B, T, F] each
    return np.asarray(sum(jnp.abs(jac).sum(axis=(2, 5)) for jac in jacs))


@pytest.mark.parametrize("num_layers", [1, 3])
def test_equals_a_naive_loop_over_each_steps_window(num_layers: int) -> None:
    core, params, apply = _core(num_layers)
    x, resets = _inputs()
    _, y = apply(params, core.initial_state(B), x, resets)
    assert y.shape == (B, T, E)
    want = _naive(params, num_layers, np.asarray(x), np.asarray(resets))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_receptive_field_is_exactly_the_last_2_to_the_num_layers_steps() -> None:
    """Row 0 is one episode: y_t depends on x_{t-j} for j = 0 .. 2^L - 1 (8 steps for 3
    layers) and not on x_{t-8} or earlier, nor on a later step (causal)."""
    jac = _jacobian(3)[0, :, 0, :]  # [T, T]: output step, input step
    t, s = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    inside = (s <= t) & (t - s < 8)
    assert np.all(jac[inside] > 1e-4), "every step of the window reaches the output"
    assert np.all(jac[~inside] == 0.0), "nothing outside the window does"
    assert TemporalConv(E, 3).receptive_field == 8


def test_no_output_depends_on_a_later_step_or_another_row_or_episode() -> None:
    jac = _jacobian(3)
    t, s = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    assert np.all(jac[0, :, 0][t < s] == 0.0) and np.all(jac[1, :, 1][t < s] == 0.0)  # causal
    assert np.all(jac[0, :, 1] == 0.0) and np.all(jac[1, :, 0] == 0.0)  # rows apart
    row1 = jac[1, :, 1]  # episode start at step 6
    assert np.all(row1[6:, :6] == 0.0), "nothing before the episode start"
    assert np.all(row1[6:, 6:][t[6:, 6:] >= s[6:, 6:]] > 1e-4), "all of its own episode"


def test_a_carried_state_reaches_nothing_after_an_episode_start() -> None:
    """Whatever came before (a state carried from another sequence), row 1's outputs from
    its reset on equal those of its new episode alone; before the reset the state
    matters (the core remembers across calls)."""
    core, params, apply = _core(3)
    x, resets = _inputs()
    _, y = apply(params, core.initial_state(B), x, resets)
    carried, _ = apply(params, core.initial_state(B), 5.0 * x[:, ::-1], resets)
    _, y2 = apply(params, carried, x, resets.at[0, 0].set(False))
    np.testing.assert_allclose(y2[1], y[1], atol=1e-6)  # row 1 starts at 0 and at 6
    assert not np.allclose(y2[0, :7], y[0, :7], atol=1e-3)  # row 0 continues: it remembers
    np.testing.assert_allclose(y2[0, 8:], y[0, 8:], atol=1e-6)  # beyond 8 steps: forgotten
    _, alone = apply(params, core.initial_state(B), x[:, 6:], resets[:, 6:].at[:, 0].set(True))
    np.testing.assert_allclose(alone[1], y[1, 6:], atol=1e-6)


@pytest.mark.parametrize("chunks", [[1] * T, [3, 1, 5, 4], [2, 11]])
def test_one_call_over_t_steps_equals_calls_over_chunks_carrying_the_state(
    chunks: list[int],
) -> None:
    """Chunks shorter and longer than each layer's dilation (1, 2, 4) alike."""
    core, params, apply = _core(3)
    x, resets = _inputs()
    state_t, y_t = apply(params, core.initial_state(B), x, resets)
    state, ys, start = core.initial_state(B), [], 0
    for size in chunks:
        state, y = apply(params, state, x[:, start : start + size], resets[:, start : start + size])
        ys.append(y)
        start += size
    np.testing.assert_allclose(jnp.concatenate(ys, axis=1), y_t, atol=1e-5)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(state_t), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_state_is_each_layers_window_zero_at_the_start() -> None:
    """2^L - 1 vectors in all (layer l keeps 2^l steps); zeros, age 0 at the start; after
    a reset at the last step only that step is kept."""
    core, params, apply = _core(3)
    state = core.initial_state(5)
    assert [a.shape for a in state.taps] == [(5, 1, E), (5, 2, E), (5, 4, E)]
    assert all(not a.any() for a in state.taps) and not state.age.any()
    x, resets = _inputs()
    state, _ = apply(params, core.initial_state(B), x, resets.at[:, -1].set(True))
    assert state.age.tolist() == [1, 1]
    assert all(not a[:, :-1].any() and a[:, -1].any() for a in state.taps)


def test_all_steps_of_a_call_are_computed_in_parallel() -> None:
    """No loop over time in the program: the course's claim for CNNs (and transformers)."""
    core, params, _ = _core(3)
    x, resets = _inputs()
    program = str(jax.make_jaxpr(core.apply)(params, core.initial_state(B), x, resets))
    assert "scan" not in program and "while" not in program


def test_receptive_field_must_fit_in_memory_len() -> None:
    assert CoreSpec("tcn", num_layers=5, memory_len=32).build(None).receptive_field == 32
    with pytest.raises(ConfigError, match="num_layers"):
        CoreSpec("tcn", num_layers=6, memory_len=32)
    with pytest.raises(ConfigError, match="num_layers"):
        CoreSpec("tcn", num_layers=0)
