"""Off-policy maths: targets, Polyak averaging, exploration noise, the tanh-squashed
Gaussian's log-probability, SAC's temperature loss and NAF's quadratic advantage."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.core.distributions import DiagGaussian
from ascent.core.losses import temperature_loss
from ascent.core.naf import lower_triangular, n_triangular, quadratic_advantage
from ascent.core.noise import gaussian_noise, ou_noise, ou_reset
from ascent.core.squashed import SquashedGaussian, tanh_log_det_jacobian
from ascent.core.targets import polyak_update, td_target


def test_td_target_bootstraps_unless_terminated() -> None:
    rewards = jnp.array([1.0, 1.0, 1.0])
    terminated = jnp.array([False, True, False])
    next_values = jnp.array([10.0, 10.0, -4.0])
    # by hand with γ = 0.5: 1 + 5, 1 (terminated), 1 − 2
    np.testing.assert_allclose(
        td_target(rewards, terminated, next_values, gamma=0.5), [6.0, 1.0, -1.0]
    )


def test_polyak_update() -> None:
    target = {"w": jnp.array([0.0, 10.0]), "b": jnp.array(1.0)}
    online = {"w": jnp.array([1.0, 0.0]), "b": jnp.array(3.0)}
    mixed = polyak_update(target, online, tau=0.25)
    np.testing.assert_allclose(mixed["w"], [0.25, 7.5])
    np.testing.assert_allclose(mixed["b"], 1.5)
    copied = polyak_update(target, online, tau=1.0)
    np.testing.assert_allclose(copied["w"], online["w"])


def test_gaussian_noise_has_the_asked_std() -> None:
    noise = gaussian_noise(jax.random.PRNGKey(0), (20_000, 2), std=0.3)
    assert noise.shape == (20_000, 2)
    assert float(noise.std()) == pytest.approx(0.3, rel=0.03)
    assert abs(float(noise.mean())) < 0.01


def test_ou_noise_is_correlated_and_mean_reverting() -> None:
    """One step by hand, then the stationary law: Var = σ²dt / (1 − (1 − θdt)²) and
    lag-one correlation 1 − θdt, far from the independence of Gaussian noise."""
    key = jax.random.PRNGKey(0)
    state = jnp.array([[1.0]])
    new, noise = ou_noise(state, key, std=0.2, theta=0.15, dt=0.01)
    eps = jax.random.normal(key, (1, 1))
    expected = 1.0 + 0.15 * (0.0 - 1.0) * 0.01 + 0.2 * math.sqrt(0.01) * eps
    np.testing.assert_allclose(new, expected, rtol=1e-6)
    np.testing.assert_array_equal(new, noise)

    theta, dt, std = 0.5, 0.1, 0.3

    def step(x: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
        x, n = ou_noise(x, k, std=std, theta=theta, dt=dt)
        return x, n

    _, path = jax.lax.scan(step, jnp.zeros((256,)), jax.random.split(key, 400))
    path = np.asarray(path[100:])  # past the transient
    var = std**2 * dt / (1 - (1 - theta * dt) ** 2)
    assert path.var() == pytest.approx(var, rel=0.1)
    lag1 = np.mean(path[1:] * path[:-1]) / path.var()
    assert lag1 == pytest.approx(1 - theta * dt, abs=0.02)


def test_ou_reset_zeroes_the_rows_that_ended() -> None:
    state = jnp.ones((3, 2))
    out = ou_reset(state, jnp.array([False, True, False]))
    np.testing.assert_array_equal(out, [[1, 1], [0, 0], [1, 1]])


# --- the squashed Gaussian -------------------------------------------------------


def test_tanh_log_det_jacobian_matches_the_jacobian() -> None:
    """Σ log(1 − tanh²u) against log|det| of the Jacobian of tanh, computed numerically."""
    u = jnp.array([-2.5, -1.3, 0.0, 0.4, 3.0])
    jacobian = jax.jacfwd(jnp.tanh)(u)  # diagonal 5 × 5
    _, logdet = jnp.linalg.slogdet(jacobian)
    assert float(tanh_log_det_jacobian(u)) == pytest.approx(float(logdet), rel=1e-4)
    # exact where 1 − tanh²(u) rounds to 0 in float32: log sech²(u) in float64
    for big in (8.0, -40.0):
        exact = 2 * math.log(2 / (math.exp(big) + math.exp(-big)))
        value = float(tanh_log_det_jacobian(jnp.array([big])))
        assert value == pytest.approx(exact, rel=1e-5)


def test_squashed_log_prob_is_a_change_of_variables() -> None:
    """log π(a) = log N(u) − log|det ∂a/∂u| with a = tanh(u) (Jacobian by autodiff), and in
    1-D the density of a integrates to 1 over (−1, 1)."""
    dist = SquashedGaussian(jnp.array([0.3, -1.0]), jnp.array([-0.2, 0.5]))
    actions, log_probs = dist.sample_and_log_prob(jax.random.PRNGKey(3))
    u = jnp.arctanh(actions)
    _, logdet = jnp.linalg.slogdet(jax.jacfwd(jnp.tanh)(u))
    expected = DiagGaussian(dist.mean, dist.log_std).log_prob(u) - logdet
    assert float(log_probs) == pytest.approx(float(expected), abs=1e-4)

    one = SquashedGaussian(jnp.array([0.7]), jnp.array([0.3]))
    a = np.linspace(-1 + 1e-6, 1 - 1e-6, 400_001)
    density = np.exp(np.asarray(one.log_prob_pre_squash(jnp.arctanh(jnp.asarray(a))[:, None])))
    assert np.trapezoid(density, a) == pytest.approx(1.0, abs=2e-3)


def test_squashed_samples_are_inside_the_unit_box() -> None:
    dist = SquashedGaussian(jnp.full((1000, 3), 4.0), jnp.full((1000, 3), 1.5))
    actions, log_probs = dist.sample_and_log_prob(jax.random.PRNGKey(0))
    assert (jnp.abs(actions) <= 1).all() and jnp.isfinite(log_probs).all()
    np.testing.assert_allclose(dist.mode(), jnp.tanh(4.0))


# --- SAC's temperature ------------------------------------------------------------


@pytest.mark.parametrize(("entropy", "rises"), [(-3.0, True), (1.0, False)])
def test_temperature_rises_below_the_target_entropy(entropy: float, rises: bool) -> None:
    """Target −1: with entropy −3 (log π = 3) α must rise; with entropy 1 it must fall."""
    log_probs = jnp.full((8,), -entropy)
    grad = jax.grad(lambda la: temperature_loss(la, log_probs, target_entropy=-1.0)[0])(0.0)
    assert (float(grad) < 0) == rises  # descent moves log α against the gradient
    _, stats = temperature_loss(0.0, log_probs, target_entropy=-1.0)
    assert float(stats["entropy"]) == pytest.approx(entropy)


# --- NAF ----------------------------------------------------------------------------


def test_lower_triangular_has_a_positive_diagonal() -> None:
    entries = jnp.arange(6.0) - 3.0
    L = lower_triangular(entries, 3)
    expected = np.array(
        [[math.exp(-3.0), 0, 0], [-2.0, math.exp(-1.0), 0], [0.0, 1.0, math.exp(2.0)]]
    )
    np.testing.assert_allclose(L, expected, rtol=1e-6)
    assert n_triangular(3) == 6


def test_naf_advantage_is_nonpositive_with_its_maximum_at_mu() -> None:
    k_mu, k_l, k_a = jax.random.split(jax.random.PRNGKey(0), 3)
    dim, batch = 3, 64
    mu = jax.random.uniform(k_mu, (batch, dim), minval=-1, maxval=1)
    L = lower_triangular(jax.random.normal(k_l, (batch, n_triangular(dim))), dim)
    actions = jax.random.uniform(k_a, (batch, dim), minval=-1, maxval=1)
    advantage = quadratic_advantage(actions, mu, L)
    assert (advantage < 0).all()
    np.testing.assert_allclose(quadratic_advantage(mu, mu, L), 0.0)
    # the same as −½ (a − μ)ᵀ P (a − μ) written out with P = LLᵀ
    delta = actions - mu
    P = L @ jnp.swapaxes(L, -1, -2)
    explicit = -0.5 * jnp.einsum("bi,bij,bj->b", delta, P, delta)
    np.testing.assert_allclose(advantage, explicit, rtol=1e-4, atol=1e-6)
    # and μ is the argmax: the gradient in a vanishes there
    grad = jax.grad(lambda a: quadratic_advantage(a, mu[0], L[0]))(mu[0])
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)
