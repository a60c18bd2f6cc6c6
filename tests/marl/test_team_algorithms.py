"""A team's algorithms (`ascent/marl/`): for IPPO and MAPPO a team's GAE is each agent's
own and parameter sharing sets the parameter count; for every one, padded agents never
reach a loss and action masks are never violated; a team trains, evaluates, saves and
loads like one agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

import ascent
from ascent.catalog.registry import build_algorithm, make_config
from ascent.core.returns import gae
from ascent.envs import AgentObs, MultiAgentSpaces
from ascent.envs.tasks import climbing_game
from ascent.errors import EnvError
from ascent.marl import IPPO, MAPPO
from ascent.train.loop import split_iteration_key

SMALL = {"n_envs": 4, "n_steps": 8, "minibatch_size": 16, "hidden": (8,), "total_steps": 640}
TEAM_ALGOS = ["ippo", "mappo", "coma", "vdn", "qmix", "maddpg"]


def small(algo: str, **changes: Any) -> dict[str, Any]:
    """SMALL, without the settings `algo` does not have (COMA takes no minibatches), and
    for MADDPG a small replay buffer it learns from at once."""
    settings = {**SMALL, **({"buffer_size": 64, "learning_starts": 0} if algo == "maddpg" else {})}
    if algo == "coma":
        settings.pop("minibatch_size")
    return {**settings, **changes}


class MaskState(NamedTuple):
    mask: jax.Array  # [A, n_actions] the actions allowed at the next step
    time: jax.Array


@dataclass(frozen=True)
class RandomMasks:
    """Three agents with 5 actions, of which a random non-empty subset is allowed at each
    step (agent 2 has only 3 actions: 3 and 4 are padding, never allowed); an agent is
    paid 1 for an allowed action and -10 for a forbidden one (which the policy must never
    take, so -10 never comes)."""

    agents: tuple[str, ...] = ("a", "b", "c")
    env_id: str = "test/RandomMasks"
    max_episode_steps: int = 10

    @property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (5,), np.float32)

    @property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(5)

    @property
    def state_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (15,), np.float32)

    def _mask(self, key: jax.Array) -> jax.Array:
        mask = jax.random.bernoulli(key, 0.5, (3, 5)).at[:, 0].set(True)  # 0 always allowed
        return mask.at[2, 3:].set(False)

    def _observe(self, mask: jax.Array) -> AgentObs:
        obs = mask.astype(jnp.float32)  # each agent sees its own mask
        return AgentObs(obs, obs.ravel(), mask, jnp.ones(3, bool))

    def reset(self, key: jax.Array) -> tuple[AgentObs, MaskState]:
        mask = self._mask(key)
        return self._observe(mask), MaskState(mask, jnp.zeros((), jnp.int32))

    def step(self, key: jax.Array, state: MaskState, actions: jax.Array) -> tuple:
        allowed = state.mask[jnp.arange(3), actions]
        rewards = jnp.where(allowed, 1.0, -10.0).astype(jnp.float32)
        time = state.time + 1
        truncated = time >= self.max_episode_steps
        mask = self._mask(key)
        state = MaskState(mask, jnp.where(truncated, 0, time).astype(jnp.int32))
        obs = self._observe(mask)
        return obs, state, rewards, jnp.zeros((), bool), truncated, obs


def rollout_of(agent: Any) -> Any:
    """A rollout collected by the agent's own (JAX-door) loop."""
    state = agent.state
    _, act_keys, env_keys, _ = split_iteration_key(state.key, agent.loop.n_steps)
    return agent.loop.collect_jax(state, act_keys, env_keys)[1]


@pytest.mark.parametrize("algo", ["ippo", "mappo"])
def test_a_teams_advantages_are_each_agents_own_gae(algo: str) -> None:
    agent = ascent.make(algo, env=RandomMasks(), seed=1, **SMALL)
    rollout = rollout_of(agent)
    assert rollout.rewards.shape == (8, 4, 3) and rollout.terminated.shape == (8, 4)
    algorithm, state = agent.algorithm, agent.state.algo
    _, units, _ = algorithm.minibatch_units(state, rollout)
    _, values = algorithm.model.unroll(state.params, rollout)
    next_values = algorithm.model.bootstrap_values(state.params, rollout)
    cfg = algorithm.config
    advantages = np.asarray(units["advantages"]).reshape(8, 4, 3)
    for i in range(3):  # agent i alone, as a single-agent rollout [T, N]
        alone = gae(
            rewards=rollout.rewards[..., i],
            values=values[..., i],
            next_values=next_values[..., i],
            terminated=rollout.terminated,
            truncated=rollout.truncated,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
        )
        np.testing.assert_allclose(advantages[..., i], alone, rtol=1e-5, atol=1e-5)


