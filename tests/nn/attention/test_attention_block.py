from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.errors import ConfigError
from ascent.nn.attention import (
    POSITIONS,
    GRUGate,
    Memory,
    MultiHeadAttention,
    TransformerBlock,
    TransformerEncoder,
    causal_mask,
    reset_memory,
)

DIM, HEADS, T = 8, 2, 5
D = DIM // HEADS


def _x(seed: int = 0, length: int = T, batch: int = 2, features: int = DIM) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (batch, length, features))


def _pieces(p: dict[str, Any], mask: jax.Array) -> tuple[Callable[..., jax.Array], ...]:
    """The block's parts applied by hand: (LN before attention, attention, LN before MLP, MLP)."""

    def ln(name: str) -> Callable[[jax.Array], jax.Array]:
        return lambda h: nn.LayerNorm().apply({"params": p[name]}, h)

    def attn(h: jax.Array, c: jax.Array) -> jax.Array:
        return MultiHeadAttention(DIM, HEADS).apply({"params": p["attn"]}, h, c, mask=mask)

    def mlp(h: jax.Array) -> jax.Array:
        hidden = nn.gelu(nn.Dense(4 * DIM).apply({"params": p["mlp_in"]}, h))
        return nn.Dense(DIM).apply({"params": p["mlp_out"]}, hidden)

    return ln("ln_attn"), attn, ln("ln_mlp"), mlp


def test_pre_post_and_no_norm_blocks_are_their_formulas(randomize: Callable[..., Any]) -> None:
    x, mask = _x(), causal_mask(T, T)
    pre, post = TransformerBlock(DIM, HEADS, norm="pre"), TransformerBlock(DIM, HEADS, norm="post")
    bare = TransformerBlock(DIM, HEADS, norm="none")
    params = randomize(pre.init(jax.random.key(1), x, mask=mask), scale=0.4)
    ln1, attn, ln2, mlp = _pieces(params["params"], mask)

    y = x + attn(ln1(x), ln1(x))  # pre-LN: x + f(LN(x)), the stream never normalised
    expected_pre = y + mlp(ln2(y))
    y = ln1(x + attn(x, x))  # post-LN: LN(x + f(x))
    expected_post = ln2(y + mlp(y))
    y = x + attn(x, x)  # no norm: x + f(x)
    expected_bare = y + mlp(y)

    out_pre = pre.apply(params, x, mask=mask)
    out_post = post.apply(params, x, mask=mask)  # same parameter tree, other placement
    out_bare = bare.apply(params, x, mask=mask)
    np.testing.assert_allclose(out_pre, expected_pre, atol=1e-5)
    np.testing.assert_allclose(out_post, expected_post, atol=1e-5)
    np.testing.assert_allclose(out_bare, expected_bare, atol=1e-5)
    assert not np.allclose(out_pre, out_post, atol=1e-2)
    assert not np.allclose(out_bare, out_pre, atol=1e-2)
    # without norm the block has no layer-norm parameters at all
    assert not {"ln_attn", "ln_mlp"} & set(bare.init(jax.random.key(1), x, mask=mask)["params"])


def test_gru_gate_is_gtrxl_and_starts_near_identity(randomize: Callable[..., Any]) -> None:
    x, y = _x(0), _x(1)
    gate = GRUGate(gate_bias=2.0)
    p = randomize(gate.init(jax.random.key(0), x, y))["params"]

    def lin(name: str, h: jax.Array) -> jax.Array:
        return h @ p[name]["kernel"]

    y_relu = jnp.maximum(y, 0.0)
    r = jax.nn.sigmoid(lin("w_r", y_relu) + lin("u_r", x))
    z = jax.nn.sigmoid(lin("w_z", y_relu) + lin("u_z", x) - p["b_g"])
    h = jnp.tanh(lin("w_g", y_relu) + lin("u_g", r * x))
    np.testing.assert_allclose(gate.apply({"params": p}, x, y), (1 - z) * x + z * h, atol=1e-5)

    # At initialisation, a large b_g makes z ≈ 0: the gate passes x through.
    far = GRUGate(gate_bias=20.0)
    out = far.apply(far.init(jax.random.key(0), x, y), x, y)
    np.testing.assert_allclose(out, x, atol=1e-4)


def test_gru_block_starts_closer_to_identity_than_residual() -> None:
    x = _x()
    gap = {}
    for gate in ("residual", "gru"):
        block = TransformerBlock(DIM, HEADS, gate=gate)
        out = block.apply(block.init(jax.random.key(0), x), x)
        gap[gate] = float(jnp.abs(out - x).mean())
    assert gap["gru"] < 0.5 * gap["residual"]


