"""V-trace (`core.returns.vtrace`) against eq. 1 of Espeholt et al. (2018) written out
as its sum, step by step, with the episode boundaries of the two-flags rule."""

from __future__ import annotations

import numpy as np
import pytest

from ascent.core.returns import gae, vtrace


def direct(rewards, values, next_values, terminated, truncated, log_rhos, gamma, rho_bar, c_bar):
    """Eq. 1 as a sum over t = s .. the end of s's episode in the rollout (loops)."""
    T, N = rewards.shape
    ratio = np.exp(log_rhos)
    rho, c = np.minimum(rho_bar, ratio), np.minimum(c_bar, ratio)
    done = terminated | truncated
    delta = rho * (rewards + gamma * (1 - terminated) * next_values - values)
    vs = np.zeros((T, N))
    adv = np.zeros((T, N))
    for n in range(N):
        for s in range(T):
            total, weight = 0.0, 1.0  # weight = γ^{t−s} Π_{i=s}^{t−1} c_i
            for t in range(s, T):
                total += weight * delta[t, n]
                if done[t, n]:
                    break
                weight *= gamma * c[t, n]
            vs[s, n] = values[s, n] + total
    for n in range(N):
        for s in range(T):
            goes_on = s + 1 < T and not done[s, n]
            v_next = vs[s + 1, n] if goes_on else next_values[s, n]
            q = rewards[s, n] + gamma * (1 - terminated[s, n]) * v_next
            adv[s, n] = rho[s, n] * (q - values[s, n])
    return vs, adv


def episode_data(seed, T=12, N=3):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(T, N))
    terminated = rng.random((T, N)) < 0.15
    truncated = ~terminated & (rng.random((T, N)) < 0.1)
    # where an episode goes on, x'_t is x_{t+1}: next_values[t] = values[t + 1]
    next_values = rng.normal(size=(T, N))
    goes_on = ~(terminated | truncated)[:-1]
    next_values[:-1] = np.where(goes_on, values[1:], next_values[:-1])
    return dict(
        rewards=rng.normal(size=(T, N)),
        values=values,
        next_values=next_values,
        terminated=terminated,
        truncated=truncated,
        log_rhos=rng.normal(scale=0.7, size=(T, N)),
    )


@pytest.mark.parametrize("rho_bar, c_bar", [(1.0, 1.0), (2.0, 0.5), (100.0, 100.0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vtrace_is_eq_1(seed, rho_bar, c_bar):
    data = episode_data(seed)
    got = vtrace(**{k: np.float32(v) if v.dtype == float else v for k, v in data.items()},
                 gamma=0.9, rho_bar=rho_bar, c_bar=c_bar)  # fmt: skip
    vs, adv = direct(**data, gamma=0.9, rho_bar=rho_bar, c_bar=c_bar)
    np.testing.assert_allclose(np.asarray(got.vs), vs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(got.pg_advantages), adv, rtol=1e-5, atol=1e-5)


def test_on_policy_vtrace_is_gae_with_lambda_one():
    data = episode_data(5)
    data["log_rhos"] = np.zeros_like(data["rewards"])
    got = vtrace(**data, gamma=0.97)
    flags = {k: data[k] for k in ("rewards", "values", "next_values", "terminated", "truncated")}
    advantages = np.asarray(gae(**flags, gamma=0.97, gae_lambda=1.0))
    np.testing.assert_allclose(np.asarray(got.vs) - data["values"], advantages, atol=1e-5)


def test_vtrace_hand_computed():
    # one environment, three steps, no episode end; γ = 0.5, ρ̄ = c̄ = 1
    rewards = np.array([[1.0], [0.0], [2.0]])
    values = np.array([[0.0], [1.0], [0.0]])
    next_values = np.array([[1.0], [0.0], [4.0]])
    flags = np.zeros((3, 1), bool)
    log_rhos = np.log(np.array([[2.0], [0.5], [1.0]]))  # clipped to ρ = c = (1, 0.5, 1)
    got = vtrace(rewards=rewards, values=values, next_values=next_values, terminated=flags,
                 truncated=flags, log_rhos=log_rhos, gamma=0.5)  # fmt: skip
    # δ = (1 + 0.5 − 0, 0.5 (0 + 0 − 1), 2 + 2 − 0) = (1.5, −0.5, 4)
    # v_2 − V = 4; v_1 − V = −0.5 + 0.5·0.5·4 = 0.5; v_0 − V = 1.5 + 0.5·1·0.5 = 1.75
    np.testing.assert_allclose(np.asarray(got.vs)[:, 0], [1.75, 1.5, 4.0], atol=1e-6)
    # advantages: 1·(1 + 0.5·1.5 − 0), 0.5·(0 + 0.5·4 − 1), 1·(2 + 0.5·4 − 0)
    np.testing.assert_allclose(np.asarray(got.pg_advantages)[:, 0], [1.75, 0.5, 4.0], atol=1e-6)
