"""atari/<Game> on the Gymnasium door: preprocessing, clipped training rewards and raw
scores, the two engines side by side, the id family and its options. Few steps, 1-2
games each; nothing trains."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

import ascent
from ascent.catalog.registry import make_config
from ascent.cli import _parse_env_options, main
from ascent.envs import list_envs, make
from ascent.envs.atari import (
    AtariVecEnv,
    EnvPoolAtari,
    GameScores,
    RecordScore,
    atari_games,
)
from ascent.envs.registry import check_saved_id, registered
from ascent.errors import ConfigError, EnvError
from ascent.train.loop import with_game_scores

pytest.importorskip("ale_py")
ENGINES = ("ale", "envpool")
FRAMES = spaces.Box(0, 255, (4, 84, 84), np.uint8)


def _random_steps(env, steps: int, seed: int = 0):
    """(rewards [T, N], terminated [T, N], truncated [T, N], obs and next_obs of each
    step) of `steps` uniformly random actions."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        action = rng.integers(0, env.action_space.n, env.n_envs)
        out.append(env.step(action))
    obs, reward, terminated, truncated, next_obs = (list(x) for x in zip(*out, strict=True))
    return np.array(reward), np.array(terminated), np.array(truncated), obs, next_obs


@pytest.mark.parametrize("engine", ENGINES)
def test_observations_are_stacks_of_four_84x84_uint8_frames(engine: str) -> None:
    with make("atari/Breakout", n_envs=2, seed=0, engine=engine) as env:
        assert type(env) is (EnvPoolAtari if engine == "envpool" else AtariVecEnv)
        assert env.observation_space == FRAMES and env.action_space == spaces.Discrete(4)
        assert env.obs_spec.leaf.shape == (4, 84, 84) and env.obs_spec.leaf.dtype == "uint8"
        assert env.max_episode_steps == 27_000  # 108,000 frames
        first = env.reset()
        assert first.shape == (2, 4, 84, 84) and first.dtype == np.uint8
        # a game starts with its first frame four times
        assert (first == first[:, :1]).all()
        reward, terminated, truncated, obs, next_obs = _random_steps(env, 40)
        for o, n in zip(obs, next_obs, strict=True):
            assert o.shape == n.shape == (2, 4, 84, 84) and o.dtype == n.dtype == np.uint8
        assert reward.dtype == np.float32 and terminated.dtype == truncated.dtype == np.bool_
        # each step pushes one new frame in at the end
        for t in range(1, 40):
            same = ~(terminated[t - 1] | truncated[t - 1])
            np.testing.assert_array_equal(next_obs[t][same, :3], obs[t - 1][same, 1:])


@pytest.mark.parametrize("engine", ENGINES)
def test_training_rewards_are_clipped_and_evaluation_scores_raw(engine: str) -> None:
    """Space Invaders pays 5 to 30 points an alien: training sees sign(r), an
    evaluation game (spawn) the points themselves, from the same seed and actions."""
    with make("atari/SpaceInvaders", n_envs=1, seed=3, engine=engine) as env:
        env.reset()
        clipped = _random_steps(env, 200)[0]
        with env.spawn(1, 3) as evaluation:
            assert evaluation.observation_space == FRAMES
            evaluation.reset(seed=3)
            raw = _random_steps(evaluation, 200)[0]
    assert set(np.unique(clipped)) == {0.0, 1.0}
    assert {5.0, 10.0} <= set(np.unique(raw)) and raw.max() > 1.0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_lost_life_ends_a_training_episode_not_an_evaluation_game(engine: str) -> None:
    def first_end(env) -> int:
        env.reset(seed=0)
        terminated, truncated = _random_steps(env, 400)[1:3]
        assert not truncated.any()
        return int(np.flatnonzero(terminated[:, 0])[0])

    with make("atari/Breakout", n_envs=1, seed=0, engine=engine) as env:
        life = first_end(env)
        with env.spawn(1, 0) as evaluation:
            game = first_end(evaluation)  # five lives
    assert 0 < life < game


@pytest.mark.parametrize("engine", ENGINES)
def test_whole_games_are_reported_with_their_raw_scores(engine: str) -> None:
    """The learner's episodes are lives with clipped rewards; `game_scores` has each
    whole game's raw score (Space Invaders: at least 5 points per rewarded step)."""
    with make("atari/SpaceInvaders", n_envs=1, seed=0, engine=engine) as env:
        env.reset()
        rng = np.random.default_rng(0)
        rewarded = lives = steps = 0
        while not env.game_scores.returns:
            _, reward, terminated, _, _ = env.step(rng.integers(0, 6, 1))
            rewarded, lives, steps = (
                rewarded + int(reward[0]),
                lives + int(terminated[0]),
                steps + 1,
            )
            assert steps < 5_000
        game = env.game_scores.pop()
    assert lives == 3  # Space Invaders' three lives, each an episode
    assert game["episodes"] == 1.0 and game["episode_return_sum"] >= 5 * rewarded > 0
    assert steps <= game["episode_length_sum"] <= steps + 3 * 3  # FIRE steps at each reset
    assert env.game_scores.pop()["episodes"] == 0.0


