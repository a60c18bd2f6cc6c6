"""Action masks for single agents (issue 28): a masked action is never sampled and has
probability exactly 0; PPO's ratio moves only through the allowed actions; masks come
from an observation's `action_mask` key (both doors), from `info` or from a function
(Gymnasium door), and a run remembers where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

import ascent
from ascent.core.distributions import Categorical, MultiCategorical
from ascent.core.losses import clipped_surrogate_loss
from ascent.errors import ConfigError, EnvError
from ascent.nn import ActionSpec, masked
from ascent.train.loop import split_iteration_key

PPO = {"hidden": (8,), "n_envs": 4, "n_steps": 8, "minibatch_size": 16, "n_epochs": 1}
N = 5  # actions


def test_a_masked_action_is_never_sampled_and_has_probability_zero() -> None:
    logits = jnp.array([[2.0, 0.5, -1.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    mask = jnp.array([[1, 0, 1, 0, 1], [0, 0, 0, 0, 0]], bool)  # the second allows none
    dist = masked(Categorical(logits), mask, ActionSpec.discrete(N))
    draws = np.asarray(jax.vmap(dist.sample)(jax.random.split(jax.random.PRNGKey(0), 100_000)))
    assert set(np.unique(draws[:, 0])) == {0, 2, 4}  # 10^5 draws, none forbidden
    probs = np.exp(np.asarray(dist.log_probs()))
    assert (probs[0, [1, 3]] == 0.0).all() and abs(probs[0].sum() - 1) < 1e-6
    allowed = np.exp(np.asarray(logits[0, [0, 2, 4]]))
    np.testing.assert_allclose(probs[0, [0, 2, 4]], allowed / allowed.sum(), rtol=1e-6)
    entropy = -(allowed / allowed.sum() * np.log(allowed / allowed.sum())).sum()
    np.testing.assert_allclose(dist.entropy()[0], entropy, rtol=1e-6)
    np.testing.assert_allclose(probs[1], 1 / N, rtol=1e-6)  # no legal move: any, uniformly


def test_a_multi_discrete_mask_holds_each_component_apart() -> None:
    spec = ActionSpec("multi_discrete", (2, 3), (2,))
    logits = jnp.array([[0.1, 0.2, -jnp.inf], [0.3, -0.5, 1.0]])  # padded [K, max n]
    mask = jnp.array([0, 1, 1, 0, 1], bool)  # component 0 allows 1; component 1 allows 0, 2
    dist = masked(MultiCategorical(logits), mask, spec)
    draws = np.asarray(jax.vmap(dist.sample)(jax.random.split(jax.random.PRNGKey(2), 20_000)))
    assert set(draws[:, 0]) == {1} and set(draws[:, 1]) == {0, 2}


def test_ppos_ratio_moves_only_through_the_allowed_actions() -> None:
    """The clipped surrogate's gradient at a forbidden action's logit is exactly 0, and
    changing those logits leaves the loss as it was."""
    key = jax.random.PRNGKey(3)
    logits = jax.random.normal(key, (64, N))
    mask = jax.random.bernoulli(jax.random.PRNGKey(4), 0.6, (64, N)).at[:, 0].set(True)
    spec = ActionSpec.discrete(N)
    old = masked(Categorical(logits + 0.3), mask, spec)
    actions = old.sample(jax.random.PRNGKey(5))
    advantages = jax.random.normal(jax.random.PRNGKey(6), (64,))

    def loss(x: jax.Array) -> jax.Array:
        log_probs = masked(Categorical(x), mask, spec).log_prob(actions)
        return clipped_surrogate_loss(log_probs, old.log_prob(actions), advantages, clip_eps=0.2)[0]

    grads = np.asarray(jax.grad(loss)(logits))
    assert (grads[~np.asarray(mask)] == 0.0).all() and np.abs(grads[np.asarray(mask)]).max() > 0
    moved = jnp.where(mask, logits, logits + 5.0)  # only forbidden logits change
    assert float(loss(moved)) == float(loss(logits))


class Picky(gymnasium.Env):
    """N actions of which a random non-empty subset is allowed at each step, given in the
    observation's `action_mask` (or only in `info`, `mask_in_obs=False`): an allowed
    action pays 1, a forbidden one -10. 8 steps an episode."""

    def __init__(self, mask_in_obs: bool = True) -> None:
        self.mask_in_obs = mask_in_obs
        inner = spaces.Box(0.0, 1.0, (N,), np.float32)
        self.observation_space = (
            spaces.Dict({"obs": inner, "action_mask": spaces.MultiBinary(N)})
            if mask_in_obs
            else inner
        )
        self.action_space = spaces.Discrete(N)

    def _next(self) -> tuple[Any, dict]:
        self.mask = self.np_random.integers(0, 2, N).astype(np.int8)
        self.mask[self.np_random.integers(N)] = 1
        obs = self.mask.astype(np.float32)
        return ({"obs": obs, "action_mask": self.mask} if self.mask_in_obs else obs), {
            "action_mask": self.mask
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self.t = 0
        return self._next()

    def step(self, action: Any) -> tuple:
        reward = 1.0 if self.mask[int(action)] else -10.0
        self.t += 1
        obs, info = self._next()
        return obs, reward, False, self.t >= 8, info


class ShortMask(Picky):
    """A mask of 3 for 5 actions."""

    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Dict(
            {"obs": spaces.Box(0.0, 1.0, (N,), np.float32), "action_mask": spaces.MultiBinary(3)}
        )


class MaskState(NamedTuple):
    mask: jax.Array
    time: jax.Array


@dataclass(frozen=True)
class JaxPicky:
    """Picky on the JAX door, its mask in its observation."""

    env_id: str = "test/JaxPicky"
    max_episode_steps: int = 8

    @property
    def observation_space(self) -> spaces.Dict:
        return spaces.Dict(
            {"obs": spaces.Box(0.0, 1.0, (N,), np.float32), "action_mask": spaces.MultiBinary(N)}
        )

    @property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(N)

    def _mask(self, key: jax.Array) -> jax.Array:
        k1, k2 = jax.random.split(key)
        mask = jax.random.bernoulli(k1, 0.5, (N,))
        return mask.at[jax.random.randint(k2, (), 0, N)].set(True)

    def _obs(self, state: MaskState) -> dict[str, jax.Array]:
        return {"obs": state.mask.astype(jnp.float32), "action_mask": state.mask.astype(jnp.int8)}

    def reset(self, key: jax.Array) -> tuple[Any, MaskState]:
        state = MaskState(self._mask(key), jnp.zeros((), jnp.int32))
        return self._obs(state), state

    def step(self, key: jax.Array, state: MaskState, action: jax.Array) -> tuple:
        reward = jnp.where(state.mask[action], 1.0, -10.0)
        time = state.time + 1
        truncated = time >= self.max_episode_steps
        new = MaskState(self._mask(key), jnp.where(truncated, 0, time))
        return self._obs(new), new, reward, jnp.bool_(False), truncated, self._obs(new)


def _rollout(agent: Any) -> Any:
    """One rollout of the agent's own loop, through its door."""
    if agent.loop.is_jax:
        _, act_keys, env_keys, _ = split_iteration_key(agent.state.key, agent.loop.n_steps)
        return agent.loop.collect_jax(agent.state, act_keys, env_keys)[1]
    loop = agent.loop
    agent.learn(agent.env_steps + loop.steps_per_iteration, progress=False)
    return loop._host.buffer.rollout()  # the arrays of the last rollout