def dense_count(n_in: int, widths: tuple[int, ...], n_out: int) -> int:
    """Weights and biases of an MLP n_in -> widths -> n_out."""
    sizes = (n_in, *widths, n_out)
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))


@pytest.mark.parametrize("critic", ["local", "global"])
@pytest.mark.parametrize("share", [True, False])
def test_parameter_sharing_gives_the_expected_parameter_count(share: bool, critic: str) -> None:
    env, hidden = RandomMasks(), (16, 8)
    cls = MAPPO if critic == "global" else IPPO
    config = make_config(
        cls.name, env.env_id, {**SMALL, "hidden": hidden, "share_parameters": share}
    )
    algorithm = build_algorithm(cls, config, env)
    params = algorithm.init(jax.random.PRNGKey(0)).params
    count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    obs_dim, state_dim, n_actions, n_agents = 5, 15, 5, 3
    critic_in = state_dim if critic == "global" else obs_dim
    if share:  # one actor and one critic; inputs carry a one-hot agent id
        ids = n_agents
        expected = dense_count(obs_dim + ids, hidden, n_actions)
        expected += dense_count(critic_in + ids, hidden, 1)
    else:  # a network per agent, no ids
        expected = n_agents * (
            dense_count(obs_dim, hidden, n_actions) + dense_count(critic_in, hidden, 1)
        )
    assert count == expected


@pytest.mark.parametrize("algo", ["ippo", "mappo"])
def test_a_padded_agent_never_contributes_to_a_loss(algo: str) -> None:
    """Agent 1 is a padded slot for the whole rollout: whatever its observation, action,
    reward and old log-probability, the gradient and the loss's statistics are the same."""
    agent = ascent.make(algo, env=RandomMasks(), seed=2, **SMALL)
    rollout = rollout_of(agent)
    active = rollout.obs.active.at[..., 1].set(False)
    rollout = rollout._replace(
        obs=rollout.obs._replace(active=active), next_obs=rollout.next_obs._replace(active=active)
    )
    algorithm, state = agent.algorithm, agent.state.algo

    def grads_of(rollout: Any) -> tuple[Any, dict]:
        _, units, _ = algorithm.minibatch_units(state, rollout)
        return algorithm.grads(state, units, jax.random.PRNGKey(0))

    key = jax.random.PRNGKey(5)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    noise = rollout._replace(
        rewards=rollout.rewards.at[..., 1].set(jax.random.normal(k1, rollout.rewards.shape[:2])),
        actions=rollout.actions.at[..., 1].set(jax.random.randint(k2, (8, 4), 0, 5)),
        log_probs=rollout.log_probs.at[..., 1].set(-jax.random.uniform(k3, (8, 4)) * 5),
        obs=rollout.obs._replace(
            obs=rollout.obs.obs.at[..., 1, :].set(jax.random.normal(k4, (8, 4, 5)) * 3)
        ),
    )
    base_grads, base_stats = jax.jit(grads_of)(rollout)
    other_grads, other_stats = jax.jit(grads_of)(noise)
    if algo == "ippo":  # a local critic: nothing of agent 1 reaches the loss at all
        jax.tree.map(np.testing.assert_allclose, base_grads, other_grads)
        jax.tree.map(np.testing.assert_allclose, base_stats, other_stats)
    else:  # a global critic reads agent 1's observation inside the others' global state;
        # here the global state is untouched, so again nothing of agent 1 counts
        jax.tree.map(np.testing.assert_allclose, base_grads, other_grads)
    # and the same change to an active agent does change the gradient (the test can fail)
    moved = rollout._replace(rewards=rollout.rewards.at[..., 0].add(1.0))
    moved_grads, _ = jax.jit(grads_of)(moved)
    diffs = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), base_grads, moved_grads)
    assert max(jax.tree.leaves(diffs)) > 1e-6


