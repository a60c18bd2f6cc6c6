"""Atari 2600 games on the Gymnasium door: `atari/<Game>` through ale-py or EnvPool.

The preprocessing is RL-Zoo's (Stable-Baselines3's `AtariWrapper` with `frame_stack: 4`
over `<Game>NoFrameskip-v4`), which follows Machado et al. (2018, "Revisiting the
Arcade Learning Environment") in everything but its two defaults noted below:

| step | ale-py engine: Gymnasium's wrappers and three of SB3's | EnvPool |
|---|---|---|
| emulator | `ALE/<Game>-v5`, frameskip 1, minimal action set | `<Game>-v5` |
| sticky actions | repeat_action_probability 0.0 (RL-Zoo's v4; 0.25: Machado's) | same |
| no-op starts | 1 to 30 no-ops after each reset (`AtariPreprocessing`) | noop_max=30 |
| frames | skip 4, max of the last two, 84×84 grey (INTER_AREA) | the same |
| FIRE on reset | FIRE, then action 2, where the game has FIRE (`FireReset`) | use_fire_reset |
| life loss | ends a training episode, not the game (`EpisodicLife`) | episodic_life |
| rewards | sign(r) in training (`TransformReward`) | reward_clip |
| frame stack | 4, channels first, (4, 84, 84) uint8; at reset, the frame ×4 | stack_num=4 |
| time limit | 108,000 frames (27,000 steps; ALE v5's) | max_episode_steps |

Evaluation environments (`spawn`) play whole games with raw scores: no clipping and no
life-loss terminal. Training logs raw scores too, as RL-Zoo's `Monitor` under its
wrappers does: each environment reports the raw score and length of every whole game
it ends to `game_scores`, and the Gymnasium door's loops log those as `episode_return`
and `episode_length` in place of the sums of the clipped rewards per life the learner
sees. ale-py (with its ROMs), OpenCV and EnvPool come with `pip install 'ascent-rl[atari]'`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from ascent.envs.host import HostVecEnv
from ascent.envs.watchdog import STEP_TIMEOUT, StepWatchdog
from ascent.errors import EnvError, StepTimeout
from ascent.nn.encoders import ObsSpec

PREFIX = "atari/"
ENGINES = ("ale", "envpool")
MAX_FRAMES = 108_000  # ALE v5's limit per game: 30 minutes at 60 frames a second
FRAME_SKIP = 4
SHOWN = ("BeamRider", "Breakout", "Enduro", "Pong", "Qbert", "Seaquest", "SpaceInvaders")
"""The seven games of Mnih et al. (2013), as `ascent list` shows the family."""
_INSTALL = "pip install 'ascent-rl[atari]'"


@dataclass(frozen=True)
class AtariOptions:
    """An `atari/<Game>` environment's options (`ascent.envs.make(..., **options)`, the
    CLI's `--env-option name=value`), recorded with a run."""

    engine: str = "ale"
    """ale: ale-py games stepped in turn through Gymnasium's wrappers; envpool: EnvPool's
    threads in C++, the same preprocessing."""
    repeat_action_probability: float = 0.0
    """Sticky actions: the chance the emulator repeats the last action each frame. 0.0 as
    RL-Zoo's NoFrameskip-v4 games; 0.25 is Machado et al.'s recommendation (ALE v5's)."""
    terminal_on_life_loss: bool = True
    """Training episodes end at each lost life (the game goes on), as RL-Zoo's default."""
    clip_reward: bool = True
    """Training rewards are sign(r); evaluation's and the logged scores are raw."""
    noop_max: int = 30
    """Up to this many no-op actions after each reset (a random number from 1)."""
    full_action_space: bool = False
    """All 18 actions instead of the game's minimal set."""

    @classmethod
    def of(cls, env_id: str, options: dict[str, Any]) -> AtariOptions:
        """The options given for `env_id`; EnvError in one line for an unknown name or a
        value of the wrong kind."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - set(fields))
        if unknown:
            raise EnvError(f"{env_id}: unknown option {unknown[0]!r}; known: {', '.join(fields)}")
        for name, value in options.items():
            kind = type(getattr(cls, name))
            ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                ok, options = True, {**options, name: float(value)}
            if not ok:
                raise EnvError(f"{env_id}: option {name} must be a {kind.__name__}, got {value!r}")
        made = cls(**options)
        if made.engine not in ENGINES:
            known = ", ".join(ENGINES)
            raise EnvError(f"{env_id}: engine must be one of {known}, got {made.engine!r}")
        if not 0.0 <= made.repeat_action_probability <= 1.0 or made.noop_max < 0:
            raise EnvError(
                f"{env_id}: repeat_action_probability must be in [0, 1] and noop_max >= 0, "
                f"got {made.repeat_action_probability} and {made.noop_max}"
            )
        return made

    def for_evaluation(self) -> AtariOptions:
        """Whole games with raw scores."""
        return dataclasses.replace(self, clip_reward=False, terminal_on_life_loss=False)


class GameScores:
    """The raw score and length (agent steps) of each whole game the environments ended
    since the last `pop`: what the loops log as episode returns (RL-Zoo's Monitor)."""

    def __init__(self) -> None:
        self.returns: list[float] = []
        self.lengths: list[int] = []

    def add(self, score: float, length: int) -> None:
        self.returns.append(float(score))
        self.lengths.append(int(length))

    def pop(self) -> dict[str, float]:
        """The games since the last call, as `track_episodes` sums them."""
        stats = {
            "episodes": float(len(self.returns)),
            "episode_return_sum": float(sum(self.returns)),
            "episode_length_sum": float(sum(self.lengths)),
        }
        self.returns, self.lengths = [], []
        return stats


def _import_ale() -> Any:
    try:
        import ale_py
        import cv2  # noqa: F401 - AtariPreprocessing's resize
    except ImportError as e:
        missing = f"{e.name} is missing"
        raise EnvError(f"Atari games need ale-py and OpenCV ({missing}): {_INSTALL}") from None
    gymnasium.register_envs(ale_py)
    return ale_py


@functools.cache
def atari_games() -> tuple[str, ...]:
    """Every game ale-py has a ROM for, by its Gymnasium name (`SpaceInvaders`)."""
    _import_ale()
    ids = (k for k in gymnasium.registry if k.startswith("ALE/") and k.endswith("-v5"))
    return tuple(sorted(k.removeprefix("ALE/").removesuffix("-v5") for k in ids))


def atari_game(env_id: str) -> str:
    """The game `atari/<Game>` names; EnvError in one line with the close names."""
    game = env_id.removeprefix(PREFIX)
    games = atari_games()
    if game not in games:
        close = difflib.get_close_matches(game, games, n=3, cutoff=0.5)
        hint = f"; close: {', '.join(PREFIX + g for g in close)}" if close else ""
        raise EnvError(f"unknown Atari game '{env_id}' ({len(games)} in ale-py{hint})")
    return game


# --- the ale-py engine: Gymnasium's wrappers, and three of RL-Zoo's ---------------------


class RecordScore(gymnasium.Wrapper):
    """Reports each whole game's raw score and length to `scores`; below the life-loss
    and clipping wrappers, as RL-Zoo's Monitor is."""

    def __init__(self, env: gymnasium.Env, scores: GameScores) -> None:
        super().__init__(env)
        self.scores, self.score, self.length = scores, 0.0, 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        self.score, self.length = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.score += float(reward)
        self.length += 1
        if terminated or truncated:
            self.scores.add(self.score, self.length)
        return obs, reward, terminated, truncated, info


class EpisodicLife(gymnasium.Wrapper):
    """A lost life ends the episode but not the game: the next reset steps a no-op
    instead of restarting (Mnih et al. 2015; SB3's EpisodicLifeEnv). Gymnasium's
    `terminal_on_life_loss` restarts the whole game instead."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.lives, self.game_over = 0, True

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = self.env.unwrapped.ale.lives()
        terminated = terminated or 0 < lives < self.lives
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        if self.game_over:
            obs, info = self.env.reset(**kwargs)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        self.lives = self.env.unwrapped.ale.lives()
        return obs, info


class FireReset(gymnasium.Wrapper):
    """FIRE, then action 2, after each reset, for games that wait for FIRE to start
    (SB3's FireResetEnv; with `EpisodicLife`, after each lost life too)."""

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        for action in (1, 2):
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        return obs, info


def ale_game(game: str, options: AtariOptions, scores: GameScores) -> gymnasium.Env:
    """One preprocessed game (the table in this module's docstring), observations
    (4, 84, 84) uint8."""
    _import_ale()
    env = gymnasium.make(
        f"ALE/{game}-v5",
        # each frame's observation is dropped (AtariPreprocessing reads the screens it
        # keeps from the emulator): grey ones cost a third of RGB's copy (4.6 -> 4.4 ms a
        # step of 8 games, the same frames)
        obs_type="grayscale",
        frameskip=1,
        repeat_action_probability=options.repeat_action_probability,
        full_action_space=options.full_action_space,
        max_num_frames_per_episode=MAX_FRAMES,
        disable_env_checker=True,
    )
    env = gymnasium.wrappers.AtariPreprocessing(
        env, noop_max=options.noop_max, frame_skip=FRAME_SKIP, screen_size=84
    )
    env = RecordScore(env, scores)
    if options.terminal_on_life_loss:
        env = EpisodicLife(env)
    if "FIRE" in env.unwrapped.get_action_meanings():
        env = FireReset(env)
    if options.clip_reward:
        env = gymnasium.wrappers.TransformReward(env, lambda r: float(np.sign(r)))
    return gymnasium.wrappers.FrameStackObservation(env, 4)


class AtariVecEnv(HostVecEnv):
    """`n_envs` ale-py games (`ale_game`) stepped in turn by the Gymnasium door;
    `spawn` makes evaluation games."""

    def __init__(
        self,
        env_id: str,
        n_envs: int = 1,
        seed: int = 0,
        *,
        step_timeout: float | None = STEP_TIMEOUT,
        evaluation: bool = False,
        **options: Any,
    ) -> None:
        game = atari_game(env_id)
        self.options = AtariOptions.of(env_id, options)
        self.evaluation = evaluation
        self.game_scores = GameScores()
        played = self.options.for_evaluation() if evaluation else self.options
        factory = functools.partial(ale_game, game, played, self.game_scores)
        factory.env_id = env_id  # type: ignore[attr-defined] - the name errors give
        super().__init__(factory, n_envs, seed, step_timeout=step_timeout)
        self.env_id = self.watchdog.label = env_id
        self._atari_options = options
        self.max_episode_steps = MAX_FRAMES // FRAME_SKIP

    def spawn(self, n_envs: int, seed: int) -> HostVecEnv:
        timeout = self.watchdog.timeout
        return type(self)(self.env_id, n_envs, seed, step_timeout=timeout, evaluation=True,
                          **self._atari_options)  # fmt: skip


# --- the EnvPool engine -----------------------------------------------------------------


class EnvPoolAtari(HostVecEnv):
    """`n_envs` games in one EnvPool (threads in C++), configured as `ale_game`, seen by
    the loops as a `HostVecEnv`: same-step autoreset, `next_obs` holding each ended
    episode's real last observation, raw game scores in `game_scores`.

    EnvPool resets an ended environment at the step after (its next-step autoreset);
    here the rows that ended are stepped once more at once, alone (`env_id`), which is
    that reset: a lost life goes on with the same game, as `EpisodicLife` does."""

    def __init__(
        self,
        env_id: str,
        n_envs: int = 1,
        seed: int = 0,
        *,
        step_timeout: float | None = STEP_TIMEOUT,
        evaluation: bool = False,
        **options: Any,
    ) -> None:
        if n_envs < 1:
            raise EnvError(f"n_envs must be at least 1, got {n_envs}")
        game = atari_game(env_id)
        self.options = AtariOptions.of(env_id, options)
        try:
            import envpool
        except ImportError:
            raise EnvError(f"engine=envpool needs EnvPool: {_INSTALL}") from None
        played = self.options.for_evaluation() if evaluation else self.options
        try:
            self._pool = envpool.make_gymnasium(
                f"{game}-v5",
                num_envs=n_envs,
                seed=seed,
                episodic_life=played.terminal_on_life_loss,
                reward_clip=played.clip_reward,
                noop_max=played.noop_max,
                repeat_action_probability=played.repeat_action_probability,
                full_action_space=played.full_action_space,
                stack_num=4,
                frame_skip=FRAME_SKIP,
                img_height=84,
                img_width=84,
                gray_scale=True,
                use_fire_reset=True,
                max_episode_steps=MAX_FRAMES // FRAME_SKIP,
            )
        except Exception as e:  # noqa: BLE001 - EnvPool's own failure, named
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise EnvError(f"EnvPool cannot make {env_id} ({game}-v5): {first}") from None
        self.env_id, self.n_envs, self.seed = env_id, n_envs, seed
        self.evaluation = evaluation
        self.factory = None
        self._atari_options = options
        self._owns = True
        self.action_mask = None
        self.observation_space = spaces.Box(0, 255, (4, 84, 84), np.uint8)
        self.obs_spec = ObsSpec.of(self.observation_space)
        self.action_space = spaces.Discrete(int(self._pool.action_space.n))
        self.action_space.seed(seed)
        self.max_episode_steps = MAX_FRAMES // FRAME_SKIP
        self.watchdog = StepWatchdog(env_id, step_timeout)
        self.game_scores = GameScores()
        self._rows = np.arange(n_envs, dtype=np.int32)
        self._score = np.zeros(n_envs, np.float64)
        self._length = np.zeros(n_envs, np.int64)
        self._was_reset = False

    def spawn(self, n_envs: int, seed: int) -> HostVecEnv:
        timeout = self.watchdog.timeout
        return type(self)(self.env_id, n_envs, seed, step_timeout=timeout, evaluation=True,
                          **self._atari_options)  # fmt: skip

    def _call(self, fn: Any, *args: Any) -> tuple:
        """One call into the pool, watched; its results in the order of their `env_id`."""
        self.watchdog.enter()
        try:
            out = fn(*args)
        except StepTimeout as e:
            raise self.watchdog.timed_out(e) from None
        finally:
            self.watchdog.leave()
        ids = out[-1]["env_id"]
        return out if np.all(ids[1:] > ids[:-1]) else self._sorted(out, np.argsort(ids))

    @staticmethod
    def _sorted(out: tuple, order: np.ndarray) -> tuple:
        info = {k: v[order] for k, v in out[-1].items() if isinstance(v, np.ndarray)}
        return (*(x[order] for x in out[:-1]), info)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start every game. EnvPool seeds its games once, when it is made (with the
        constructor's seed); `seed` is accepted for the door's signature."""
        self._was_reset = True
        self._score[:], self._length[:] = 0.0, 0
        obs, _ = self._call(self._pool.reset)
        return obs

    def reset_one(self, i: int) -> np.ndarray:
        """Start a new game in environment i (one cut short by its caller)."""
        self._score[i], self._length[i] = 0.0, 0
        obs, _ = self._call(self._pool.reset, np.array([i], np.int32))
        return obs[0]

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """As `HostVecEnv.step`: (obs, reward [N], terminated [N], truncated [N], next_obs)."""
        actions = np.asarray(actions, np.int32)
        next_obs, reward, terminated, truncated, info = self._call(
            self._pool.step, actions, self._rows
        )
        self.watchdog.steps += 1
        terminated, truncated = terminated.astype(bool), truncated.astype(bool)
        self._score += info["reward"]  # raw, before `reward_clip`
        self._length += 1
        for i in np.flatnonzero(info["terminated"].astype(bool) | truncated):  # game over
            self.game_scores.add(self._score[i], self._length[i])
            self._score[i], self._length[i] = 0.0, 0
        ended = np.flatnonzero(terminated | truncated).astype(np.int32)
        obs = next_obs
        if ended.size:
            obs = next_obs.copy()
            first, *_, after = self._call(self._pool.step, np.zeros(ended.size, np.int32), ended)
            obs[ended] = first
            self._score[ended] += after["reward"]
        return obs, reward.astype(np.float32), terminated, truncated, next_obs

    def close(self) -> None:
        self.watchdog.stop()
        if self._owns:
            self._pool.close()


def make_atari(
    env_id: str,
    n_envs: int = 1,
    seed: int = 0,
    *,
    step_timeout: float | None = STEP_TIMEOUT,
    **options: Any,
) -> AtariVecEnv | EnvPoolAtari:
    """`atari/<Game>` on the engine `options["engine"]` names (ale by default)."""
    engine = AtariOptions.of(env_id, options).engine
    cls = EnvPoolAtari if engine == "envpool" else AtariVecEnv
    return cls(env_id, n_envs, seed, step_timeout=step_timeout, **options)
