"""A team's memory policies (`TeamActorCritic` with a core; IPPO and MAPPO): one call over
T steps is T calls of one step, an agent's state starts again at its team's episode
start, agents share the core but not their state, and a memory team trains, saves and
loads like a feed-forward one."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.envs import AgentObs
from ascent.errors import ConfigError
from ascent.nn.multiagent import TeamActorCritic, agents_through, broadcast_state, per_agent
from ascent.nn.policies import ValueNet
from ascent.nn.sequence import CoreSpec

B, T, A, D, S, N_ACTIONS = 2, 5, 3, 4, 6, 3
SMALL = {"n_envs": 4, "n_steps": 8, "minibatch_size": 16, "hidden": (8,), "total_steps": 640,
         "core.kind": "gru", "core.embed_dim": 8}  # fmt: skip


def team_obs(key: jax.Array) -> AgentObs:
    k_obs, k_state = jax.random.split(key)
    return AgentObs(
        obs=jax.random.normal(k_obs, (B, T, A, D)),
        global_state=jax.random.normal(k_state, (B, T, S)),
        action_mask=jnp.ones((B, T, A, N_ACTIONS), bool),
        active=jnp.ones((B, T, A), bool),
    )


# (core, critic): MAPPO's critic on the global state with a GRU, IPPO's on each agent's
# own observation with an LSTM
@pytest.fixture(
    scope="module", params=[("gru", True), ("lstm", False)], ids=["gru-mappo", "lstm-ippo"]
)
def net_and_params(request: Any) -> tuple[TeamActorCritic, Any]:
    kind, centralised = request.param
    net = TeamActorCritic(A, N_ACTIONS, hidden=(8,), centralised_critic=centralised,
                          core=CoreSpec(kind=kind, embed_dim=8))  # fmt: skip
    obs = team_obs(jax.random.PRNGKey(0))
    params = net.init(jax.random.PRNGKey(1), net.initial_state(B), obs, jnp.zeros((B, T), bool))
    return net, params


def test_one_call_over_t_steps_is_t_calls_of_one_step(net_and_params: Any) -> None:
    net, params = net_and_params
    obs = team_obs(jax.random.PRNGKey(2))
    resets = jnp.zeros((B, T), bool).at[0, 2].set(True).at[1, 0].set(True)
    whole_state, whole, whole_v = net.apply(params, net.initial_state(B), obs, resets)
    state = net.initial_state(B)
    for t in range(T):
        step = jax.tree.map(lambda x: x[:, t : t + 1], obs)  # noqa: B023
        state, dist, value = net.apply(params, state, step, resets[:, t : t + 1])
        np.testing.assert_allclose(dist.logits[:, 0], whole.logits[:, t], atol=1e-5)
        np.testing.assert_allclose(value[:, 0], whole_v[:, t], atol=1e-5)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(whole_state), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert whole.logits.shape == (B, T, A, N_ACTIONS) and whole_v.shape == (B, T, A)
    assert jax.tree.leaves(whole_state)[0].shape[:2] == (B, A)  # every agent its own state


def test_an_agents_memory_starts_again_at_its_teams_episode_start(net_and_params: Any) -> None:
    net, params = net_and_params
    obs = team_obs(jax.random.PRNGKey(3))
    resets = jnp.zeros((B, T), bool).at[:, 2].set(True)  # a new episode at step 2
    _, dist, value = net.apply(params, net.initial_state(B), obs, resets)
    changed = obs._replace(obs=obs.obs.at[:, :2].add(5.0))  # the episode before, changed
    _, dist2, value2 = net.apply(params, net.initial_state(B), changed, resets)
    np.testing.assert_allclose(dist.logits[:, 2:], dist2.logits[:, 2:], atol=1e-6)
    np.testing.assert_allclose(value[:, 2:], value2[:, 2:], atol=1e-6)
    assert not np.allclose(dist.logits[:, :2], dist2.logits[:, :2])  # it was read before
    # and the agents do not share their state: changing agent 0's inputs leaves agent 1's
    # policy as it was (the actor reads its own observation)
    one = obs._replace(obs=obs.obs.at[:, :, 0].add(5.0))
    _, dist3, _ = net.apply(params, net.initial_state(B), one, jnp.zeros((B, T), bool))
    _, dist4, _ = net.apply(params, net.initial_state(B), obs, jnp.zeros((B, T), bool))
    np.testing.assert_allclose(dist3.logits[:, :, 1:], dist4.logits[:, :, 1:], atol=1e-6)
    assert not np.allclose(dist3.logits[:, :, 0], dist4.logits[:, :, 0])


def test_a_memory_team_trains_saves_and_loads(tmp_path: Any) -> None:
    # MAPPO (IPPO is the same algorithm, its critic input aside: the nets above cover both)
    agent = ascent.make("mappo", env="ascent/Climbing-v0", seed=0, **SMALL)
    agent.learn(run_dir=tmp_path / "run", progress=False)
    assert jax.tree.leaves(agent.state.policy_state)[0].shape == (4, 2, 8)  # [N, A, H]
    loaded = ascent.load(tmp_path / "run")
    for x, y in zip(jax.tree.leaves(agent.state), jax.tree.leaves(loaded.state), strict=True):
        assert np.array_equal(x, y)
    assert loaded.evaluate(4).mean_return == agent.evaluate(4).mean_return
    agent.learn(total_steps=1280, progress=False)  # training goes on exactly as it would have
    loaded.learn(total_steps=1280, progress=False)
    for x, y in zip(jax.tree.leaves(agent.state), jax.tree.leaves(loaded.state), strict=True):
        assert np.array_equal(x, y)


def test_a_teams_memory_is_shared_and_without_messages() -> None:
    with pytest.raises(ConfigError, match="shared by its agents; set share_parameters=true"):
        ascent.make("mappo", env="ascent/Climbing-v0", share_parameters=False, **SMALL)
    with pytest.raises(ConfigError, match="messages take feed-forward actors only"):
        ascent.make("mappo", env="ascent/Climbing-v0", messages="attention", **SMALL)


class _EveryAgentsCritic(nn.Module):
    """The centralised critic as A equal rows, one an agent (the reference for the one
    row a joint step `TeamActorCritic` computes when the agents' inputs are the same)."""

    core: CoreSpec

    @nn.compact
    def __call__(self, state: Any, global_state: jax.Array, resets: jax.Array) -> jax.Array:
        x = broadcast_state(global_state, A)  # [B, T, A, S]
        if self.core.stateful:
            _, x = agents_through(self.core.build("critic_core"), state, x, resets)
        return per_agent(ValueNet, (None, (8,), "tanh"), x, name="critic", share=True,
                         agent_ids=False)  # fmt: skip


@pytest.mark.parametrize("kind", ["mlp", "gru"])
def test_a_critic_whose_agents_read_the_same_input_computes_it_once(kind: str) -> None:
    # MAPPO's critic on the global state, shared, without ids: every agent's value is
    # one number, computed once a joint step; the values and their gradient are those
    # of A equal rows, one an agent
    core = CoreSpec(kind=kind, embed_dim=8)
    net = TeamActorCritic(A, N_ACTIONS, hidden=(8,), centralised_critic=True, agent_ids=False,
                          core=core)  # fmt: skip
    obs = team_obs(jax.random.PRNGKey(4))
    resets = jnp.zeros((B, T), bool).at[0, 2].set(True)
    state = net.initial_state(B)
    params = net.init(jax.random.PRNGKey(5), state, obs, resets)
    weights = jax.random.normal(jax.random.PRNGKey(6), (B, T, A))
    critic = {k: v for k, v in params["params"].items() if k.startswith("critic")}
    every = _EveryAgentsCritic(core)
    rows = None if state is None else jax.tree.map(
        lambda s: jnp.broadcast_to(s, (B, A, *s.shape[2:])), state["critic"]
    )  # fmt: skip

    def once(p: Any) -> jax.Array:
        value = net.apply({"params": {**params["params"], **p}}, state, obs, resets)[2]
        return jnp.sum(value * weights)

    def reference(p: Any) -> jax.Array:
        return jnp.sum(every.apply({"params": p}, rows, obs.global_state, resets) * weights)

    if state is not None:
        assert jax.tree.leaves(state["critic"])[0].shape[:2] == (B, 1)  # one row a step
        assert jax.tree.leaves(state["actor"])[0].shape[:2] == (B, A)
    value = net.apply(params, state, obs, resets)[2]
    assert value.shape == (B, T, A)
    np.testing.assert_allclose(once(critic), reference(critic), rtol=1e-5)
    for g, h in zip(jax.tree.leaves(jax.grad(once)(critic)),
                    jax.tree.leaves(jax.grad(reference)(critic)), strict=True):  # fmt: skip
        np.testing.assert_allclose(g, h, rtol=1e-4, atol=1e-6)