def _encoder(**kw: Any) -> TransformerEncoder:
    return TransformerEncoder(dim=DIM, num_layers=2, num_heads=HEADS, memory_len=3, **kw)


def _step_by_step(enc, params, x, memory, resets):  # type: ignore[no-untyped-def]
    """One `apply` per step under `lax.scan`, as a policy acts: memory carried along."""

    def body(memory: Memory, xs: tuple[jax.Array, jax.Array]) -> tuple[Memory, jax.Array]:
        x_t, reset_t = xs  # [B, F], [B]
        y, memory = enc.apply(params, x_t[:, None], memory, reset_t[:, None])
        return memory, y[:, 0]

    memory, ys = jax.lax.scan(body, memory, (x.swapaxes(0, 1), resets.swapaxes(0, 1)))
    return ys.swapaxes(0, 1), memory


ENCODERS = [dict(position=p) for p in POSITIONS] + [
    dict(score="additive", position="shaw", norm="post", gate="gru"),
    dict(score="cosine", position="xl", gate="gru"),
    dict(score="euclidean", position="rope", norm="post"),
    dict(score="multiplicative", position="alibi", gate="gru"),
    dict(score="dot", position="learned", norm="post", gate="gru"),
    dict(position="xl", norm="none", gate="gru"),
]


@pytest.mark.parametrize("options", ENCODERS, ids=lambda o: "-".join(o.values()))
def test_step_by_step_equals_the_full_sequence(
    options: dict[str, str], randomize: Callable[..., Any]
) -> None:
    enc = _encoder(**options)
    steps = 8  # longer than the memory: the window of 3 past steps matters
    x = _x(0, steps, features=5)
    resets = jnp.zeros((2, steps), bool).at[1, 4].set(True)
    memory = enc.initial_memory(2)
    params = randomize(enc.init(jax.random.key(1), x, memory, resets), scale=0.3)
    full, full_memory = enc.apply(params, x, memory, resets)
    stepped, stepped_memory = _step_by_step(enc, params, x, memory, resets)
    np.testing.assert_allclose(stepped, full, atol=1e-5)
    chex_equal = jax.tree.map(
        lambda a, b: np.allclose(a, b, atol=1e-5), stepped_memory, full_memory
    )
    assert all(jax.tree.leaves(chex_equal))
    # Two chunks with the memory carried between them: the same again (chunked training).
    first, mid = enc.apply(params, x[:, :3], memory, resets[:, :3])
    second, _ = enc.apply(params, x[:, 3:], mid, resets[:, 3:])
    np.testing.assert_allclose(jnp.concatenate([first, second], 1), full, atol=1e-5)


@pytest.mark.parametrize("position", ["xl", "rope", "shaw", "alibi"])
def test_an_episode_at_step_ten_million_attends_as_at_step_zero(
    position: str, randomize: Callable[..., Any]
) -> None:
    # Issue 30: positions count the steps of an episode, which can run for millions; a
    # relative scheme must see only distances there, in one call as step by step, also
    # when a new episode (positions from 0) starts in the same call.
    enc = _encoder(position=position)
    x = _x(0, 8, features=5)
    resets = jnp.zeros((2, 8), bool).at[1, 4].set(True)  # row 1: a new episode from step 4
    memory = enc.initial_memory(2)
    params = randomize(enc.init(jax.random.key(1), x, memory, resets), scale=0.3)
    _, memory = enc.apply(params, _x(9, 4, features=5), memory)  # positions 1..3 kept
    early, _ = enc.apply(params, x, memory, resets)
    for shift in (10**4, 10**5, 10**6, 10**7):
        late_memory = memory._replace(positions=memory.positions + shift)
        late, _ = enc.apply(params, x, late_memory, resets)
        drift = float(jnp.abs(late - early).max() / jnp.abs(early).max())
        assert drift <= 1e-6, (shift, drift)
        stepped, _ = _step_by_step(enc, params, x, late_memory, resets)
        np.testing.assert_allclose(stepped, late, atol=1e-5)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_memory_is_a_window_of_the_past(num_layers: int) -> None:
    enc = TransformerEncoder(dim=DIM, num_layers=num_layers, num_heads=HEADS, memory_len=3)
    x = _x(0, 8, features=5)
    memory = enc.initial_memory(2)
    params = enc.init(jax.random.key(1), x, memory)
    y, _ = enc.apply(params, x, memory)
    # Step 7 reads steps 4..7 in each layer: L layers reach back to step 7 - 3L.
    for s in range(8):
        changed, _ = enc.apply(params, x.at[:, s].add(3.0), memory)
        reached = not np.allclose(changed[:, 7], y[:, 7], atol=1e-5)
        assert reached == (s >= 7 - 3 * num_layers), s


