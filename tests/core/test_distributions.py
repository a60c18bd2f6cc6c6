"""Distributions: hand-computed log-probs, entropies and KLs, Monte-Carlo and numerical
checks, stability at extreme logits, and use as pytrees under jit and vmap."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.core.distributions import Categorical, DiagGaussian, gumbel_softmax

LOG_2PI = math.log(2 * math.pi)


def test_categorical_log_prob_hand_computed():
    probs = np.array([0.2, 0.3, 0.5])
    dist = Categorical(jnp.log(jnp.asarray(probs)) + 7.0)  # softmax ignores the shift
    np.testing.assert_allclose(dist.log_prob(jnp.array([0, 1, 2])), np.log(probs), rtol=1e-6)
    np.testing.assert_allclose(jnp.exp(dist.log_probs()), probs, rtol=1e-6)


def test_categorical_entropy():
    assert float(Categorical(jnp.zeros(5)).entropy()) == pytest.approx(math.log(5))
    two = Categorical(jnp.log(jnp.array([0.25, 0.75])))
    expected = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert float(two.entropy()) == pytest.approx(expected, rel=1e-6)
    assert float(Categorical(jnp.array([50.0, 0.0])).entropy()) == pytest.approx(0.0, abs=1e-6)


def test_categorical_kl():
    p = Categorical(jnp.log(jnp.array([0.5, 0.5])))
    q = Categorical(jnp.log(jnp.array([0.25, 0.75])))
    assert float(p.kl(q)) == pytest.approx(0.5 * math.log(4 / 3), rel=1e-5)
    logits = jax.random.normal(jax.random.key(0), (4, 6))
    np.testing.assert_allclose(Categorical(logits).kl(Categorical(logits)), 0.0, atol=1e-6)
    other = Categorical(jax.random.normal(jax.random.key(1), (4, 6)))
    assert np.all(np.asarray(Categorical(logits).kl(other)) > 0)


def test_categorical_mode_and_sample():
    dist = Categorical(jnp.log(jnp.array([[0.1, 0.6, 0.3], [0.7, 0.2, 0.1]])))
    mode = dist.mode()
    assert mode.dtype == jnp.int32
    np.testing.assert_array_equal(mode, [1, 0])
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.key(0), 20_000))
    assert samples.dtype == jnp.int32 and samples.shape == (20_000, 2)
    freq = np.stack([np.bincount(np.asarray(samples[:, i]), minlength=3) for i in range(2)])
    np.testing.assert_allclose(freq / 20_000, [[0.1, 0.6, 0.3], [0.7, 0.2, 0.1]], atol=0.015)


def test_categorical_stable_at_extreme_logits():
    dist = Categorical(jnp.array([1000.0, 0.0]))
    assert float(dist.log_prob(1)) == pytest.approx(-1000.0)
    assert float(dist.log_prob(0)) == 0.0


def test_categorical_masked_actions():
    masked = Categorical(jnp.array([0.0, 0.0, -jnp.inf]))
    assert float(masked.entropy()) == pytest.approx(math.log(2))
    assert float(masked.kl(masked)) == 0.0
    assert float(masked.kl(Categorical(jnp.zeros(3)))) == pytest.approx(math.log(3 / 2))
    for fn in (lambda lg: Categorical(lg).entropy(), lambda lg: Categorical(lg).kl(masked)):
        grad = jax.grad(fn)(jnp.array([0.3, 0.0, -jnp.inf]))
        assert np.all(np.isfinite(grad))


def test_gaussian_log_prob_and_entropy_hand_computed():
    dist = DiagGaussian(jnp.array([0.0, 1.0]), jnp.array([0.0, math.log(2.0)]))
    # dim 0: −½·1² − 0 − ½log2π; dim 1: −½·0² − log 2 − ½log2π.
    expected = -0.5 - math.log(2.0) - LOG_2PI
    assert float(dist.log_prob(jnp.array([1.0, 1.0]))) == pytest.approx(expected, rel=1e-6)
    assert float(dist.entropy()) == pytest.approx(1.0 + LOG_2PI + math.log(2.0), rel=1e-6)
    np.testing.assert_array_equal(dist.mode(), [0.0, 1.0])


def test_gaussian_kl_hand_computed():
    p = DiagGaussian(jnp.array([0.0]), jnp.array([0.0]))
    q = DiagGaussian(jnp.array([1.0]), jnp.array([math.log(2.0)]))
    # log(2/1) + (1 + 1²)/(2·4) − ½.
    assert float(p.kl(q)) == pytest.approx(math.log(2.0) + 0.25 - 0.5, rel=1e-6)
    assert float(p.kl(p)) == 0.0


def test_gaussian_log_std_broadcasts():
    mean = jnp.zeros((5, 3))
    dist = DiagGaussian(mean, jnp.array([0.0, 0.5, -0.5]))  # state-independent log_std
    assert dist.log_prob(mean).shape == (5,)
    assert dist.entropy().shape == (5,)
    assert dist.kl(dist).shape == (5,)
    assert dist.sample(jax.random.key(0)).shape == (5, 3)


def test_gaussian_density_integrates_to_one():
    dist = DiagGaussian(jnp.array([[0.3]]), jnp.array([[math.log(0.7)]]))
    grid = jnp.linspace(-8.0, 8.0, 4001)[:, None]
    density = np.asarray(jnp.exp(dist.log_prob(grid)))
    assert np.trapezoid(density, np.asarray(grid[:, 0])) == pytest.approx(1.0, abs=1e-4)


def test_gaussian_monte_carlo():
    p = DiagGaussian(jnp.array([0.5, -1.0]), jnp.array([0.2, -0.3]))
    q = DiagGaussian(jnp.array([0.0, 0.0]), jnp.array([0.0, 0.1]))
    x = jax.vmap(p.sample)(jax.random.split(jax.random.key(2), 100_000))  # [S, 2]
    np.testing.assert_allclose(x.mean(0), p.mean, atol=0.02)
    np.testing.assert_allclose(x.std(0), np.exp(p.log_std), rtol=0.02)
    logp, logq = p.log_prob(x), q.log_prob(x)
    assert float(-logp.mean()) == pytest.approx(float(p.entropy()), abs=0.02)
    assert float((logp - logq).mean()) == pytest.approx(float(p.kl(q)), abs=0.02)


def test_gaussian_sample_is_reparameterised():
    key = jax.random.key(3)

    def first(mean):
        return DiagGaussian(mean, jnp.zeros(2)).sample(key).sum()

    np.testing.assert_allclose(jax.grad(first)(jnp.zeros(2)), [1.0, 1.0])


def test_distributions_are_pytrees():
    cat = Categorical(jnp.zeros((3, 4)))
    gauss = DiagGaussian(jnp.zeros((3, 2)), jnp.zeros(2))
    assert len(jax.tree.leaves(cat)) == 1 and len(jax.tree.leaves(gauss)) == 2
    entropy = jax.jit(lambda d: d.entropy())
    np.testing.assert_allclose(entropy(cat), np.full(3, math.log(4)), rtol=1e-6)
    per_row = jax.vmap(lambda d: d.entropy(), in_axes=(DiagGaussian(0, None),))(gauss)
    np.testing.assert_allclose(per_row, np.full(3, 1.0 + LOG_2PI), rtol=1e-6)


def test_gumbel_softmax_samples_the_categorical_and_passes_the_relaxed_gradient():
    """Hard samples are one-hot, distributed as softmax(logits) (never a −inf action);
    their gradient is the relaxed sample's (straight-through)."""
    logits = jnp.array([1.0, 0.0, -1.0, -jnp.inf])
    keys = jax.random.split(jax.random.PRNGKey(0), 20_000)
    samples = jax.vmap(lambda k: gumbel_softmax(k, logits))(keys)
    assert set(np.unique(np.asarray(samples))) == {0.0, 1.0}
    np.testing.assert_array_equal(samples.sum(-1), 1.0)
    probs = np.asarray(jax.nn.softmax(logits))
    np.testing.assert_allclose(samples.mean(0), probs, atol=0.012)  # standard errors ≤ 0.0036
    assert float(samples[:, 3].max()) == 0.0

    key = jax.random.PRNGKey(3)
    weights = jnp.array([0.3, -1.0, 2.0, 0.5])
    finite = logits[:3]

    def through(hard: bool) -> jax.Array:
        fn = lambda z: gumbel_softmax(key, z, temperature=0.5, hard=hard) @ weights[:3]  # noqa: E731
        return jax.grad(fn)(finite)

    np.testing.assert_allclose(through(True), through(False), rtol=1e-6)
    assert float(jnp.abs(through(True)).max()) > 1e-3  # a gradient flows at all
    soft = gumbel_softmax(key, finite, temperature=0.5, hard=False)
    hard = gumbel_softmax(key, finite, temperature=0.5)
    assert int(jnp.argmax(hard)) == int(jnp.argmax(soft)) and float(hard.max()) == 1.0


