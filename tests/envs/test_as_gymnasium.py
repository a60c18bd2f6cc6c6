"""Ascent's JAX tasks seen from other libraries (`envs/as_gymnasium.py`,
`envs/as_pettingzoo.py`): cached spaces, `gymnasium.make("ascent/...")` and its checker,
and PettingZoo's parallel API test for the team tasks."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import ascent
from ascent.envs import TASKS, GymnasiumTask, is_multiagent
from ascent.errors import EnvError

SINGLE = sorted(env_id for env_id, factory in TASKS.items() if not is_multiagent(factory()))
TEAMS = sorted(set(TASKS) - set(SINGLE))


@pytest.mark.parametrize("env_id", sorted(TASKS))
def test_a_task_gives_the_same_space_objects_so_seeding_holds(env_id: str) -> None:
    env = TASKS[env_id]()
    names = ["observation_space", "action_space"] + (["state_space"] if env_id in TEAMS else [])
    for name in names:
        assert getattr(env, name) is getattr(env, name), name
    env.action_space.seed(0)
    first = [env.action_space.sample() for _ in range(20)]
    env.action_space.seed(0)
    np.testing.assert_equal([env.action_space.sample() for _ in range(20)], first)


def test_gymnasium_knows_every_single_agent_task_after_import_ascent() -> None:
    assert sorted(f"ascent/{name}" for name in ascent._GYMNASIUM_TASKS) == SINGLE
    assert {"ascent/Chain-v0", "ascent/TMaze-v0", "ascent/DialLock-v0"} <= set(SINGLE)
    assert not set(TEAMS) & set(gymnasium.registry)
    # registering imports Gymnasium, never JAX: the CLI sets XLA's flags after `import ascent`
    code = "import ascent, gymnasium, sys; assert 'ascent/TMaze-v0' in gymnasium.registry; "
    code += "assert 'jax' not in sys.modules, 'jax'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("env_id", ["ascent/TMaze-v0", "ascent/DialLock-v0", "ascent/Switches-v0"])
def test_gymnasium_make_steps_and_passes_the_env_checker(env_id: str) -> None:
    env = gymnasium.make(env_id)
    assert isinstance(env.unwrapped, GymnasiumTask)
    assert env.action_space is env.action_space is env.unwrapped.task.action_space
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's warnings count as failures
        check_env(env.unwrapped)

    def episode(seed: int) -> list:
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        seen = [obs]
        for _ in range(12):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs) and isinstance(reward, float)
            seen.append((obs, reward, terminated, truncated))
            if terminated or truncated:
                break
        return seen

    np.testing.assert_equal(episode(3), episode(3))  # a seed repeats the episode


def test_gymnasium_make_passes_the_tasks_options_and_refuses_teams() -> None:
    assert gymnasium.make("ascent/TMaze-v0", length=3).unwrapped.task.length == 3
    with pytest.raises(EnvError, match="not a single-agent JAX task"):
        GymnasiumTask("ascent/Signalling-v0")


@pytest.mark.parametrize("env_id", TEAMS)
@pytest.mark.filterwarnings("ignore:The old environment creation API:DeprecationWarning")
def test_team_tasks_pass_pettingzoo_parallel_api_test(
    env_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import parallel_api_test

    from ascent.envs.as_pettingzoo import PettingZooTeam

    env = PettingZooTeam(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "live agent was not given ...": a failure here
        parallel_api_test(env, num_cycles=60)
    assert "Passed Parallel API test" in capsys.readouterr().out
    obs, infos = env.reset(seed=5)
    again, _ = PettingZooTeam(env_id).reset(seed=5)
    np.testing.assert_equal(obs, again)
    assert env.agents == env.possible_agents == list(env.task.agents)
    assert env.state().shape == env.state_space.shape
    assert env.action_space("agent_0") is env.action_space("agent_0")
    assert env.action_space("agent_0") is not env.action_space("agent_1")  # seeded apart
    assert infos["agent_0"]["action_mask"].all()
    # to the end of an episode: everyone leaves together, with the team's reward
    for _ in range(env.task.max_episode_steps):
        actions = {agent: 0 for agent in env.agents}
        obs, rewards, terminated, truncated, _ = env.step(actions)
    assert env.agents == [] and set(rewards) == set(env.possible_agents)
    assert all(terminated[a] or truncated[a] for a in env.possible_agents)


def test_a_single_agent_task_is_refused_as_a_team() -> None:
    pytest.importorskip("pettingzoo")
    from ascent.envs.as_pettingzoo import PettingZooTeam

    with pytest.raises(EnvError, match="not a team JAX task"):
        PettingZooTeam("ascent/Chain-v0")
