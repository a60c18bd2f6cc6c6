from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, localcontext
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.errors import ConfigError
from ascent.nn.attention import (
    POSITIONS,
    RELATIVE,
    SCORES,
    MultiHeadAttention,
    causal_mask,
    episode_ids,
    episode_mask,
    masked_softmax,
)
from ascent.nn.attention.positions import angles

DIM, HEADS, T = 8, 2, 6
D = DIM // HEADS


def _x(seed: int = 0, length: int = T, batch: int = 2) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (batch, length, DIM))


@pytest.mark.parametrize("masked", [False, True])
def test_scaled_dot_equals_flax(masked: bool) -> None:
    x, context = _x(0, 4), _x(1, 7)
    ours = MultiHeadAttention(DIM, HEADS)
    params = ours.init(jax.random.key(2), x, context)
    theirs = nn.MultiHeadDotProductAttention(num_heads=HEADS, qkv_features=DIM, out_features=DIM)
    assert jax.tree.structure(params) == jax.tree.structure(
        theirs.init(jax.random.key(2), x, context)
    )
    mask = causal_mask(4, 7) if masked else None
    expected = theirs.apply(params, x, context, mask=mask)
    np.testing.assert_allclose(ours.apply(params, x, context, mask=mask), expected, atol=1e-5)


@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("score", list(SCORES))
def test_causal_mask_hides_the_future(score: str, position: str) -> None:
    mha = MultiHeadAttention(DIM, HEADS, score=score, position=position)
    x = _x()
    params = mha.init(jax.random.key(1), x)
    mask = causal_mask(T, T)
    t = 2
    perturbed = x.at[:, t + 1 :].add(jax.random.normal(jax.random.key(5), (2, T - t - 1, DIM)))
    out = mha.apply(params, x, mask=mask)
    out_perturbed = mha.apply(params, perturbed, mask=mask)
    np.testing.assert_allclose(out[:, : t + 1], out_perturbed[:, : t + 1], atol=1e-6)
    assert not np.allclose(out[:, t + 1 :], out_perturbed[:, t + 1 :], atol=1e-3)


def _heads(x: np.ndarray, p: dict[str, Any], name: str) -> np.ndarray:
    """x [T, dim] -> [H, T, D] with the projection `name` of `p` (kernel [dim, H, D])."""
    return np.einsum("tf,fhd->htd", x, p[name]["kernel"]) + p[name]["bias"][:, None]


