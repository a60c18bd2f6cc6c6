"""Watching an agent (issue 31): `ascent eval RUN --video DIR` films one mp4 per episode,
`--render` asks for a window, and an environment that cannot do either says so in one
line; the returns printed stay the evaluation's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import imageio.v3 as iio
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.cli import main
from ascent.envs.tasks import Chain
from ascent.envs.tasks.chain import ChainState
from ascent.train.watch import record, write_mp4

# imageio reads the files back with an ffmpeg it starts by fork and exec (no threads copied)
pytestmark = pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called")

TINY = [
    "--seed", "3", "--total-steps", "256", "--no-progress", "--eval-episodes", "2",
    "--set", "hidden=16", "--set", "n_envs=4", "--set", "n_steps=16",
    "--set", "minibatch_size=32", "--set", "n_epochs=2",
]  # fmt: skip


class Cart(gymnasium.Env):
    """CartPole's spaces, one step long, rendering as `render_modes` allows; each instance
    remembers the mode it was made with and how often `render` ran."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)
    made: ClassVar[list[Cart]] = []

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode, self.renders = render_mode, 0
        Cart.made.append(self)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self.render_mode == "human":
            self.render()
        return np.zeros(4, np.float32), 1.0, True, False, {}

    def render(self) -> None:
        self.renders += 1


class WindowCart(Cart):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human"]}


gymnasium.register("WatchTest/NoRender-v0", entry_point=Cart)
gymnasium.register("WatchTest/Window-v0", entry_point=WindowCart)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("watch") / "run"
    assert main(["train", "ppo", "--env", "CartPole-v1", *TINY, "--run-dir", str(folder)]) == 0
    return folder


def test_video_writes_one_mp4_per_episode_of_the_evaluated_length(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    assert main(["eval", str(run), "--video", str(videos), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    files = sorted(videos.glob("*.mp4"))
    assert [Path(p) for p in result["videos"]] == files and len(files) == 2
    frames = []
    for path in files:
        assert path.stat().st_size > 0
        video = iio.imread(path)  # [frames, H, W, 3], read back by imageio-ffmpeg
        assert video.shape[1:] == (400, 600, 3)  # CartPole's 600 x 400 screen
        frames.append(len(video))
    # the reset's frame and one per step; with a deterministic policy, episode i films
    # the evaluation's environment i, so the lengths are the evaluated ones
    assert sorted(n - 1 for n in frames) == sorted(result["lengths"])


def test_an_environment_without_frames_says_so_in_one_line(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", str(run), "--env", "WatchTest/NoRender-v0", "--episodes", "1"]
    assert main([*args, "--video", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "rgb_array render mode" in err and "has: none" in err
    assert not (tmp_path / "v").exists()
    assert main([*args, "--render"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "human or rgb_array render mode" in err


def test_render_asks_the_environment_for_a_window(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Cart.made.clear()
    args = ["eval", str(run), "--env", "WatchTest/Window-v0", "--episodes", "3", "--render"]
    assert main(args) == 0
    shown = [env for env in Cart.made if env.render_mode == "human"]
    assert len(shown) == 1 and shown[0].renders == 3  # three one-step episodes, each drawn
    assert "mean return 1.00" in capsys.readouterr().out


@dataclass(frozen=True)
class DrawnChain(Chain):
    """Chain with a `render` of its own: the corridor as a strip, the agent's cell white."""

    env_id: str = "<DrawnChain>"

    def render(self, state: ChainState) -> jax.Array:
        cells = jax.nn.one_hot(state.position, self.length, dtype=jnp.uint8) * 255
        strip = jnp.repeat(jnp.repeat(cells, 16)[None, :], 16, axis=0)  # [16, 16 * length]
        return jnp.stack([strip] * 3, axis=-1)


def test_a_jax_task_films_with_its_own_render(tmp_path: Path) -> None:
    agent = ascent.make(
        "ppo", DrawnChain(max_episode_steps=12), hidden=(16,), n_envs=4, n_steps=16,
        minibatch_size=32, n_epochs=2,
    )  # fmt: skip
    watched = record(agent, tmp_path, 2)
    assert [p.name for p in watched.videos] == ["DrawnChain-episode-0.mp4",
                                                "DrawnChain-episode-1.mp4"]  # fmt: skip
    for path, length in zip(watched.videos, watched.lengths, strict=True):
        video = iio.imread(path)
        # the reset's frame and each step's but the last (its state is the next episode's)
        assert video.shape == (length, 16, 16 * 8, 3)
        first = video[0].mean(axis=(0, 2))  # brightness along the corridor
        assert first[:16].mean() > 200 and first[16:].max() < 50  # the agent starts in cell 0


@pytest.mark.parametrize("count", [12, 13, 91])  # moviepy 2.2 writes 11, 12 and 90 at 30 fps
def test_every_frame_is_written_and_an_odd_size_is_made_even(tmp_path: Path, count: int) -> None:
    frames = [np.full((15, 20, 3), 2 * i, np.uint8) for i in range(count)]
    write_mp4(tmp_path / "v.mp4", frames, fps=30)
    video = iio.imread(tmp_path / "v.mp4")
    assert video.shape == (count, 16, 20, 3)
    assert np.abs(video[:, 8, 10, 0].astype(int) - [2 * i for i in range(count)]).max() <= 3
