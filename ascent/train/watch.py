"""Watching a policy: episodes recorded as mp4 files, or shown in a window.

A host-side loop of its own, one environment and `Agent.act` at each step, so the
returns `ascent eval` reports stay what `Agent.evaluate` computes. On a Gymnasium id,
episode i starts from seed `seed + i`, as the evaluation's environment i does, so with a
deterministic policy the first (up to 8) episodes filmed are episodes it evaluated.

A Gymnasium id is made again with `render_mode="rgb_array"` inside Gymnasium's
`RecordVideo` (one file per episode, the reset's frame first), or with
`render_mode="human"` for a window. A JAX environment films where it has a
`render(env_state)` of its own returning an image [H, W, 3] of uint8; since `step`
resets inside, the state an episode ends in is gone, and its last frame is the one
before the final step. Both write with imageio-ffmpeg, every frame captured: moviepy
2.2, which `RecordVideo` writes with, can drop an episode's last frame to the float
rounding of its duration (Zulko/moviepy#2507).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from ascent.envs import HostVecEnv, is_multiagent
from ascent.errors import ConfigError, EnvError

if TYPE_CHECKING:
    from ascent.train.agent import Agent


@dataclass(frozen=True)
class Watched:
    """The episodes watched: each one's return and length, and the video files written
    (in episode order; none for a window)."""

    returns: list[float]
    lengths: list[int]
    videos: list[Path]


def record(
    agent: Agent,
    folder: str | Path,
    episodes: int,
    *,
    deterministic: bool = True,
    seed: int | None = None,
) -> Watched:
    """Film `episodes` episodes of `agent`'s policy into `folder`, one mp4 each
    (`<env>-episode-<i>.mp4`). EnvError, in one line, for an environment that cannot
    give frames; ConfigError when the video writer (moviepy) is not installed."""
    folder = Path(folder)
    _check_writer()
    prefix = re.sub(r"[^\w.-]+", "_", agent.env_id).strip("_")  # <env> -> env, a/b -> a_b
    if isinstance(agent.env, HostVecEnv):
        env = _gymnasium_env(agent, "rgb_array")
        with warnings.catch_warnings():  # a folder that exists is the user's choice
            warnings.filterwarnings("ignore", message=".*Overwriting existing videos")
            env = _RecordVideo(env, str(folder), episode_trigger=lambda _: True, name_prefix=prefix)
        returns, lengths = _run_gymnasium(agent, env, episodes, deterministic, seed)
    else:
        returns, lengths = _run_jax(agent, folder, prefix, episodes, deterministic, seed)
    videos = [folder / f"{prefix}-episode-{i}.mp4" for i in range(episodes)]
    return Watched(returns, lengths, videos)


def show(
    agent: Agent, episodes: int, *, deterministic: bool = True, seed: int | None = None
) -> Watched:
    """Play `episodes` episodes in a window (`render_mode="human"`, or Gymnasium's
    `HumanRendering` over an `rgb_array` one). EnvError, in one line, where the
    environment has no way to show itself."""
    if not isinstance(agent.env, HostVecEnv):
        has_frames = callable(getattr(agent.env, "render", None))
        fix = "; record it instead with --video DIR" if has_frames else ""
        raise EnvError(f"{agent.env_id} has no window to show (a JAX environment){fix}")
    env = _gymnasium_env(agent, "human")
    returns, lengths = _run_gymnasium(agent, env, episodes, deterministic, seed)
    return Watched(returns, lengths, [])


def _check_writer() -> None:
    try:
        import imageio_ffmpeg  # noqa: F401
        import moviepy  # noqa: F401 - RecordVideo refuses to start without it
    except ImportError:
        raise ConfigError(
            "recording video needs imageio-ffmpeg and moviepy: pip install 'ascent-rl[video]'"
        ) from None


def write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """Frames [H, W, 3] of uint8 as an H.264 mp4, one video frame each. An odd height or
    width gets one more row or column (a copy of the last): H.264's 4:2:0 needs even."""
    import imageio_ffmpeg

    height, width = frames[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    # macro_block_size=1: no resizing to a multiple of 16 (CartPole's 600 stays 600)
    writer = imageio_ffmpeg.write_frames(
        str(path), (width + width % 2, height + height % 2), fps=fps, macro_block_size=1
    )
    with warnings.catch_warnings():  # ffmpeg starts by fork and exec at once: no threads copied
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
        writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(np.pad(frame, pad, mode="edge")))
    writer.close()


class _RecordVideo(gymnasium.wrappers.RecordVideo):
    """Gymnasium's `RecordVideo` (when to film, what to name the files) writing with
    `write_mp4`, so no frame is lost."""

    def stop_recording(self) -> None:
        if self.recorded_frames:
            name = f"{self._video_name}.mp4"
            write_mp4(Path(self.video_folder) / name, self.recorded_frames, self.frames_per_sec)
        self.recorded_frames = []
        self.recording = False
        self._video_name = None


