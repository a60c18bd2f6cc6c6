from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from ascent.envs.host import HostVecEnv
from ascent.errors import EnvError

THETA_LIMIT = 12 * 2 * np.pi / 360  # CartPole-v1 terminates beyond this pole angle
X_LIMIT = 2.4


def _is_reset_state(row: np.ndarray) -> bool:
    return bool(np.all(np.abs(row) <= 0.05))  # CartPole resets uniformly in [-0.05, 0.05]


def test_shapes_and_dtypes() -> None:
    with HostVecEnv("CartPole-v1", n_envs=3, seed=0) as env:
        assert env.n_envs == 3 and env.env_id == "CartPole-v1" and env.max_episode_steps == 500
        assert env.observation_space.shape == (4,) and env.action_space.n == 2
        obs = env.reset()
        assert obs.shape == (3, 4) and obs.dtype == np.float32
        obs, reward, terminated, truncated, next_obs = env.step(np.array([0, 1, 0]))
        assert obs.shape == next_obs.shape == (3, 4)
        assert obs.dtype == next_obs.dtype == np.float32
        assert reward.shape == (3,) and reward.dtype == np.float32
        assert terminated.dtype == truncated.dtype == np.bool_ and terminated.shape == (3,)
        np.testing.assert_array_equal(next_obs, obs)


def test_seeding() -> None:
    with HostVecEnv("CartPole-v1", 2, seed=7) as a, HostVecEnv("CartPole-v1", 2, seed=0) as b:
        first = a.reset()
        np.testing.assert_array_equal(first, b.reset(seed=7))
        assert not np.array_equal(first[0], first[1])  # env i gets seed + i
        np.testing.assert_array_equal(a.reset(seed=7), first)


def test_termination_gives_true_final_obs_and_a_fresh_episode() -> None:
    with HostVecEnv("CartPole-v1", n_envs=4, seed=1) as env:
        env.reset()
        right = np.ones(4, np.int64)  # pushing one way topples the pole within ~10 steps
        for _ in range(50):
            obs, reward, terminated, truncated, next_obs = env.step(right)
            if terminated.any():
                break
        assert terminated.any() and not truncated.any()
        for i in range(4):
            if terminated[i]:
                final = next_obs[i]
                assert abs(final[2]) > THETA_LIMIT or abs(final[0]) > X_LIMIT
                assert not np.array_equal(final, obs[i])
                assert _is_reset_state(obs[i])
            else:
                np.testing.assert_array_equal(next_obs[i], obs[i])
        np.testing.assert_array_equal(reward, 1.0)


def test_truncation_gives_true_final_obs() -> None:
    seed, actions = 3, [0, 1, 0, 1, 0]
    with HostVecEnv("CartPole-v1", n_envs=2, seed=seed, max_episode_steps=5) as env:
        assert env.max_episode_steps == 5
        env.reset()
        for t, a in enumerate(actions):
            obs, _, terminated, truncated, next_obs = env.step(np.full(2, a))
            assert truncated.tolist() == [t == 4] * 2
            assert not terminated.any()
    # The same episodes replayed one env at a time, without autoreset.
    for i in range(2):
        single = gymnasium.make("CartPole-v1")
        single.reset(seed=seed + i)
        for a in actions:
            final = single.step(a)[0]
        np.testing.assert_allclose(next_obs[i], final)
        assert _is_reset_state(obs[i]) and not np.array_equal(obs[i], next_obs[i])


def test_box_actions() -> None:
    with HostVecEnv("Pendulum-v1", n_envs=2, seed=0) as env:
        assert env.observation_space.dtype == np.float32 and env.action_space.shape == (1,)
        env.reset()
        obs, reward, *_ = env.step(np.array([[0.5], [-1.5]], np.float64))
        assert obs.shape == (2, 3) and reward.dtype == np.float32


def test_bad_n_envs() -> None:
    with pytest.raises(EnvError, match="n_envs"):
        HostVecEnv("CartPole-v1", n_envs=0)


def test_missing_optional_dependency_names_the_extra() -> None:
    try:
        import Box2D  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("Box2D is installed")
    with pytest.raises(EnvError, match=r"gymnasium\[box2d\]") as info:
        HostVecEnv("LunarLander-v3")
    assert "\n" not in str(info.value)


def test_same_episodes_as_gymnasiums_sync_vector_env() -> None:
    """HostVecEnv steps its environments itself; Gymnasium's SyncVectorEnv with same-step
    autoreset, seeded alike, gives the same observations, rewards and endings."""
    n, seed = 3, 11
    reference = gymnasium.make_vec(
        "CartPole-v1",
        num_envs=n,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP},
        max_episode_steps=40,
    )
    actions = np.random.default_rng(0).integers(0, 2, size=(200, n))
    with HostVecEnv("CartPole-v1", n, seed=seed, max_episode_steps=40) as env:
        np.testing.assert_array_equal(env.reset(), reference.reset(seed=seed)[0])
        ended = 0
        for a in actions:
            obs, reward, terminated, truncated, next_obs = env.step(a)
            r_obs, r_reward, r_term, r_trunc, info = reference.step(a)
            np.testing.assert_array_equal(obs, r_obs)
            np.testing.assert_array_equal(reward, r_reward)
            np.testing.assert_array_equal(terminated, r_term)
            np.testing.assert_array_equal(truncated, r_trunc)
            for i in np.flatnonzero(terminated | truncated):
                np.testing.assert_array_equal(next_obs[i], info["final_obs"][i])
                ended += 1
        assert ended > 10 and reward.dtype == np.float32
    reference.close()
