"""The actors' message channel (`nn.multiagent.MessageChannel`): an agent hears the
others present and not itself; cut, it hears nothing, with the same parameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.envs import AgentObs
from ascent.errors import ConfigError
from ascent.marl import MAPPOConfig
from ascent.nn.multiagent import TeamActorCritic

A, OBS, N_ACTIONS = 3, 4, 5


def team(messages: str) -> TeamActorCritic:
    return TeamActorCritic(A, N_ACTIONS, hidden=(8,), messages=messages, num_heads=2)


def observe(key: jax.Array, active: tuple[bool, ...] = (True,) * A) -> AgentObs:
    obs = jax.random.normal(key, (2, A, OBS))  # two environments
    return AgentObs(obs, obs.reshape(2, -1), jnp.ones((2, A, N_ACTIONS), bool),
                    jnp.broadcast_to(jnp.asarray(active), (2, A)))  # fmt: skip


def logits(net: TeamActorCritic, params, obs: AgentObs) -> jax.Array:
    return net.apply(params, None, obs, None)[1].logits  # [2, A, n]


def test_an_agent_hears_the_others_through_the_channel_and_nothing_when_cut() -> None:
    talk, cut = team("attention"), team("cut")
    obs = observe(jax.random.PRNGKey(0))
    params = talk.init(jax.random.PRNGKey(1), None, obs, None)
    # the same parameters serve both: the ablation cuts the messages, nothing else
    assert jax.tree.structure(params) == jax.tree.structure(
        cut.init(jax.random.PRNGKey(1), None, obs, None)
    )
    moved = obs._replace(obs=obs.obs.at[:, 0].add(1.0))  # agent 0 sees something else
    changed = jnp.abs(logits(talk, params, moved) - logits(talk, params, obs)).max(axis=(0, 2))
    assert bool((changed > 1e-4).all())  # agents 1 and 2 heard it
    unheard = jnp.abs(logits(cut, params, moved) - logits(cut, params, obs)).max(axis=(0, 2))
    assert float(unheard[0]) > 1e-4  # agent 0's own policy still reads its observation
    np.testing.assert_allclose(unheard[1:], 0.0)  # the others hear nothing


def test_absent_agents_send_nothing_and_no_agent_hears_itself() -> None:
    talk = team("attention")
    obs = observe(jax.random.PRNGKey(0), active=(True, True, False))
    params = talk.init(jax.random.PRNGKey(1), None, obs, None)
    moved = obs._replace(obs=obs.obs.at[:, 2].add(1.0))  # the absent agent 2
    np.testing.assert_allclose(logits(talk, params, moved)[:, :2],
                               logits(talk, params, obs)[:, :2], atol=1e-6)  # fmt: skip
    alone = observe(jax.random.PRNGKey(0), active=(True, False, False))
    as_if_cut = team("cut")  # agent 0 alone hears nothing: not even its own message
    np.testing.assert_allclose(logits(talk, params, alone)[:, 0],
                               logits(as_if_cut, params, alone)[:, 0], atol=1e-6)  # fmt: skip


def test_the_channel_is_checked_in_the_config() -> None:
    with pytest.raises(ConfigError, match="messages must be one of none, attention, cut"):
        MAPPOConfig(messages="shout").validate()
    with pytest.raises(ConfigError, match="heads"):
        MAPPOConfig(messages="attention", hidden=(6,), message_heads=4).validate()
