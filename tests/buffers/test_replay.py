"""The replay ring buffer: wrap-around, uniform sampling from the filled part, and the
same results eagerly, under jit and under vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.buffers import Transitions, flatten_steps, replay_add, replay_init, replay_sample


def batch(start: int, n: int) -> Transitions:
    """n transitions numbered start, start + 1, ... in every field."""
    ids = jnp.arange(start, start + n, dtype=jnp.float32)
    return Transitions(
        obs=jnp.stack([ids, -ids], axis=-1),
        actions=ids[:, None],
        rewards=ids,
        next_obs=jnp.stack([ids + 0.5, -ids], axis=-1),
        terminated=ids % 3 == 0,
        truncated=ids % 3 == 1,
    )


def test_add_wraps_around_and_overwrites_the_oldest() -> None:
    buffer = replay_init(5, (2,), (1,))
    assert buffer.capacity == 5 and int(buffer.size) == 0
    buffer = replay_add(buffer, batch(0, 3))
    assert (int(buffer.position), int(buffer.size)) == (3, 3)
    np.testing.assert_array_equal(buffer.data.rewards, [0, 1, 2, 0, 0])
    buffer = replay_add(buffer, batch(3, 4))  # slots 3, 4, then 0, 1
    assert (int(buffer.position), int(buffer.size)) == (2, 5)
    np.testing.assert_array_equal(buffer.data.rewards, [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buffer.data.obs[:, 1], [-5, -6, -2, -3, -4])
    np.testing.assert_array_equal(buffer.data.next_obs[:, 0], [5.5, 6.5, 2.5, 3.5, 4.5])
    np.testing.assert_array_equal(buffer.data.terminated, [False, True, False, True, False])
    np.testing.assert_array_equal(buffer.data.truncated, [False, False, False, False, True])
    with pytest.raises(ValueError, match="cannot add 6"):
        replay_add(buffer, batch(0, 6))


def test_sample_is_uniform_over_the_filled_part_only() -> None:
    buffer = replay_add(replay_init(100, (2,), (1,)), batch(10, 4))  # 4 of 100 slots filled
    sample = replay_sample(buffer, jax.random.PRNGKey(0), 4000)
    ids = np.asarray(sample.rewards)
    assert set(ids.tolist()) == {10, 11, 12, 13}  # never an empty slot
    counts = np.bincount(ids.astype(int) - 10)
    assert counts.min() > 900 and counts.max() < 1100  # about 1000 each
    # every field of a sampled transition comes from the same slot
    np.testing.assert_array_equal(sample.obs[:, 0], ids)
    np.testing.assert_array_equal(sample.actions[:, 0], ids)
    np.testing.assert_array_equal(sample.next_obs[:, 0], ids + 0.5)
    np.testing.assert_array_equal(sample.terminated, ids % 3 == 0)
    # the explicit key decides the draw
    again = replay_sample(buffer, jax.random.PRNGKey(0), 4000)
    np.testing.assert_array_equal(again.rewards, sample.rewards)
    other = replay_sample(buffer, jax.random.PRNGKey(1), 4000)
    assert not np.array_equal(other.rewards, sample.rewards)


def test_jit_and_vmap_give_the_eager_results() -> None:
    def fill(start: jax.Array) -> tuple[jax.Array, jax.Array]:
        buffer = replay_init(6, (2,), (1,))
        ids = jnp.arange(4, dtype=jnp.float32) + start
        steps = Transitions(
            jnp.stack([ids, ids], -1), ids[:, None], ids, jnp.stack([ids, ids], -1),
            ids > 100, ids < 0,
        )  # fmt: skip
        buffer = replay_add(replay_add(buffer, steps), steps)
        return buffer.data.rewards, replay_sample(buffer, jax.random.PRNGKey(2), 5).rewards

    eager = fill(jnp.float32(0))
    jitted = jax.jit(fill)(jnp.float32(0))
    np.testing.assert_array_equal(eager[0], jitted[0])
    np.testing.assert_array_equal(eager[1], jitted[1])
    np.testing.assert_array_equal(eager[0], [2, 3, 2, 3, 0, 1])
    stacked = jax.vmap(fill)(jnp.array([0.0, 10.0]))
    np.testing.assert_array_equal(stacked[0][1], eager[0] + 10)


def test_flatten_steps_is_time_major() -> None:
    steps = jax.tree.map(lambda x: x.reshape(2, 3, *x.shape[1:]), batch(0, 6))  # [T=2, N=3]
    flat = flatten_steps(steps)
    np.testing.assert_array_equal(flat.rewards, np.arange(6))
    assert flat.obs.shape == (6, 2) and flat.actions.shape == (6, 1)


def test_a_buffer_too_large_for_memory_is_refused_before_allocating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 30, item 3: obs (4,) float32 twice, action (1,) float32, reward float32 and
    two flags are 16 + 16 + 4 + 4 + 1 + 1 = 42 bytes a transition."""
    from ascent.buffers import replay
    from ascent.errors import ConfigError

    example = replay_init(1, (4,), (1,)).data
    assert replay.replay_nbytes(10**8, jax.tree.map(lambda x: x[0], example)) == 42 * 10**8
    monkeypatch.setattr(replay, "_available_memory", lambda: (10**9, "memory"))
    made = []
    monkeypatch.setattr(replay.jnp, "zeros", lambda *a, **k: made.append(a))
    with pytest.raises(ConfigError) as info:
        replay_init(10**8, (4,), (1,))
    assert str(info.value) == (
        "buffer_size=100000000: the replay buffer would take 4.2 GB (42 bytes a transition), "
        "more than the 1 GB of memory available; lower buffer_size (at most 23809523 fit)"
    )
    assert not made  # nothing allocated
    monkeypatch.setattr(replay, "_available_memory", lambda: (10**15, "memory"))
    with pytest.raises(ConfigError, match="buffer_size must be at most 2147483647"):
        replay_init(2**31, (1,), ())


def test_on_a_device_that_reports_its_memory_the_buffer_is_checked_against_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A GPU's pool (bytes_limit less bytes_in_use), not the host's memory."""
    from ascent.buffers import replay
    from ascent.errors import ConfigError

    class Device:
        platform = "gpu"

        def memory_stats(self) -> dict[str, int]:
            return {"bytes_limit": 10**9, "bytes_in_use": 10**8}

    monkeypatch.setattr(replay.jax, "devices", lambda: [Device()])
    example = jax.tree.map(lambda x: x[0], replay_init(1, (4,), (1,)).data)
    replay.check_fits(21_000_000, example)  # 0.88 GB
    with pytest.raises(ConfigError, match="0.9 GB of gpu memory available"):
        replay.check_fits(22_000_000, example)  # 0.92 GB