def _padded(logits_by_component: list[list[float]]) -> jnp.ndarray:
    """[K, N] logits, each component's followed by −inf up to the widest."""
    width = max(len(c) for c in logits_by_component)
    return jnp.array([c + [-jnp.inf] * (width - len(c)) for c in logits_by_component])


def test_multi_categorical_is_the_product_of_its_components_by_brute_force() -> None:
    """nvec (2, 3): every joint action's log-probability, the entropy and the KL equal
    those of the joint distribution of 6 actions, built by hand from the components'
    softmaxes; samples follow it, and the padded third value of component 0 never
    comes."""
    from itertools import product

    from ascent.core.distributions import MultiCategorical

    p_parts, q_parts = [[0.3, -1.2], [1.0, 0.0, -0.5]], [[-0.4, 0.2], [0.1, 0.7, 0.3]]
    p, q = MultiCategorical(_padded(p_parts)), MultiCategorical(_padded(q_parts))

    def joint_of(parts: list[list[float]]) -> dict[tuple[int, int], float]:
        pa, pb = (np.exp(x) / np.exp(x).sum() for x in map(np.asarray, parts))
        return {(a, b): pa[a] * pb[b] for a, b in product(range(2), range(3))}

    joint, joint_q = joint_of(p_parts), joint_of(q_parts)
    assert abs(sum(joint.values()) - 1) < 1e-12
    for action, prob in joint.items():
        np.testing.assert_allclose(p.log_prob(jnp.array(action)), np.log(prob), rtol=1e-5)
    entropy = -sum(v * np.log(v) for v in joint.values())
    np.testing.assert_allclose(p.entropy(), entropy, rtol=1e-5)
    kl = sum(v * (np.log(v) - np.log(joint_q[k])) for k, v in joint.items())
    np.testing.assert_allclose(p.kl(q), kl, rtol=1e-5)
    assert tuple(np.asarray(p.mode())) == max(joint, key=joint.get)
    draws = np.asarray(jax.vmap(p.sample)(jax.random.split(jax.random.PRNGKey(0), 100_000)))
    assert draws.shape == (100_000, 2) and draws[:, 0].max() == 1  # the padding never comes
    for action, prob in joint.items():
        seen = np.mean((draws[:, 0] == action[0]) & (draws[:, 1] == action[1]))
        assert abs(seen - prob) < 4 * np.sqrt(prob * (1 - prob) / 100_000), (action, seen, prob)


