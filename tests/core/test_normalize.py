from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ascent.core.normalize import RunningMeanStd, normalize, scale_rewards, update_running_stats


def test_running_stats_match_the_moments_of_everything_seen() -> None:
    data = jax.random.normal(jax.random.PRNGKey(0), (7, 5, 3)) * 3.0 + 2.0
    stats = RunningMeanStd.zeros((3,))
    for chunk in data:  # seven batches of 5
        stats = update_running_stats(stats, chunk)
    flat = np.asarray(data).reshape(-1, 3)
    np.testing.assert_allclose(stats.mean, flat.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.var, flat.var(0), rtol=1e-3)
    assert abs(float(stats.count) - 35.0) < 1e-3


def test_normalize_centres_scales_and_clips() -> None:
    stats = RunningMeanStd(jnp.array([1.0]), jnp.array([4.0]), jnp.float32(10))
    np.testing.assert_allclose(normalize(stats, jnp.array([[3.0], [1.0]]), eps=0.0), [[1.0], [0.0]])
    assert float(normalize(stats, jnp.array([1e6]), clip=5.0)[0]) == 5.0


def test_scale_rewards_uses_the_discounted_return_and_restarts_it_after_an_end() -> None:
    rewards = jnp.array([[1.0], [1.0], [1.0]])
    dones = jnp.array([[False], [True], [False]])
    discounted, stats, scaled = scale_rewards(
        jnp.zeros(1), RunningMeanStd.zeros(), rewards, dones, gamma=0.5
    )
    # R = 1, 1.5 (episode ends: restart), 1
    assert float(discounted[0]) == 1.0
    expected = RunningMeanStd.zeros()
    expected = update_running_stats(expected, jnp.array([1.0, 1.5, 1.0]))
    np.testing.assert_allclose(stats.var, expected.var, rtol=1e-6)
    np.testing.assert_allclose(scaled, rewards / np.sqrt(expected.var + 1e-8), rtol=1e-6)