@pytest.mark.parametrize("position", ["learned", "shaw", "xl"])
def test_no_information_crosses_an_episode_reset(position: str) -> None:
    enc = _encoder(position=position, gate="gru")
    x = _x(0, 8, features=5)
    resets = jnp.zeros((2, 8), bool).at[:, 3].set(True)  # a new episode from step 3
    memory = enc.initial_memory(2)
    params = enc.init(jax.random.key(1), x, memory, resets)
    y, _ = enc.apply(params, x, memory, resets)
    perturbed, _ = enc.apply(params, x.at[:, :3].add(2.0), memory, resets)
    np.testing.assert_allclose(perturbed[:, 3:], y[:, 3:], atol=1e-6)
    assert not np.allclose(perturbed[:, :3], y[:, :3], atol=1e-3)
    # Without the reset, the earlier steps do reach the later ones.
    leaked, _ = enc.apply(params, x.at[:, :3].add(2.0), memory)
    assert not np.allclose(leaked[:, 3:], enc.apply(params, x, memory)[0][:, 3:], atol=1e-3)


def test_a_reset_forgets_the_memory() -> None:
    enc = _encoder(position="sinusoidal")
    x = _x(0, 8, features=5)
    fresh = enc.initial_memory(2)
    params = enc.init(jax.random.key(1), x, fresh)
    _, used = enc.apply(params, _x(9, 8, features=5), fresh)  # a previous episode
    expected, _ = enc.apply(params, x, fresh)
    starts = jnp.zeros((2, 8), bool).at[:, 0].set(True)
    with_flag, _ = enc.apply(params, x, used, starts)
    yes, no = jnp.array([True, True]), jnp.array([False, False])
    with_reset, _ = enc.apply(params, x, reset_memory(used, terminated=yes, truncated=no))
    cut, _ = enc.apply(params, x, reset_memory(used, terminated=no, truncated=yes))
    np.testing.assert_allclose(with_flag, expected, atol=1e-6)
    np.testing.assert_allclose(with_reset, expected, atol=1e-6)
    np.testing.assert_allclose(cut, expected, atol=1e-6)  # a truncated episode ends too
    # Only the rows that ended are reset.
    first = jnp.array([True, False])
    half, _ = enc.apply(params, x, reset_memory(used, terminated=first, truncated=no))
    np.testing.assert_allclose(half[0], expected[0], atol=1e-6)
    assert not np.allclose(half[1], expected[1], atol=1e-3)


def test_memory_shapes_positions_and_stop_gradient() -> None:
    enc = _encoder(position="rope")
    x = _x(0, 4, features=5)
    memory = enc.initial_memory(2)
    assert memory.hidden.shape == (2, 2, 3, DIM) and not memory.valid.any()
    params = enc.init(jax.random.key(1), x, memory)
    resets = jnp.zeros((2, 4), bool).at[0, 2].set(True)
    y, memory = enc.apply(params, x, memory, resets)
    assert y.shape == (2, 4, DIM)
    np.testing.assert_array_equal(memory.positions, [[1, 0, 1], [1, 2, 3]])
    assert memory.valid.all()

    def loss(hidden: jax.Array) -> jax.Array:
        return enc.apply(params, x, memory._replace(hidden=hidden))[0].sum()

    assert not np.asarray(jax.grad(loss)(memory.hidden)).any()  # memory is a constant


def test_bad_encoder_options_fail_at_construction() -> None:
    with pytest.raises(ConfigError, match="memory_len=0"):
        TransformerEncoder(dim=DIM, num_layers=1, num_heads=HEADS, memory_len=0)
    with pytest.raises(ConfigError, match="norm='middle'"):
        _encoder(norm="middle")
    with pytest.raises(ConfigError, match="score='cos'"):
        _encoder(score="cos")


def test_encoder_with_dict_options_hashes_and_jits() -> None:
    def make() -> TransformerEncoder:
        return _encoder(
            score="cosine",
            score_options={"temperature": 0.2},
            position="shaw",
            position_options={"max_distance": 2},
        )

    enc = make()
    assert hash(enc) == hash(make()) and enc == make()
    x, memory = _x(0, 2, features=5), enc.initial_memory(2)
    params = enc.init(jax.random.key(0), x, memory)
    assert params["params"]["blocks_0"]["attn"]["positions"]["rel_k"].shape == (5, D)
    apply = jax.jit(lambda e, p, x, m: e.apply(p, x, m)[0], static_argnums=0)
    expected = enc.apply(params, x, memory)[0]
    np.testing.assert_allclose(apply(enc, params, x, memory), expected, atol=1e-6)