def test_engines_agree_on_shapes_dtypes_rewards_and_score_scale() -> None:
    seen = {}
    for engine in ENGINES:
        with make("atari/Pong", n_envs=2, seed=1, engine=engine) as env:
            first = env.reset()
            reward, terminated, truncated, obs, _ = _random_steps(env, 150)
            seen[engine] = (env.observation_space, env.action_space, first.dtype, obs[-1].shape)
            # Pong: a point lost or won is ±1, as the raw score is; nobody wins in 150 steps
            assert set(np.unique(reward)) <= {-1.0, 0.0, 1.0} and (reward == -1).any()
            assert not (terminated | truncated).any()
    assert seen["ale"] == seen["envpool"] == (FRAMES, spaces.Discrete(6), np.uint8, (2, 4, 84, 84))


def test_record_score_sums_raw_rewards_below_the_clipping() -> None:
    """A stub game paying 4 then 0 then ending: the learner sees 1, the score is 4."""

    class Stub(gymnasium.Env):
        observation_space, action_space = spaces.Box(0, 1, (1,)), spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            self.t = 0
            return np.zeros(1, np.float32), {}

        def step(self, action):
            self.t += 1
            return np.zeros(1, np.float32), [4.0, 0.0][self.t - 1], self.t == 2, False, {}

    scores = GameScores()
    env = gymnasium.wrappers.TransformReward(
        RecordScore(Stub(), scores), lambda r: float(np.sign(r))
    )
    env.reset()
    assert [env.step(0)[1] for _ in range(2)] == [1.0, 0.0]
    assert scores.pop() == {"episodes": 1.0, "episode_return_sum": 4.0, "episode_length_sum": 2.0}


def test_the_loop_logs_reported_games_in_place_of_the_reward_sums() -> None:
    metrics = {
        "episodes": np.array([2.0, 0.0], np.float32),
        "episode_return_sum": np.array([2.0, 0.0], np.float32),
        "loss": np.array([0.5, 0.4], np.float32),
    }
    games = [
        {"episodes": 0.0, "episode_return_sum": 0.0, "episode_length_sum": 0.0},
        {"episodes": 1.0, "episode_return_sum": 21.0, "episode_length_sum": 900.0},
    ]
    logged = with_game_scores(metrics, games)
    np.testing.assert_array_equal(logged["episodes"], [0.0, 1.0])
    np.testing.assert_array_equal(logged["episode_return_sum"], [0.0, 21.0])
    np.testing.assert_array_equal(logged["episode_length_sum"], [0.0, 900.0])
    np.testing.assert_array_equal(logged["loss"], metrics["loss"])
    assert with_game_scores(metrics, []) is metrics


def test_unknown_games_and_options_are_one_line() -> None:
    with pytest.raises(EnvError) as game:
        make("atari/Breakot")
    assert "\n" not in str(game.value) and "atari/Breakout" in str(game.value)
    for options, words in (
        ({"engine": "gpu"}, "engine must be one of ale, envpool"),
        ({"frame_skip": 3}, "unknown option 'frame_skip'"),
        ({"clip_reward": "no"}, "clip_reward must be a bool"),
        ({"repeat_action_probability": 2}, "repeat_action_probability must be in [0, 1]"),
    ):
        with pytest.raises(EnvError, match="atari/Pong") as error:
            make("atari/Pong", **options)
        assert words in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(EnvError, match="no action masks"):
        make("atari/Pong", action_mask="info")
    # the spelling, `--set engine=envpool`, points at the environment's route
    with pytest.raises(ConfigError, match=r"--env-option engine=envpool") as setting:
        make_config("ppo", "atari/Pong", {"engine": "envpool"})
    assert "\n" not in str(setting.value)


def test_the_family_is_listed_and_registered(capsys: pytest.CaptureFixture[str]) -> None:
    assert {"Breakout", "Pong", "SpaceInvaders"} <= set(atari_games())
    assert "atari/Breakout" in list_envs()["atari"]
    assert registered("atari/Pong") and not registered("atari/Pongg")
    assert check_saved_id("atari/Pong", "meta.json") == "atari/Pong"
    assert main(["list"]) == 0
    assert "atari/Breakout" in capsys.readouterr().out


def test_env_options_from_the_cli_are_recorded_and_used_again_by_load(tmp_path: Path) -> None:
    assert _parse_env_options(
        ("engine=envpool", "repeat_action_probability=0.25", "terminal_on_life_loss=false")
    ) == {"engine": "envpool", "repeat_action_probability": 0.25, "terminal_on_life_loss": False}
    # the route, on a small id with options of its own (an Atari agent's network is a CNN)
    agent = ascent.make("ppo", "ascent/Chain-v0", env_options={"length": 5}, n_envs=2, hidden=(8,))
    assert agent.env.length == 5 and agent.meta()["env_options"] == {"length": 5}
    path = agent.save(tmp_path / "saved")
    agent.close()
    loaded = ascent.load(path)
    assert loaded.env.length == 5 and loaded.env_options == {"length": 5}
    loaded.close()
