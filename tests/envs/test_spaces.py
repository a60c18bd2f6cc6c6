from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

from ascent.envs.spaces import action_dim, check_space, env_action, is_discrete, obs_shape
from ascent.errors import EnvError


def test_check_space_accepts_supported_kinds() -> None:
    check_space(spaces.Discrete(3), who="ppo")
    check_space(spaces.Box(-1.0, 1.0, (2,)), who="ppo")


def test_check_space_rejects_with_one_line() -> None:
    with pytest.raises(EnvError) as info:
        check_space(spaces.MultiBinary(3), who="ppo")
    expected = "ppo cannot handle action space MultiBinary(3); supported: Discrete, Box"
    assert str(info.value) == expected
    with pytest.raises(EnvError, match="sac cannot handle action space Discrete"):
        check_space(spaces.Discrete(2), allowed=("Box",), who="sac")
    with pytest.raises(EnvError, match="observation space"):
        check_space(spaces.Text(4), who="ppo", role="observation")


def test_sizes() -> None:
    assert action_dim(spaces.Discrete(5)) == 5
    assert action_dim(spaces.Box(-1.0, 1.0, (2, 3))) == 6
    assert obs_shape(spaces.Box(-1.0, 1.0, (4,))) == (4,)
    assert obs_shape(spaces.Discrete(5)) == ()
    assert is_discrete(spaces.Discrete(2)) and not is_discrete(spaces.Box(0.0, 1.0, (1,)))
    with pytest.raises(EnvError):
        action_dim(spaces.MultiBinary(2))


def test_env_action_numpy_and_jax() -> None:
    box = spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 2.0], np.float32))
    raw = np.array([[-3.0, 1.0], [0.5, 5.0]], np.float32)
    clipped = env_action(raw, box)
    assert isinstance(clipped, np.ndarray)
    np.testing.assert_array_equal(clipped, [[-1.0, 1.0], [0.5, 2.0]])
    np.testing.assert_array_equal(raw, [[-3.0, 1.0], [0.5, 5.0]])  # the raw sample is kept
    np.testing.assert_array_equal(np.asarray(env_action(jnp.asarray(raw), box)), clipped)
    ints = np.array([0, 4, 1])
    assert env_action(ints, spaces.Discrete(2)) is ints