def _softmax_rows(e: np.ndarray, mask: np.ndarray) -> np.ndarray:
    e = np.where(mask, e, -np.inf)
    e = np.exp(e - e.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _output(z: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """z [H, T, D] -> [T, dim] through the output projection."""
    return np.einsum("htd,hdf->tf", z, p["out"]["kernel"]) + p["out"]["bias"]


def _positions(rng: np.random.Generator, tq: int, tk: int) -> tuple[np.ndarray, np.ndarray]:
    """Irregular increasing positions (a memory with gaps); queries are the last tq keys."""
    k_pos = np.cumsum(rng.integers(1, 4, size=(1, tk)), axis=1) + 5
    return k_pos[:, tk - tq :], k_pos


def shaw_loop(xq, xk, q_pos, k_pos, mask, p, max_distance):  # type: ignore[no-untyped-def]
    """Shaw et al. 2018, eqs. 3-5, one (i, j) pair at a time."""
    q, k, v = _heads(xq, p, "query"), _heads(xk, p, "key"), _heads(xk, p, "value")
    rel_k, rel_v = p["positions"]["rel_k"], p["positions"]["rel_v"]
    heads, tq, tk = q.shape[0], q.shape[1], k.shape[1]
    z = np.zeros((heads, tq, D))
    for h in range(heads):
        e = np.zeros((tq, tk))
        for i in range(tq):
            for j in range(tk):
                a = max(-max_distance, min(max_distance, k_pos[j] - q_pos[i])) + max_distance
                e[i, j] = q[h, i] @ (k[h, j] + rel_k[a]) / math.sqrt(D)  # eq. 4
        alpha = _softmax_rows(e, mask)
        for i in range(tq):
            for j in range(tk):
                a = max(-max_distance, min(max_distance, k_pos[j] - q_pos[i])) + max_distance
                z[h, i] += alpha[i, j] * (v[h, j] + rel_v[a])  # eq. 3
    return _output(z, p)


def xl_loop(xq, xk, q_pos, k_pos, mask, p):  # type: ignore[no-untyped-def]
    """Transformer-XL's A^rel_ij (Dai et al. 2019, §3.3), terms (a)-(d), pair by pair."""
    q, k, v = _heads(xq, p, "query"), _heads(xk, p, "key"), _heads(xk, p, "value")
    u, v_bias, w_r = (p["positions"][n] for n in ("u", "v", "w_r"))
    heads, tq, tk = q.shape[0], q.shape[1], k.shape[1]
    freq = 1.0 / 10000 ** (np.arange(0, DIM, 2) / DIM)
    z = np.zeros((heads, tq, D))
    for h in range(heads):
        a_rel = np.zeros((tq, tk))
        for i in range(tq):
            for j in range(tk):
                r = np.concatenate(
                    [np.sin((q_pos[i] - k_pos[j]) * freq), np.cos((q_pos[i] - k_pos[j]) * freq)]
                )  # R_{i-j}
                w_r_r = r @ w_r[:, h]  # W_{k,R} R_{i-j}
                a_rel[i, j] = (
                    q[h, i] @ k[h, j]  # (a)
                    + q[h, i] @ w_r_r  # (b)
                    + u[h] @ k[h, j]  # (c)
                    + v_bias[h] @ w_r_r  # (d)
                ) / math.sqrt(D)
        z[h] = _softmax_rows(a_rel, mask) @ v[h]
    return _output(z, p)


@pytest.mark.parametrize("position", ["shaw", "xl"])
@pytest.mark.parametrize("with_memory", [False, True])
def test_relative_schemes_equal_their_papers_loops(
    position: str, with_memory: bool, randomize: Callable[..., Any], rng: np.random.Generator
) -> None:
    tq, tk = (3, 7) if with_memory else (5, 5)
    options = {"max_distance": 3} if position == "shaw" else {}
    mha = MultiHeadAttention(DIM, HEADS, position=position, position_options=options)
    xq, xk = _x(0, tq, 1), _x(1, tk, 1)
    q_pos, k_pos = _positions(rng, tq, tk)
    mask = causal_mask(tq, tk)
    params = randomize(mha.init(jax.random.key(2), xq, xk, q_pos=q_pos, k_pos=k_pos))
    out = mha.apply(params, xq, xk, mask=mask, q_pos=q_pos, k_pos=k_pos)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
    args = (np.asarray(xq[0], np.float64), np.asarray(xk[0], np.float64), q_pos[0], k_pos[0])
    mask_np = np.asarray(mask[0, 0])
    if position == "shaw":
        expected = shaw_loop(*args, mask_np, p, max_distance=3)
    else:
        expected = xl_loop(*args, mask_np, p)
    np.testing.assert_allclose(out[0], expected, atol=1e-5)


def _shift_cases() -> list[tuple[str, str]]:
    # RoPE keeps only i - j for scores built from qᵀk and norms (not additive/multiplicative);
    # "none" ignores positions altogether.
    rope_scores = ["dot", "scaled_dot", "cosine", "euclidean"]
    return [
        (s, p)
        for p in sorted(RELATIVE | {"none"})
        for s in (rope_scores if p == "rope" else list(SCORES))
    ]


@pytest.mark.parametrize(("score", "position"), _shift_cases())
def test_relative_scores_ignore_a_common_shift(
    score: str, position: str, randomize: Callable[..., Any]
) -> None:
    # A memory policy acting for millions of steps must attend at step 10⁷ as at step 0
    # (issue 30): float32 round-off only, not an error growing with the position.
    mha = MultiHeadAttention(DIM, HEADS, score=score, position=position)
    x = _x()
    pos = jnp.broadcast_to(jnp.arange(T), (2, T))
    params = randomize(mha.init(jax.random.key(1), x, q_pos=pos, k_pos=pos), scale=0.3)
    for method in (MultiHeadAttention.logits, MultiHeadAttention.__call__):
        base = mha.apply(params, x, q_pos=pos, k_pos=pos, method=method)
        for shift in (37, 10**4, 10**5, 10**6, 10**7):
            shifted = mha.apply(params, x, q_pos=pos + shift, k_pos=pos + shift, method=method)
            drift = float(jnp.abs(shifted - base).max() / jnp.abs(base).max())
            assert drift <= 1e-6, (method.__name__, shift, drift)


def test_angles_are_exact_modulo_a_turn() -> None:
    # p ω mod 2π against 50-digit decimals, out to the int32 extremes: the error is float32
    # round-off of a number in [-π, π), at every p (float32(p) · ω is off by 7e-5 at 10⁵).
    freq = 10000.0 ** (-np.arange(0, 8, 2) / 8)
    pos = [0, 1, 37, 10**4, 10**5, 10**6, 10**7, 2**31 - 1, -1, -(10**7), -(2**31)]
    got = np.asarray(angles(jnp.asarray(pos, jnp.int32), freq), np.float64)
    with localcontext() as context:
        context.prec = 50
        two_pi = Decimal("6.28318530717958647692528676655900576839433879875021164194989")
        turns = [[Decimal(p) * Decimal(float(f)) / two_pi for f in freq] for p in pos]
        exact = np.array([[float((t - round(t)) * two_pi) for t in row] for row in turns])
    error = np.abs((got - exact + np.pi) % (2 * np.pi) - np.pi)  # on the circle
    assert error.max() <= 3e-7, error.max(axis=1)
    assert np.all((got >= -np.pi) & (got <= np.pi))


@pytest.mark.parametrize("position", ["sinusoidal", "learned"])
def test_absolute_schemes_see_the_shift(position: str, randomize: Callable[..., Any]) -> None:
    mha = MultiHeadAttention(DIM, HEADS, position=position)
    x, pos = _x(), jnp.broadcast_to(jnp.arange(T), (2, T))
    params = randomize(mha.init(jax.random.key(1), x))
    base = mha.apply(params, x, q_pos=pos, k_pos=pos, method=MultiHeadAttention.logits)
    shifted = mha.apply(params, x, q_pos=pos + 3, k_pos=pos + 3, method=MultiHeadAttention.logits)
    assert not np.allclose(base, shifted, atol=1e-3)


def test_episode_mask_stops_information_at_a_reset() -> None:
    mha = MultiHeadAttention(DIM, HEADS, position="xl")
    x = _x()
    params = mha.init(jax.random.key(1), x)
    ids = episode_ids(jnp.zeros((2, T), bool).at[:, 3].set(True))  # steps 3.. a new episode
    perturbed = x.at[:, :3].add(1.0)
    causal = causal_mask(T, T)
    masked = causal & episode_mask(ids, ids)
    np.testing.assert_allclose(
        mha.apply(params, x, mask=masked)[:, 3:],
        mha.apply(params, perturbed, mask=masked)[:, 3:],
        atol=1e-6,
    )
    # Without the episode mask the earlier episode leaks in: the check above can fail.
    leaked = mha.apply(params, perturbed, mask=causal)[:, 3:]
    assert not np.allclose(mha.apply(params, x, mask=causal)[:, 3:], leaked, atol=1e-3)


def test_weights_dropout_uses_the_rng() -> None:
    mha = MultiHeadAttention(DIM, HEADS, dropout=0.5)
    x = _x()
    params = mha.init(jax.random.key(1), x)
    a = mha.apply(params, x, deterministic=False, rngs={"dropout": jax.random.key(0)})
    b = mha.apply(params, x, deterministic=False, rngs={"dropout": jax.random.key(1)})
    assert not np.allclose(a, b)
    np.testing.assert_allclose(mha.apply(params, x), mha.apply(params, x, deterministic=True))


def test_unknown_choices_name_the_field_at_construction() -> None:
    with pytest.raises(ConfigError, match="score='nope'"):
        MultiHeadAttention(DIM, HEADS, score="nope")
    with pytest.raises(ConfigError, match="position='nope'"):
        MultiHeadAttention(DIM, HEADS, position="nope")
    with pytest.raises(ConfigError, match="num_heads=3"):
        MultiHeadAttention(DIM, 3)


def test_masked_softmax_is_what_mha_uses() -> None:
    # The weights MHA applies are the masked softmax of its logits.
    mha = MultiHeadAttention(DIM, HEADS, score="cosine", position="alibi")
    x = _x()
    params = mha.init(jax.random.key(1), x)
    logits = mha.apply(params, x, method=MultiHeadAttention.logits)
    weights = masked_softmax(logits, causal_mask(T, T))
    p = params["params"]
    v = jnp.einsum("btf,fhd->bhtd", x, p["value"]["kernel"]) + p["value"]["bias"][:, None]
    z = jnp.einsum("bhqk,bhkd->bqhd", weights, v)
    expected = jnp.einsum("bqhd,hdf->bqf", z, p["out"]["kernel"]) + p["out"]["bias"]
    np.testing.assert_allclose(mha.apply(params, x, mask=causal_mask(T, T)), expected, atol=1e-5)


def test_rope_and_alibi_follow_their_formulas(rng: np.random.Generator) -> None:
    x = _x(0, 4, 1)
    pos = jnp.asarray(rng.integers(0, 50, size=(1, 4)))
    rope = MultiHeadAttention(DIM, HEADS, score="dot", position="rope")
    params = rope.init(jax.random.key(1), x)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
    logits = rope.apply(params, x, q_pos=pos, k_pos=pos, method=MultiHeadAttention.logits)
    xs, ps = np.asarray(x[0], np.float64), np.asarray(pos[0])
    q, k = _heads(xs, p, "query"), _heads(xs, p, "key")
    freq = 1.0 / 10000 ** (np.arange(0, D, 2) / D)

    def rotated(v: np.ndarray, position: int) -> np.ndarray:
        # RoPE (Su et al. 2021, eq. 34): rotate the pair (v_f, v_{f+D/2}) by position · ω_f
        c, s = np.cos(position * freq), np.sin(position * freq)
        a, b = v[: D // 2], v[D // 2 :]
        return np.concatenate([a * c - b * s, a * s + b * c])

    for h in range(HEADS):
        for i in range(4):
            for j in range(4):
                expected = rotated(q[h, i], ps[i]) @ rotated(k[h, j], ps[j])
                np.testing.assert_allclose(logits[0, h, i, j], expected, rtol=1e-4, atol=1e-4)

    alibi = MultiHeadAttention(DIM, HEADS, score="dot", position="alibi")
    params = alibi.init(jax.random.key(1), x)
    content = MultiHeadAttention(DIM, HEADS, score="dot").apply(
        params, x, method=MultiHeadAttention.logits
    )
    logits = alibi.apply(params, x, q_pos=pos, k_pos=pos, method=MultiHeadAttention.logits)
    slopes = np.array([2.0**-4, 2.0**-8])  # 2^(-8h/H) for H = 2
    distance = np.abs(ps[:, None] - ps[None, :])
    expected = content - slopes[None, :, None, None] * distance
    np.testing.assert_allclose(logits, expected, atol=1e-4)


@pytest.mark.parametrize("position", ["sinusoidal", "learned"])
def test_absolute_schemes_add_to_the_inputs(position: str, randomize: Callable[..., Any]) -> None:
    x, pos = _x(0, 4, 1), jnp.array([[0, 3, 4, 9]])
    mha = MultiHeadAttention(DIM, HEADS, position=position)
    params = randomize(mha.init(jax.random.key(1), x))
    if position == "sinusoidal":
        freq = 1.0 / 10000 ** (np.arange(0, DIM, 2) / DIM)
        angle = np.asarray(pos[0])[:, None] * freq
        encoding = np.concatenate([np.sin(angle), np.cos(angle)], axis=-1)
    else:
        encoding = np.asarray(params["params"]["positions"]["table"])[np.asarray(pos[0])]
    plain = {"params": {k: v for k, v in params["params"].items() if k != "positions"}}
    expected = MultiHeadAttention(DIM, HEADS).apply(plain, x + encoding)
    np.testing.assert_allclose(mha.apply(params, x, q_pos=pos, k_pos=pos), expected, atol=1e-5)
