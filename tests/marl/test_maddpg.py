"""MADDPG (`ascent/marl/maddpg.py`): each agent's critic sees the team's actions with its
own replaced, the actors see only their own observations, the replay buffer fills and
waits for `learning_starts`, and the actors' Gumbel-softmax gradient climbs the critic."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import ascent
from ascent.buffers import Transitions, flatten_steps
from ascent.nn.multiagent import joint_actions_seen

from .test_team_algorithms import RandomMasks, rollout_of, small


def test_each_agents_view_of_the_joint_action_has_its_own_row_replaced() -> None:
    team = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # agents 0, 1, 2 took 0, 1, 0
    own = jnp.array([[0.2, 0.8], [0.6, 0.4], [0.0, 1.0]])
    active = jnp.array([True, True, False])
    seen = np.asarray(joint_actions_seen(team, own, active))
    expected = np.array([
        [[0.2, 0.8], [0.0, 1.0], [0.0, 0.0]],  # agent 0: its own row, agent 1's, 2 absent
        [[1.0, 0.0], [0.6, 0.4], [0.0, 0.0]],
        [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]],  # agent 2 is absent: its own row is zero too
    ])  # fmt: skip
    np.testing.assert_allclose(seen, expected, rtol=1e-6)


def make_agent(seed: int = 0, **changes: Any) -> Any:
    return ascent.make("maddpg", env=RandomMasks(), seed=seed, **small("maddpg", **changes))


def test_critics_read_the_others_actions_and_actors_only_their_own_observation() -> None:
    agent = make_agent()
    algorithm, params = agent.algorithm, agent.state.algo.params
    obs = rollout_of(agent).obs
    n = algorithm.n_actions
    taken = jax.nn.one_hot(jnp.zeros(obs.active.shape, jnp.int32), n)

    def critic(actions: jax.Array) -> np.ndarray:
        joint = joint_actions_seen(actions, actions, obs.active)
        return np.asarray(algorithm.critic.apply(params["critic"], obs, joint))

    other = taken.at[..., 2, :].set(jax.nn.one_hot(1, n))  # agent 2 acts otherwise
    changed = np.abs(critic(taken) - critic(other)).max(axis=(0, 1))
    assert changed[0] > 1e-4 and changed[1] > 1e-4  # the others' critics see it

    logits = algorithm.actor.apply(params["actor"], obs).logits
    moved = obs._replace(obs=obs.obs.at[..., 2, :].add(1.0))
    moved_logits = algorithm.actor.apply(params["actor"], moved).logits
    np.testing.assert_array_equal(logits[..., :2, :], moved_logits[..., :2, :])
    assert float(jnp.abs(logits[..., 2, 0] - moved_logits[..., 2, 0]).max()) > 1e-4  # 0 allowed


def test_the_loops_buffer_fills_and_no_step_is_taken_before_learning_starts() -> None:
    """The team's joint steps go into `LoopState.buffer`, where DDPG, TD3 and SAC keep
    theirs; no gradient step before `learning_starts` joint steps, then
    `gradient_steps` each iteration; a full ring keeps its capacity."""
    agent = make_agent(learning_starts=64)  # two rollouts of 4 × 8 joint steps
    learn = jax.jit(agent.loop.learn)
    state, key = agent.state, jax.random.PRNGKey(0)
    rollout = rollout_of(agent)
    assert agent.state.algo._fields == ("params", "target_params", "opt_state", "updates")
    first, metrics = learn(state, rollout, key)
    assert int(first.buffer.size) == 32 and float(metrics["value_loss"]) == 0.0
    jax.tree.map(np.testing.assert_array_equal, first.algo.params, state.algo.params)
    np.testing.assert_array_equal(first.buffer.data.actions[:32], rollout.actions.reshape(32, 3))
    second, metrics = learn(first, rollout, key)
    assert int(second.buffer.size) == 64 and float(metrics["value_loss"]) > 0.0
    diffs = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), second.algo.params,
                         first.algo.params)  # fmt: skip
    assert min(jax.tree.leaves(diffs)) > 0.0  # every layer of actor and critic moved
    third, _ = learn(second, rollout, key)
    assert int(third.buffer.size) == 64 and int(third.buffer.position) == 32
    assert int(third.algo.updates) == 2 * agent.config.gradient_steps  # the clock: steps


def test_checkpoints_hold_the_buffer_only_when_asked(tmp_path: Any) -> None:
    """A checkpoint is the size of the networks unless `save_buffer` (100 MB by default
    before the buffer left the algorithm's state); loaded, the buffer is empty or the
    one saved."""
    sizes = {}
    for save_buffer in (False, True):
        agent = make_agent(buffer_size=4096, save_buffer=save_buffer, total_steps=64)
        agent.learn(progress=False)
        path = agent.save(tmp_path / f"buffer-{save_buffer}")
        sizes[save_buffer] = sum(f.stat().st_size for f in path.iterdir())
        loaded = ascent.load(path, env=RandomMasks())
        assert int(loaded.state.buffer.size) == (64 if save_buffer else 0)
        assert loaded.state.buffer.capacity == 4096
        jax.tree.map(np.testing.assert_array_equal, loaded.state.algo, agent.state.algo)
        agent.close()
        loaded.close()
    assert sizes[True] > 20 * sizes[False], sizes


def test_the_actors_gradient_climbs_the_critic() -> None:
    """With the critics held, actor steps alone raise every agent's expected value
    Σ_c π^a(c | o^a) Q_a(s, (u^{-a}, c)), computed exactly over its own actions."""
    agent = make_agent(seed=4, lr=0.01)
    algorithm = agent.algorithm
    state = agent.state.algo
    batch = rollout_of(agent)
    obs, n = batch.obs, algorithm.n_actions
    taken = jax.nn.one_hot(batch.actions, n)
    steps = flatten_steps(Transitions(obs, batch.actions, batch.rewards, batch.next_obs,
                                      batch.terminated, batch.truncated))  # fmt: skip

    def expected_value(params: Any) -> float:
        probs = jnp.exp(algorithm.actor.apply(params["actor"], obs).log_probs())
        values = []
        for c in range(n):
            own = jnp.broadcast_to(jax.nn.one_hot(c, n), taken.shape)
            joint = joint_actions_seen(taken, own, obs.active)
            values.append(algorithm.critic.apply(params["critic"], obs, joint))
        return float(jnp.mean(jnp.sum(probs * jnp.stack(values, -1), -1)))

    @jax.jit
    def actor_step(state: Any, key: jax.Array) -> Any:
        grads, _ = algorithm.grads(state, steps, key)
        moved = algorithm.apply(state, grads)
        return moved._replace(params={**moved.params, "critic": state.params["critic"]})

    before = expected_value(state.params)
    for key in jax.random.split(jax.random.PRNGKey(1), 30):
        state = actor_step(state, key)
    after = expected_value(state.params)
    assert after > before + 0.01, (before, after)
