"""Returns, TD errors, n-step returns, GAE and ends_within: hand-computed cases,
identities between them, and plain-Python loop references on random rollouts."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from ascent.core.returns import discounted_returns, ends_within, gae, n_step_returns, td_errors

# Compiled once per shape and reused across tests (gamma, lambda are traced).
returns_fn = jax.jit(discounted_returns)
td_fn = jax.jit(td_errors)
n_step_fn = jax.jit(n_step_returns, static_argnames="n")
gae_fn = jax.jit(gae)
ends_fn = jax.jit(ends_within)


def col(*xs: float) -> np.ndarray:
    """A single-environment rollout [T, 1]."""
    return np.asarray(xs, np.float32)[:, None]


def random_rollout(seed: int, t: int = 9, n: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    terminated = rng.random((t, n)) < 0.2
    truncated = (rng.random((t, n)) < 0.2) & ~terminated
    values = rng.normal(size=(t, n)).astype(np.float32)
    # Consistent data: V(s'_t) is V(s_{t+1}) unless the episode ended or the rollout did.
    done = terminated | truncated
    next_values = np.concatenate([values[1:], rng.normal(size=(1, n))]).astype(np.float32)
    next_values = np.where(done, rng.normal(size=(t, n)), next_values).astype(np.float32)
    return {
        "rewards": rng.normal(size=(t, n)).astype(np.float32),
        "values": values,
        "next_values": next_values,
        "terminated": terminated,
        "truncated": truncated,
    }


def reference_returns(r, term, trunc, nv, gamma):
    t_len, n = r.shape
    out = np.zeros_like(r, dtype=np.float64)
    for j in range(n):
        g = 0.0
        for t in reversed(range(t_len)):
            boot = nv[t, j] if (trunc[t, j] or t == t_len - 1) else g
            g = r[t, j] + gamma * (1 - term[t, j]) * boot
            out[t, j] = g
    return out


def reference_n_step(r, nv, term, trunc, gamma, n_steps):
    t_len, n = r.shape
    out = np.zeros_like(r, dtype=np.float64)
    for j in range(n):
        for t in range(t_len):
            g, k = 0.0, 0
            while True:
                g += gamma**k * r[t + k, j]
                end = term[t + k, j] or trunc[t + k, j] or t + k == t_len - 1 or k + 1 == n_steps
                if end:
                    g += gamma ** (k + 1) * (1 - term[t + k, j]) * nv[t + k, j]
                    break
                k += 1
            out[t, j] = g
    return out


def keywords(d: dict, *names: str) -> dict:
    """The arrays of a random rollout that a returns function takes, by name."""
    return {name: d[name] for name in names}


def reference_gae(r, v, nv, term, trunc, gamma, lam):
    t_len, n = r.shape
    out = np.zeros_like(r, dtype=np.float64)
    for j in range(n):
        a = 0.0
        for t in reversed(range(t_len)):
            delta = r[t, j] + gamma * (1 - term[t, j]) * nv[t, j] - v[t, j]
            a = delta + gamma * lam * (1 - (term[t, j] or trunc[t, j])) * a
            out[t, j] = a
    return out


def test_discounted_returns_hand_computed():
    zeros = col(0, 0, 0)
    out = returns_fn(rewards=col(1, 1, 1), terminated=zeros, truncated=zeros, gamma=0.5)
    np.testing.assert_allclose(out[:, 0], [1.75, 1.5, 1.0])


def test_discounted_returns_restart_after_terminal():
    # Episode 1 is steps 0-1 (terminal at 1); episode 2 starts at step 2.
    term = col(0, 1, 0, 0)
    out = returns_fn(
        rewards=col(1, 2, 3, 4),
        terminated=term,
        truncated=col(0, 0, 0, 0),
        next_values=col(9, 9, 9, 0),
        gamma=0.5,
    )
    np.testing.assert_allclose(out[:, 0], [2.0, 2.0, 5.0, 4.0])


def test_discounted_returns_truncation_and_rollout_end_bootstrap():
    r, trunc, nv = col(1, 1, 1), col(0, 1, 0), col(9, 10, 4)
    out = returns_fn(rewards=r, terminated=col(0, 0, 0), truncated=trunc, next_values=nv, gamma=0.5)
    # G2 = 1 + .5·4 (rollout end), G1 = 1 + .5·10 (truncated), G0 = 1 + .5·G1.
    np.testing.assert_allclose(out[:, 0], [4.0, 6.0, 3.0])
    # Without next_values nothing is bootstrapped.
    out = returns_fn(rewards=r, terminated=col(0, 0, 0), truncated=trunc, gamma=0.5)
    np.testing.assert_allclose(out[:, 0], [1.5, 1.0, 1.0])
    # Terminated and truncated together: terminated wins, no bootstrap.
    out = returns_fn(rewards=r, terminated=col(0, 1, 0), truncated=trunc, next_values=nv, gamma=0.5)
    np.testing.assert_allclose(out[:, 0], [1.5, 1.0, 3.0])


def test_discounted_returns_gamma_zero_is_rewards():
    d = random_rollout(0)
    out = returns_fn(
        rewards=d["rewards"],
        terminated=d["terminated"],
        truncated=d["truncated"],
        next_values=d["next_values"],
        gamma=0.0,
    )
    np.testing.assert_allclose(out, d["rewards"], rtol=1e-6)


@pytest.mark.parametrize("seed", [1, 2])
def test_discounted_returns_matches_loop(seed):
    d = random_rollout(seed)
    args = (d["rewards"], d["terminated"], d["truncated"])
    out = returns_fn(**keywords(d, "rewards", "terminated", "truncated", "next_values"), gamma=0.9)
    ref = reference_returns(*args, d["next_values"], 0.9)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_flags_as_floats_and_trailing_batch_dims():
    d = random_rollout(3)
    args = (d["rewards"], d["terminated"], d["truncated"], d["next_values"])
    expected = returns_fn(
        **keywords(d, "rewards", "terminated", "truncated", "next_values"), gamma=0.9
    )
    as_float = returns_fn(
        rewards=d["rewards"],
        terminated=d["terminated"].astype(np.float32),
        truncated=d["truncated"].astype(np.int32),
        next_values=d["next_values"],
        gamma=0.9,
    )
    np.testing.assert_allclose(as_float, expected, rtol=1e-6)
    # [T, N] → [T, 2, 2]: the same numbers, reshaped.
    t = d["rewards"].shape[0]
    names = ("rewards", "terminated", "truncated", "next_values")
    stacked = discounted_returns(
        **{k: x.reshape(t, 2, 2) for k, x in zip(names, args, strict=True)}, gamma=0.9
    )
    np.testing.assert_allclose(stacked.reshape(t, 4), expected, rtol=1e-6)


def test_td_errors_hand_computed():
    out = td_fn(
        rewards=col(1, 2),
        values=col(0.5, 1),
        next_values=col(1, 3),
        terminated=col(0, 1),
        gamma=0.9,
    )
    np.testing.assert_allclose(out[:, 0], [1.4, 1.0], rtol=1e-6)


def test_n_step_hand_computed():
    r, nv, no = col(1, 2, 3, 4), col(10, 20, 30, 40), col(0, 0, 0, 0)
    out = n_step_fn(rewards=r, next_values=nv, terminated=no, truncated=no, gamma=0.5, n=2)
    np.testing.assert_allclose(out[:, 0], [7.0, 11.0, 15.0, 24.0])
    # A terminal at t=1 stops the window there with no bootstrap.
    out = n_step_fn(
        rewards=r, next_values=nv, terminated=col(0, 1, 0, 0), truncated=no, gamma=0.5, n=2
    )
    np.testing.assert_allclose(out[:, 0], [2.0, 2.0, 15.0, 24.0])
    # n=3 with a truncation at t=1: windows starting at 0 and 1 bootstrap from nv[1].
    out = n_step_fn(
        rewards=r, next_values=nv, terminated=no, truncated=col(0, 1, 0, 0), gamma=0.5, n=3
    )
    np.testing.assert_allclose(out[:, 0], [7.0, 12.0, 15.0, 24.0])
    out = n_step_fn(rewards=r, next_values=nv, terminated=no, truncated=no, gamma=0.5, n=3)
    np.testing.assert_allclose(out[:, 0], [6.5, 9.5, 15.0, 24.0])


def test_n_step_one_is_one_step_target():
    d = random_rollout(4)
    out = n_step_fn(
        rewards=d["rewards"],
        next_values=d["next_values"],
        terminated=d["terminated"],
        truncated=d["truncated"],
        gamma=0.9,
        n=1,
    )
    expected = d["rewards"] + 0.9 * (1 - d["terminated"]) * d["next_values"]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [9, 20])
def test_n_step_long_is_discounted_returns(n):
    d = random_rollout(5)  # T = 9
    out = n_step_fn(
        rewards=d["rewards"],
        next_values=d["next_values"],
        terminated=d["terminated"],
        truncated=d["truncated"],
        gamma=0.9,
        n=n,
    )
    expected = returns_fn(
        rewards=d["rewards"],
        terminated=d["terminated"],
        truncated=d["truncated"],
        next_values=d["next_values"],
        gamma=0.9,
    )
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [2, 3])
def test_n_step_matches_loop(n):
    d = random_rollout(6)
    args = (d["rewards"], d["next_values"], d["terminated"], d["truncated"])
    out = n_step_fn(
        **keywords(d, "rewards", "next_values", "terminated", "truncated"), gamma=0.9, n=n
    )
    np.testing.assert_allclose(out, reference_n_step(*args, 0.9, n), rtol=1e-5, atol=1e-5)


def test_n_step_rejects_bad_n():
    with pytest.raises(ValueError, match="n must be"):
        n_step_returns(
            rewards=col(1), next_values=col(1), terminated=col(0), truncated=col(0), gamma=0.9, n=0
        )


def test_gae_hand_computed():
    r, v, nv = col(1, 1), col(0.5, 0.5), col(0.5, 2)
    no = col(0, 0)
    out = gae_fn(
        rewards=r, values=v, next_values=nv, terminated=no, truncated=no, gamma=0.5, gae_lambda=0.5
    )
    # δ = [0.75, 1.5]; A1 = 1.5; A0 = 0.75 + 0.25·1.5.
    np.testing.assert_allclose(out[:, 0], [1.125, 1.5])
    # A truncation at t=0 cuts the recursion but keeps the bootstrap in δ0.
    out = gae_fn(
        rewards=r,
        values=v,
        next_values=nv,
        terminated=no,
        truncated=col(1, 0),
        gamma=0.5,
        gae_lambda=0.5,
    )
    np.testing.assert_allclose(out[:, 0], [0.75, 1.5])


def test_gae_truncated_bootstraps_terminated_does_not():
    r, v, nv, yes, no = col(1), col(0), col(5), col(1), col(0)
    terminated = gae_fn(
        rewards=r,
        values=v,
        next_values=nv,
        terminated=yes,
        truncated=no,
        gamma=0.9,
        gae_lambda=0.95,
    )
    truncated = gae_fn(
        rewards=r,
        values=v,
        next_values=nv,
        terminated=no,
        truncated=yes,
        gamma=0.9,
        gae_lambda=0.95,
    )
    np.testing.assert_allclose(terminated[:, 0], [1.0])
    np.testing.assert_allclose(truncated[:, 0], [5.5])


def test_gae_lambda_zero_is_td_error():
    d = random_rollout(7)
    out = gae_fn(
        rewards=d["rewards"],
        values=d["values"],
        next_values=d["next_values"],
        terminated=d["terminated"],
        truncated=d["truncated"],
        gamma=0.9,
        gae_lambda=0.0,
    )
    expected = td_fn(
        rewards=d["rewards"],
        values=d["values"],
        next_values=d["next_values"],
        terminated=d["terminated"],
        gamma=0.9,
    )
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("seed", [8, 9])
def test_gae_lambda_one_is_return_minus_value(seed):
    d = random_rollout(seed)
    out = gae_fn(
        rewards=d["rewards"],
        values=d["values"],
        next_values=d["next_values"],
        terminated=d["terminated"],
        truncated=d["truncated"],
        gamma=0.9,
        gae_lambda=1.0,
    )
    returns = returns_fn(
        rewards=d["rewards"],
        terminated=d["terminated"],
        truncated=d["truncated"],
        next_values=d["next_values"],
        gamma=0.9,
    )
    np.testing.assert_allclose(out, returns - d["values"], rtol=1e-5, atol=1e-5)


def test_gae_matches_loop():
    d = random_rollout(10)
    args = (d["rewards"], d["values"], d["next_values"], d["terminated"], d["truncated"])
    names = ("rewards", "values", "next_values", "terminated", "truncated")
    out = gae_fn(**keywords(d, *names), gamma=0.99, gae_lambda=0.95)
    np.testing.assert_allclose(out, reference_gae(*args, 0.99, 0.95), rtol=1e-5, atol=1e-5)


def test_ends_within():
    term = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]], bool)
    trunc = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0]], bool)
    out = np.asarray(ends_fn(terminated=term, truncated=trunc))
    assert out.dtype == bool
    np.testing.assert_array_equal(out[:, 0], [True, True, False, False])
    np.testing.assert_array_equal(out[:, 1], [True, True, True, True])
    np.testing.assert_array_equal(out[:, 2], [False, False, False, False])


def test_gae_over_an_agents_axis_is_each_agents_own_gae():
    """Multi-agent rollouts put agents after the environments ([T, N, A]) and share the
    episode flags ([T, N], broadcast): GAE then equals each agent's single-agent GAE."""
    flags = random_rollout(11)
    agents = [random_rollout(20 + a) for a in range(3)]  # each agent's rewards and values
    names = ("rewards", "values", "next_values")
    stacked = {k: np.stack([d[k] for d in agents], axis=-1) for k in names}
    shared = {k: np.broadcast_to(flags[k][..., None], stacked["rewards"].shape)
              for k in ("terminated", "truncated")}  # fmt: skip
    out = np.asarray(gae_fn(**stacked, **shared, gamma=0.99, gae_lambda=0.95))
    assert out.shape == stacked["rewards"].shape
    for a, d in enumerate(agents):
        alone = gae_fn(**keywords(d, *names), terminated=flags["terminated"],
                       truncated=flags["truncated"], gamma=0.99, gae_lambda=0.95)  # fmt: skip
        np.testing.assert_allclose(out[..., a], alone, rtol=1e-6, atol=1e-6)
    assert not np.allclose(out[..., 0], out[..., 1])  # the agents' numbers differ
    # the team's flags [T, N] as they are, without broadcasting them first: the same
    team = gae_fn(**stacked, terminated=flags["terminated"], truncated=flags["truncated"],
                  gamma=0.99, gae_lambda=0.95)  # fmt: skip
    np.testing.assert_allclose(team, out, rtol=1e-6, atol=1e-6)