def test_bernoulli_bits_are_the_product_of_their_bits_by_brute_force() -> None:
    from itertools import product

    from ascent.core.distributions import Bernoulli

    logits, other = jnp.array([0.5, -1.0, 2.0]), jnp.array([-0.3, 0.4, 1.0])
    p, q = Bernoulli(logits), Bernoulli(other)
    on, on_q = 1 / (1 + np.exp(-np.asarray(logits))), 1 / (1 + np.exp(-np.asarray(other)))
    joint = {bits: np.prod([on[i] if b else 1 - on[i] for i, b in enumerate(bits)])
             for bits in product((0, 1), repeat=3)}  # fmt: skip
    joint_q = {bits: np.prod([on_q[i] if b else 1 - on_q[i] for i, b in enumerate(bits)])
               for bits in product((0, 1), repeat=3)}  # fmt: skip
    for bits, prob in joint.items():
        np.testing.assert_allclose(p.log_prob(jnp.array(bits)), np.log(prob), rtol=1e-5)
    np.testing.assert_allclose(p.entropy(), -sum(v * np.log(v) for v in joint.values()), rtol=1e-5)
    kl = sum(v * (np.log(v) - np.log(joint_q[k])) for k, v in joint.items())
    np.testing.assert_allclose(p.kl(q), kl, rtol=1e-5)
    assert tuple(np.asarray(p.mode())) == (1, 0, 1)
    draws = np.asarray(jax.vmap(p.sample)(jax.random.split(jax.random.PRNGKey(1), 100_000)))
    np.testing.assert_allclose(draws.mean(0), on, atol=4 * 0.5 / np.sqrt(100_000))
