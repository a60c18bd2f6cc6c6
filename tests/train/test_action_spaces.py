"""MultiDiscrete and MultiBinary actions (issue 28): every on-policy algorithm collects,
updates, saves, loads and acts with them on both doors; the environment gets its
actions in its own shape and range; an algorithm that needs a Box says so in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

import ascent
from ascent.envs import DialLock, Switches, env_action
from ascent.errors import EnvError
from ascent.nn import ActionSpec
from ascent.nn.heads import MultiCategoricalHead

SMALL = {"hidden": (8,), "n_envs": 2, "n_steps": 8}
ON_POLICY = {
    "ppo": {"minibatch_size": 16, "n_epochs": 1},
    "a2c": {},
    "trpo": {"critic_minibatch_size": 16},
    "reinforce": {},
    "actor-critic": {},
}


class Dials(gymnasium.Env):
    """A user's environment with a two-dimensional MultiDiscrete action (nvec [[2, 3],
    [4, 2]], start 1) and a MultiBinary (2, 2) one: each step checks what it is given."""

    observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)

    def __init__(self, binary: bool = False) -> None:
        self.binary = binary
        self.action_space = (
            spaces.MultiBinary((2, 2))
            if binary
            else spaces.MultiDiscrete(np.array([[2, 3], [4, 2]]), start=np.ones((2, 2), int))
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self.t = 0
        return np.ones(2, np.float32), {}

    def step(self, action: Any) -> tuple:
        assert self.action_space.contains(np.asarray(action, self.action_space.dtype)), action
        self.t += 1
        return np.ones(2, np.float32), float(np.asarray(action).sum()), False, self.t >= 4, {}


def test_the_environment_gets_actions_in_its_own_shape_and_range() -> None:
    multi = spaces.MultiDiscrete(np.array([[2, 3], [4, 2]]), start=np.array([[1, 1], [0, 5]]))
    flat = np.array([[1, 2, 3, 0]])  # Ascent's [N, K]
    np.testing.assert_array_equal(env_action(flat, multi), [[[2, 3], [3, 5]]])
    assert isinstance(env_action(flat, multi), np.ndarray)
    assert env_action(jnp.asarray(flat), multi).shape == (1, 2, 2)  # jit-safe on the JAX door
    bits = env_action(np.array([[1, 0, 0, 1]]), spaces.MultiBinary((2, 2)))
    assert bits.dtype == np.int8 and bits.tolist() == [[[1, 0], [0, 1]]]
    assert env_action(np.array([0, 2]), spaces.Discrete(3, start=-1)).tolist() == [-1, 1]
    spec = ActionSpec.of(multi)
    assert (spec.kind, spec.sizes, spec.stored_shape) == ("multi_discrete", (2, 3, 4, 2), (4,))


def test_a_multi_categorical_head_pads_each_component_with_minus_infinity() -> None:
    head = MultiCategoricalHead((2, 3))
    params = head.init(jax.random.PRNGKey(0), jnp.ones((1, 4)))
    dist = head.apply(params, jnp.ones((5, 4)))
    assert dist.logits.shape == (5, 2, 3) and bool(jnp.isneginf(dist.logits[:, 0, 2]).all())
    assert np.isfinite(np.asarray(dist.entropy())).all()
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.PRNGKey(1), 2000))
    assert int(samples[..., 0].max()) == 1 and int(samples[..., 1].max()) == 2


def _round_trip(algo: str, env: Any, tmp_path: Path, **overrides: Any) -> Any:
    agent = ascent.make(algo, env=env, seed=0, total_steps=32, **SMALL, **overrides)
    agent.learn(progress=False)
    path = agent.save(tmp_path / algo)
    loaded = ascent.load(path, env=env)
    for x, y in zip(jax.tree.leaves(agent.state.algo), jax.tree.leaves(loaded.state.algo),
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    loaded.learn(total_steps=48, progress=False)
    assert len(loaded.evaluate(episodes=2).returns) == 2
    agent.close()
    return loaded


@pytest.mark.parametrize("algo", list(ON_POLICY))
@pytest.mark.parametrize("binary", [False, True], ids=["multi_discrete", "multi_binary"])
def test_every_on_policy_algorithm_takes_them_on_the_gymnasium_door(
    algo: str, binary: bool, tmp_path: Path
) -> None:
    loaded = _round_trip(algo, lambda: Dials(binary), tmp_path, **ON_POLICY[algo])
    action, _ = loaded.act(np.ones(2, np.float32))
    assert np.shape(action) == (2, 2) and Dials(binary).action_space.contains(
        np.asarray(action, Dials(binary).action_space.dtype)
    )
    loaded.close()


@pytest.mark.parametrize(
    ("algo", "env"),
    [("ppo", DialLock()), ("trpo", DialLock()), ("a2c", Switches()), ("a3c", DialLock()),
     ("impala", Switches())],
)  # fmt: skip
def test_they_go_through_the_jax_door(algo: str, env: Any, tmp_path: Path) -> None:
    overrides = {**ON_POLICY.get(algo, {}), **({"workers": 1} if algo in ("a3c", "impala") else {})}
    loaded = _round_trip(algo, env, tmp_path, **overrides)
    obs, _ = env.reset(jax.random.PRNGKey(0))
    action, _ = loaded.act(jax.tree.map(np.asarray, obs))
    assert env.action_space.contains(np.asarray(action, env.action_space.dtype))
    loaded.close()


def test_an_algorithm_that_needs_a_box_says_so_in_one_line() -> None:
    with pytest.raises(EnvError, match="sac needs a Box action space") as caught:
        ascent.make("sac", env=DialLock())
    assert "\n" not in str(caught.value)