@pytest.mark.parametrize(
    "env",
    [lambda: Picky(), JaxPicky(), pytest.param("info", id="info")],
    ids=["obs-gymnasium", "obs-jax", "info"],
)
def test_masked_actions_are_never_taken_in_training_or_evaluation(env: Any, tmp_path: Path) -> None:
    source = {"action_mask": "info"} if env == "info" else {}
    env = (lambda: Picky(mask_in_obs=False)) if env == "info" else env
    agent = ascent.make("ppo", env=env, seed=0, total_steps=64, **PPO, **source)
    for _ in range(3):
        rollout = _rollout(agent)
        mask = np.asarray(rollout.obs["action_mask"]).astype(bool)
        taken = np.take_along_axis(mask, np.asarray(rollout.actions)[..., None], -1)
        assert taken.all() and float(np.min(rollout.rewards)) == 1.0  # -10 never paid
        agent.learn(agent.env_steps + 64, progress=False)
    assert min(agent.evaluate(4, deterministic=False).returns) == 8.0
    loaded = ascent.load(agent.save(tmp_path / "masked"), env=env)
    assert loaded.action_mask == agent.action_mask
    agent.close()
    loaded.close()


def test_a_mask_from_a_function_and_its_reload(tmp_path: Path) -> None:
    def allowed(obs: np.ndarray) -> np.ndarray:  # the observation is the mask as floats
        return obs > 0.5

    agent = ascent.make("a2c", env=lambda: Picky(mask_in_obs=False), seed=0, total_steps=32,
                        hidden=(8,), n_envs=2, n_steps=8, action_mask=allowed)  # fmt: skip
    agent.learn(progress=False)
    obs = np.array([0, 1, 0, 0, 0], np.float32)
    assert agent.act(obs, action_mask=obs > 0.5)[0] == 1  # the one allowed action
    with pytest.raises(ConfigError, match=r"pass the allowed actions, act\(obs, action_mask"):
        agent.act(obs)
    path = agent.save(tmp_path / "function")
    with pytest.raises(Exception, match="came from a function; pass it again"):
        ascent.load(path, env=lambda: Picky(mask_in_obs=False))
    again = ascent.load(path, env=lambda: Picky(mask_in_obs=False), action_mask=allowed)
    assert again.act(obs, action_mask=obs > 0.5)[0] == 1
    agent.close()
    again.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ascent.make("ppo", env="Pendulum-v1", action_mask="info"),
         "action masks need Discrete or MultiDiscrete actions"),
        (lambda: ascent.make("ppo", env="CartPole-v1", action_mask="infos"),
         "action_mask must be 'info' or a function"),
        (lambda: ascent.make("ppo", env=JaxPicky(), action_mask="info"),
         "is for Gymnasium environments"),
        (lambda: ascent.make("ppo", env="CartPole-v1", action_mask="info", **PPO).learn(
            progress=False), "info has no 'action_mask'"),
        (lambda: ascent.make("ppo", env=lambda: ShortMask(), **PPO),
         r"the observation's action_mask \(3,\) does not fit Discrete\(5\)"),
    ],
)  # fmt: skip
def test_a_mask_that_cannot_be_is_one_line(make: Any, message: str) -> None:
    with pytest.raises(EnvError, match=message) as caught:
        make()
    assert "\n" not in str(caught.value)