def render_modes(env_id: str) -> list[str]:
    """The render modes a registered Gymnasium id declares (its class's metadata)."""
    spec = gymnasium.spec(env_id)
    creator = spec.entry_point
    if isinstance(creator, str):
        creator = gymnasium.envs.registration.load_env_creator(creator)
    return list(getattr(creator, "metadata", {}).get("render_modes") or [])


def _gymnasium_env(agent: Agent, mode: str) -> gymnasium.Env:
    """A new environment of `agent`'s Gymnasium id, with its options, rendering as
    `mode`; EnvError naming the modes it has when it cannot."""
    env_id = agent.env_id
    name = env_id.split(":", 1)[-1]  # module:Id was imported when the agent was made
    if is_multiagent(agent.env) or name not in gymnasium.registry:
        raise EnvError(
            f"{env_id} cannot be rendered here: only Gymnasium ids and JAX environments "
            "with a render(env_state) of their own can"
        )
    modes = render_modes(name)
    # a window can show rgb_array frames too (gymnasium.make adds HumanRendering)
    usable = mode in modes or (mode == "human" and "rgb_array" in modes)
    if not usable:
        declared = ", ".join(modes) or "none"
        want = "an rgb_array" if mode == "rgb_array" else "a human or rgb_array"
        raise EnvError(
            f"{env_id} cannot be rendered: it needs {want} render mode (it has: {declared})"
        )
    options = {"disable_env_checker": True, **agent.env_options, "render_mode": mode}
    # no environment here is heard; SDL (pygame) starting its audio on a machine without
    # sound prints a screen of ALSA errors
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    with warnings.catch_warnings():  # the HumanRendering notice: a window is what was asked for
        warnings.filterwarnings("ignore", message=".*HumanRendering")
        return gymnasium.make(env_id, **options)


def _mask(agent: Agent, obs: Any, info: dict[str, Any]) -> Any:
    """The actions allowed now, for an agent whose masks come from `info` or a function."""
    if agent.action_mask is None:
        return None
    return info["action_mask"] if agent.action_mask == "info" else agent.action_mask(obs)


def _eval_seed(agent: Agent, seed: int | None) -> int:
    from ascent.train.agent import EVAL_SEED_OFFSET

    return agent.seed + EVAL_SEED_OFFSET if seed is None else seed


def _run_gymnasium(
    agent: Agent, env: gymnasium.Env, episodes: int, deterministic: bool, seed: int | None
) -> tuple[list[float], list[int]]:
    """Episodes in one Gymnasium environment; closing it writes a recorder's last file."""
    first_seed = _eval_seed(agent, seed)
    returns, lengths = [], []
    try:
        for i in range(episodes):
            obs, info = env.reset(seed=first_seed + i)
            state, start, ret, length, ended = None, True, 0.0, 0, False
            while not ended:
                action, state = agent.act(
                    obs,
                    state,
                    deterministic,
                    episode_start=start,
                    action_mask=_mask(agent, obs, info),
                )
                obs, reward, terminated, truncated, info = env.step(action)
                start, ret, length = False, ret + float(reward), length + 1
                ended = terminated or truncated or length >= agent.evaluator.max_steps
            returns.append(ret)
            lengths.append(length)
    finally:
        env.close()
    return returns, lengths


def _run_jax(
    agent: Agent, folder: Path, prefix: str, episodes: int, deterministic: bool, seed: int | None
) -> tuple[list[float], list[int]]:
    """Episodes of a JAX environment with a `render(env_state)`, one file each."""
    env = agent.env
    render: Callable[[Any], Any] | None = getattr(env, "render", None)
    if is_multiagent(env) or not callable(render):
        raise EnvError(
            f"{agent.env_id} cannot be rendered: a JAX environment needs a render(env_state) "
            "method returning an image [H, W, 3]"
        )
    fps = getattr(env, "metadata", {}).get("render_fps", 30)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    key = jax.random.PRNGKey(_eval_seed(agent, seed))
    returns, lengths = [], []
    for i in range(episodes):
        key, reset_key = jax.random.split(key)
        obs, env_state = reset(reset_key)
        frames = [_frame(render(env_state), agent.env_id)]
        state, start, ret, length, ended = None, True, 0.0, 0, False
        while not ended:
            action, state = agent.act(np.asarray(obs), state, deterministic, episode_start=start)
            key, step_key = jax.random.split(key)
            obs, env_state, reward, terminated, truncated, _ = step(
                step_key, env_state, jnp.asarray(action)
            )
            start, ret, length = False, ret + float(reward), length + 1
            ended = bool(terminated | truncated) or length >= agent.evaluator.max_steps
            if not ended:  # an ended step's state is the next episode's (reset inside step)
                frames.append(_frame(render(env_state), agent.env_id))
        folder.mkdir(parents=True, exist_ok=True)
        write_mp4(folder / f"{prefix}-episode-{i}.mp4", frames, fps)
        returns.append(ret)
        lengths.append(length)
    return returns, lengths


def _frame(image: Any, env_id: str) -> np.ndarray:
    frame = np.asarray(image)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise EnvError(f"{env_id}: render(env_state) must return an image [H, W, 3], got "
                       f"shape {frame.shape}")  # fmt: skip
    return frame.astype(np.uint8)