@pytest.mark.parametrize("algo", ["coma", "vdn", "qmix", "maddpg"])
def test_a_padded_agent_never_changes_an_update(algo: str) -> None:
    """As above for the credit-assignment learners, through a whole update: with agent 1 a
    padded slot, noise in its reward, action and observation leaves the parameters after
    the update exactly as they were without it (COMA's and MADDPG's critics and QMIX's
    mixer read the others' actions and values, so absent agents must be zeroed there)."""
    agent = ascent.make(algo, env=RandomMasks(), seed=2, **small(algo))
    rollout = rollout_of(agent)
    active = rollout.obs.active.at[..., 1].set(False)
    rollout = rollout._replace(
        obs=rollout.obs._replace(active=active), next_obs=rollout.next_obs._replace(active=active)
    )
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(5), 3)
    noise = rollout._replace(
        rewards=rollout.rewards.at[..., 1].set(jax.random.normal(k1, rollout.rewards.shape[:2])),
        actions=rollout.actions.at[..., 1].set(jax.random.randint(k2, (8, 4), 0, 5)),
        obs=rollout.obs._replace(
            obs=rollout.obs.obs.at[..., 1, :].set(jax.random.normal(k3, (8, 4, 5)) * 3)
        ),
    )
    learn = jax.jit(agent.loop.learn)  # MADDPG's through its replay buffer
    key = jax.random.PRNGKey(0)
    base, _ = learn(agent.state, rollout, key)
    other, _ = learn(agent.state, noise, key)
    jax.tree.map(np.testing.assert_allclose, base.algo.params, other.algo.params)
    moved, _ = learn(agent.state, rollout._replace(rewards=rollout.rewards + 1.0), key)
    diffs = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), base.algo.params,
                         moved.algo.params)  # fmt: skip
    assert max(jax.tree.leaves(diffs)) > 1e-6  # an active agent's reward does count


# one algorithm per way of acting: mappo acts as ippo does (TeamActorCritic) and qmix as
# vdn (ε-greedy on allowed_actions); they run with the slow tests
ACTING = [a if a not in ("mappo", "qmix") else pytest.param(a, marks=pytest.mark.slow)
          for a in TEAM_ALGOS]  # fmt: skip


@pytest.mark.parametrize("algo", ACTING)
def test_action_masks_are_never_violated(algo: str) -> None:
    """Actions sampled while training and in evaluation are always allowed, though the
    policy starts uniform over all five actions (a forbidden one pays -10)."""
    agent = ascent.make(algo, env=RandomMasks(), seed=3, **small(algo, total_steps=1280))
    for _ in range(3):
        rollout = rollout_of(agent)
        taken = jnp.take_along_axis(rollout.obs.action_mask, rollout.actions[..., None], -1)
        assert bool(taken.all())
        assert float(rollout.rewards.min()) == 1.0  # -10 never paid
        agent.learn(agent.env_steps + 640, progress=False)
    result = agent.evaluate(8, deterministic=False)
    assert min(min(r) for r in result.agent_returns.values()) == 10.0  # 10 allowed steps
    # the padding of agent 2's actions (3, 4) is never taken either
    assert int(rollout.actions[..., 2].max()) <= 2


def test_a_team_trains_evaluates_saves_and_loads(tmp_path: Any) -> None:
    agent = ascent.make("mappo", env="ascent/Climbing-v0", seed=0, **SMALL)
    agent.learn(run_dir=tmp_path / "run", progress=False)
    result = agent.finish(4)
    assert set(result.agent_returns) == {"agent_0", "agent_1"}
    assert result.to_dict()["team_mean_return"] == pytest.approx(2 * result.mean_return)
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    for column in ("episode_return", "episode_team_return", "episode_return/agent_0"):
        assert column in header
    loaded = ascent.load(tmp_path / "run")
    assert loaded.algo_name == "mappo"
    jax.tree.map(np.testing.assert_array_equal, loaded.state.algo, agent.state.algo)
    obs, _ = loaded.env.reset(jax.random.PRNGKey(0))
    actions, _ = loaded.act(obs)
    assert actions.shape == (2,)
    assert loaded.evaluate(4).mean_return == agent.evaluate(4).mean_return


def test_one_agents_algorithm_and_a_teams_refuse_the_other_kind_of_environment() -> None:
    with pytest.raises(EnvError, match=r"ppo trains one agent .* use ippo or mappo"):
        ascent.make("ppo", env="ascent/Climbing-v0")
    with pytest.raises(EnvError, match="mappo trains a team of agents"):
        ascent.make("mappo", env="ascent/Chain-v0")


def test_team_spaces_come_from_the_environment() -> None:
    spaces_ = MultiAgentSpaces.of(climbing_game())
    assert spaces_.n_agents == 2 and spaces_.zeros(3).obs.shape == (3, 2, 1)
