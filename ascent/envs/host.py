"""The host door: N Gymnasium environments stepped from Python, numpy in and out."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from ascent.envs.quiet import quiet_make
from ascent.envs.watchdog import STEP_TIMEOUT, StepWatchdog
from ascent.errors import EnvError, StepTimeout
from ascent.nn.encoders import MASK_KEY, ObsSpec, is_image
from ascent.nn.heads import ActionSpec, mask_size

# what a step may return without a closer look: observation dtypes, reward and flag types
_OBS_DTYPES = frozenset(np.dtype(t) for t in "bool int8 int16 int32 int64 uint8 uint16 uint32 "
                        "uint64 float16 float32 float64".split())  # fmt: skip
_NUMBERS = frozenset({int, float, np.float16, np.float32, np.float64, np.int8, np.int16,
                      np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64})  # fmt: skip
_FLAGS = frozenset({bool, np.bool_})

# The pip extra that provides each family of Gymnasium environments, by entry-point package.
_EXTRAS = {"box2d": "box2d", "mujoco": "mujoco"}


def _missing_dependency(env_id: str, error: Exception) -> EnvError:
    spec = gymnasium.registry.get(env_id)  # None for an environment given as a function
    entry = str(spec.entry_point) if spec is not None else ""
    extra = next((x for key, x in _EXTRAS.items() if f".{key}." in entry), None)
    fix = f"pip install 'gymnasium[{extra}]'" if extra else "install the package it names"
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return EnvError(f"{env_id} needs an optional dependency ({first}); {fix}")


def object_label(env: Any) -> str:
    """`<name>` for an environment given as an object or function (its spec's id, its
    `env_id`, its name or its class's): what runs record instead of an id."""
    spec = getattr(env, "spec", None)
    name = getattr(spec, "id", None) or getattr(env, "env_id", None)
    if not isinstance(name, str):
        name = getattr(env, "__name__", None) or type(env).__name__
    return f"<{name}>"


def make_each(factory: Callable[[], Any], n_envs: int, first: Any, env_id: str, kind: type
              ) -> list[Any]:  # fmt: skip
    """`n_envs` environments: `first` (one `factory` already returned, or None) and new
    ones from `factory`, each checked to be a `kind`; EnvError naming `env_id` for what
    fails (a missing optional dependency says what to install)."""
    try:
        made = [] if first is None else [first]
        envs = made + [factory() for _ in range(n_envs - len(made))]
    except (gymnasium.error.DependencyNotInstalled, ImportError) as e:
        raise _missing_dependency(env_id, e) from e
    except EnvError:
        raise
    except Exception as e:  # noqa: BLE001 - the environment's own failure, named
        text = str(e).splitlines()[0] if str(e) else ""
        raise EnvError(f"making {env_id} raised {type(e).__name__}: {text}") from e
    for made_env in envs:
        if not isinstance(made_env, kind):
            raise EnvError(f"{env_id} returned a {type(made_env).__name__}, not a "
                           f"{kind.__module__.split('.')[0]}.{kind.__name__}")  # fmt: skip
    return envs


def check_space(env: Any, name: str, env_id: str) -> None:
    """EnvError naming `env_id` unless `env.<name>` is a gymnasium space (a shape, a
    number or nothing in its place fails later, and less clearly)."""
    space = getattr(env, name, None)
    if not isinstance(space, spaces.Space):
        text = " ".join(repr(space).split())[:60]  # one line
        got = "nothing" if space is None else f"{type(space).__name__} {text}"
        raise EnvError(f"{env_id}: {name} must be a gymnasium.spaces.Space, got {got}")


def not_obs_info(result: Any) -> str:
    """What is wrong with a reset() result that is not a 2-tuple (a reset in the old Gym
    API returns the observation alone)."""
    got = type(result).__name__ + (f" of {len(result)}" if isinstance(result, tuple) else "")
    return f"reset must return (obs, info), got {got}"


ActionMaskSource = str | Callable[[Any], Any] | None
"""Where a Gymnasium door's action masks come from besides the observation: "info" or a
function of one observation (None: the observation's own `action_mask` key, if any)."""


def _masked_space(
    env_id: str, space: spaces.Space, action_space: spaces.Space, source: ActionMaskSource
) -> spaces.Dict:
    """The observation space with masks from `source`: {"obs": space, "action_mask":
    MultiBinary(one bit per action)}; EnvError for a source or action space masks do not fit."""
    if source != "info" and not callable(source):
        raise EnvError(
            f"action_mask must be 'info' or a function of an observation, got {source!r}"
        )
    size = mask_size(ActionSpec.of(action_space))
    if size is None:
        raise EnvError(
            f"{env_id}: action masks need Discrete or MultiDiscrete actions, not {action_space}"
        )
    return spaces.Dict({"obs": space, MASK_KEY: spaces.MultiBinary(size)})


def _float32_box(space: spaces.Space) -> spaces.Space:
    # Observations leave the door as float32, so the declared space says so too; images
    # keep their bytes (scaled inside the network, nn/encoders.py)
    if isinstance(space, spaces.Box) and space.dtype != np.float32 and not is_image(space):
        return spaces.Box(
            space.low.astype(np.float32), space.high.astype(np.float32), space.shape, np.float32
        )
    return space


class HostVecEnv:
    """N Gymnasium environments with same-step autoreset.

    `reset(seed) -> obs [N, *obs_shape]`;
    `step(actions) -> (obs, reward [N], terminated [N], truncated [N], next_obs)`.
    `obs` is what to act on next (a new episode's first observation in rows that just
    ended); `next_obs` is the observation each step truly led to. When no row ended,
    `next_obs` is the same array as `obs`: treat both as read-only.

    The N environments are `gymnasium.make(env_id, **make_kwargs)` stepped in turn, as
    Gymnasium's `SyncVectorEnv` with `AutoresetMode.SAME_STEP` would step them (same
    seeds, same episodes), but written straight into new arrays, without its per-step
    bookkeeping, which costs more than the stepping itself (benchmarks/results/design_notes.md).
    """

    action_mask: ActionMaskSource = None  # where masks come from besides the observations

    def __init__(
        self,
        env: str | Callable[[], gymnasium.Env] | gymnasium.Env,
        n_envs: int = 1,
        seed: int = 0,
        *,
        first: gymnasium.Env | None = None,
        step_timeout: float | None = STEP_TIMEOUT,
        action_mask: ActionMaskSource = None,
        **make_kwargs: Any,
    ) -> None:
        """`env` is a Gymnasium id (made with `make_kwargs`), a function returning a new
        environment (called `n_envs` times, or `n_envs - 1` after `first`, one it already
        returned), or one environment object (then `n_envs` must be 1). `action_mask`:
        where the actions allowed at each step come from besides an observation's own
        `action_mask` key: "info" (`info["action_mask"]`, as Taxi-v4 gives it) or a
        function of one observation; each observation is then `{"obs": o,
        "action_mask": mask}` (`with_mask`). A `step()` or
        `reset()` that has not returned after `step_timeout` seconds is interrupted
        (None: never)."""
        if n_envs < 1:
            raise EnvError(f"n_envs must be at least 1, got {n_envs}")
        if isinstance(env, gymnasium.Env):
            if n_envs != 1:
                raise EnvError(
                    f"an environment object is one environment, not n_envs={n_envs}; pass "
                    "a function that returns a new one (e.g. lambda: MyEnv()) for several"
                )
            self.factory: Callable[[], gymnasium.Env] | None = None
            self.env_id = object_label(env)
            self._envs = [env]
        else:
            if isinstance(env, str):
                self.env_id = env
                # Gymnasium's passive checker warns on its first steps; every step is
                # checked here instead (and its wrapper costs each step a call)
                options = {"disable_env_checker": True, **make_kwargs}
                # MuJoCo's deprecation notices are dropped while Ascent builds one (quiet.py)
                factory = functools.partial(quiet_make, env, **options)
            else:
                self.env_id = object_label(env)  # then the first environment's name
                factory = env
            self.factory = factory
            self._envs = make_each(factory, n_envs, first, self.env_id, gymnasium.Env)
            if not isinstance(env, str):
                self.env_id = object_label(self._envs[0])
        self._make_kwargs = make_kwargs
        self._from_id = isinstance(env, str)  # `spawn` makes more from the id
        self._owns = True  # closes its environments (a view for evaluation does not)
        first = self._envs[0]
        check_space(first, "observation_space", self.env_id)
        check_space(first, "action_space", self.env_id)
        self.n_envs = n_envs
        self.seed = seed
        self.observation_space = _float32_box(first.observation_space)
        self.action_mask = action_mask
        if action_mask is not None:
            self.observation_space = _masked_space(
                self.env_id, self.observation_space, first.action_space, action_mask
            )
        try:
            self.obs_spec = ObsSpec.of(self.observation_space)
        except EnvError as e:
            raise EnvError(f"{self.env_id}: {e}") from None
        self.action_space = first.action_space
        self.action_space.seed(seed)
        spec = first.spec
        default_steps = spec.max_episode_steps if spec is not None else None
        self.max_episode_steps: int | None = make_kwargs.get("max_episode_steps", default_steps)
        self._discrete = isinstance(self.action_space, spaces.Discrete)
        # what each environment's step() gets: Python ints for a Discrete (faster than
        # numpy scalars), else one row of the actions as the space's dtype
        self._action_dtype = (
            np.float32 if isinstance(self.action_space, spaces.Box) else self.action_space.dtype
        )
        # an array observation (a Box, or a Discrete's number) is checked by its class,
        # shape and dtype; a Dict's or Tuple's by its spec (`_obs_problem`)
        leaf = self.obs_spec.leaf
        self._one_obs_shape = leaf.shape if leaf is not None else None
        self._obs_dtype = np.dtype(leaf.dtype) if leaf is not None else None
        self._was_reset = False
        self.watchdog = StepWatchdog(self.env_id, step_timeout)

    def spawn(self, n_envs: int, seed: int) -> HostVecEnv:
        """New environments like these (for evaluation): `n_envs` from the id or function.
        An environment given as an object has nothing to make more from: the result steps
        that one environment (closing it leaves it open), and it must be reset after."""
        timeout, cls = self.watchdog.timeout, type(self)  # a PettingZooVecEnv makes its own
        options: dict[str, Any] = {"step_timeout": timeout}
        if self.action_mask is not None:
            options["action_mask"] = self.action_mask
        if self.factory is None:
            view = cls(self._envs[0], 1, seed, **options)
            view._owns = False
            return view
        if self._from_id:
            return cls(self.env_id, n_envs, seed, **options, **self._make_kwargs)
        return cls(self.factory, n_envs, seed, **options)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start every environment; the first reset uses the constructor's seed.

        Environment i is seeded with `seed + i`. Returns obs `[N, *obs_shape]` (float32
        for a Box; a dict or tuple of such arrays for a Dict or Tuple space, as `obs_spec`
        has them).
        """
        if seed is None and not self._was_reset:
            seed = self.seed
        self._was_reset = True
        obs = self._new_obs()
        self.watchdog.enter()
        try:
            for i in range(self.n_envs):
                self.watchdog.at = i
                self._put(obs, i, self._reset(i, None if seed is None else seed + i))
        except StepTimeout as e:
            raise self.watchdog.timed_out(e) from None
        finally:
            self.watchdog.leave()
        return obs

    def reset_one(self, i: int) -> Any:
        """Start a new episode in environment i (one cut short by its caller)."""
        self.watchdog.enter()
        try:
            self.watchdog.at = i
            return self.obs_spec.map(lambda leaf, x: np.asarray(x, leaf.dtype), self._reset(i))
        except StepTimeout as e:
            raise self.watchdog.timed_out(e) from None
        finally:
            self.watchdog.leave()

    def _reset(self, i: int, seed: int | None = None) -> Any:
        try:
            result = self._envs[i].reset(seed=seed)
        except EnvError:
            raise
        except Exception as e:  # noqa: BLE001 - the environment's own failure, named
            raise self._failed(i, "reset()", e) from e
        if not (isinstance(result, tuple) and len(result) == 2):
            raise EnvError(f"{self._where(i)}: {not_obs_info(result)}")
        o = result[0]
        if self.action_mask is not None:
            o = self._with_mask(i, o, result[1])
        if (
            o.__class__ is not np.ndarray
            or o.shape != self._one_obs_shape
            or o.dtype not in _OBS_DTYPES
        ) and (problem := self._obs_problem(o)):
            raise EnvError(f"{self._where(i)} (reset): {problem}")
        return o

    def _with_mask(self, i: int, o: Any, info: Any) -> dict[str, Any]:
        """Observation `o` of environment i with the actions allowed after it, from its
        `info` or the function given as `action_mask`."""
        if self.action_mask == "info":
            if not isinstance(info, dict) or MASK_KEY not in info:
                raise EnvError(f"{self._where(i)}: info has no 'action_mask' (action_mask=info)")
            mask = info[MASK_KEY]
        else:
            try:
                mask = self.action_mask(o)  # type: ignore[misc,operator]
            except Exception as e:  # noqa: BLE001 - the user's function's failure, named
                raise self._failed(i, "action_mask(obs)", e) from e
        return {"obs": o, MASK_KEY: mask}

    # --- what is wrong, in one line ------------------------------------------------

    def _where(self, i: int) -> str:
        return f"environment {i} of {self.env_id} at its step {self.watchdog.steps + 1}"

    def _failed(self, i: int, call: str, error: Exception) -> EnvError:
        text = str(error).splitlines()[0] if str(error) else ""
        return EnvError(f"{self._where(i)}: {call} raised {type(error).__name__}: {text}")

    def _new_obs(self) -> Any:
        """Arrays for one observation of every environment, [N, ...]."""
        if self._one_obs_shape is not None:
            return np.empty((self.n_envs, *self._one_obs_shape), self._obs_dtype)
        return self.obs_spec.zeros((self.n_envs,))

    def _put(self, obs: Any, i: int, o: Any) -> None:
        """Row i of the observations `obs` (arrays [N, ...] as `obs_spec.zeros` makes
        them) set to one environment's observation `o`."""
        if self._one_obs_shape is not None:
            obs[i] = o
        else:
            self.obs_spec.map(lambda leaf, store, x: store.__setitem__(i, x), obs, o)

    def _obs_problem(self, o: Any) -> str | None:
        if self._one_obs_shape is None:  # a Dict's or Tuple's, leaf by leaf
            problem = self.obs_spec.mismatch(o)
            return problem and f"{problem} ({self.observation_space})"
        try:
            arr = np.asarray(o)
        except Exception as e:  # noqa: BLE001 - anything that is not an array
            return f"observation {type(o).__name__} is not an array ({e})"
        space = self.observation_space
        if arr.dtype.kind not in "biuf":
            return f"observation has dtype {arr.dtype}, expected numbers ({space})"
        if arr.shape != self._one_obs_shape:
            return f"observation has shape {arr.shape}, expected {self._one_obs_shape} ({space})"
        return None

    def _problem(self, o: Any, r: Any, te: Any, tr: Any) -> str | None:
        """What is wrong with one step's output that the quick check flagged, or None
        when it is fine after all (a list of numbers, a 0-d array)."""
        problem = self._obs_problem(o)
        if problem is None:
            arr = np.asarray(r)
            if isinstance(r, bool | np.bool_) or arr.shape != () or arr.dtype.kind not in "iuf":
                problem = f"reward {r!r} ({type(r).__name__}) is not a number"
        for name, flag in (("terminated", te), ("truncated", tr)):
            arr = np.asarray(flag)
            if problem is None and not (
                arr.shape == ()
                and (arr.dtype.kind == "b" or arr.dtype.kind in "iu" and flag in (0, 1))
            ):
                problem = f"{name} {flag!r} ({type(flag).__name__}) is not a bool"
        return problem

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step all N environments with `actions` `[N]` (Discrete) or `[N, *act_shape]` (Box).

        Every step's output is checked against the spaces (EnvError naming the
        environment, the step and the quantity), and a step that does not return within
        `watchdog.timeout` seconds is interrupted (StepTimeout)."""
        actions = np.asarray(actions, self._action_dtype)
        n = self.n_envs
        obs = self._new_obs()
        reward = np.empty(n, np.float32)
        terminated = np.empty(n, np.bool_)
        truncated = np.empty(n, np.bool_)
        ended = []  # (row, observation the step led to) of episodes that just ended
        # Python ints step a Discrete environment faster than numpy scalars
        rows = actions.tolist() if self._discrete else actions
        shape, dtypes, numbers, flags = self._one_obs_shape, _OBS_DTYPES, _NUMBERS, _FLAGS
        watchdog = self.watchdog
        watchdog.enter()
        try:
            for i, (env, action) in enumerate(zip(self._envs, rows, strict=True)):
                watchdog.at = i
                try:
                    o, r, te, tr, info = env.step(action)
                except EnvError:
                    raise
                except Exception as e:  # noqa: BLE001 - the environment's own failure, named
                    raise self._failed(i, "step()", e) from e
                if self.action_mask is not None:
                    o = self._with_mask(i, o, info)
                # what a step must give (by the spaces), cheaply; `_problem` says what is off
                if (
                    o.__class__ is not np.ndarray
                    or o.shape != shape
                    or o.dtype not in dtypes
                    or r.__class__ not in numbers
                    or te.__class__ not in flags
                    or tr.__class__ not in flags
                ) and (problem := self._problem(o, r, te, tr)):
                    raise EnvError(f"{self._where(i)}: {problem}")
                reward[i], terminated[i], truncated[i] = r, te, tr
                if te or tr:
                    ended.append((i, o))
                    o = self._reset(i)
                self._put(obs, i, o)
        except StepTimeout as e:
            raise watchdog.timed_out(e) from None
        finally:
            watchdog.leave()
        watchdog.steps += 1
        next_obs = obs
        if ended:
            next_obs = self.obs_spec.map(lambda leaf, x: x.copy(), obs)
            for i, o in ended:
                self._put(next_obs, i, o)
        return obs, reward, terminated, truncated, next_obs

    def close(self) -> None:
        self.watchdog.stop()
        if self._owns:
            for env in self._envs:
                env.close()

    def __enter__(self) -> HostVecEnv:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id!r}, n_envs={self.n_envs})"
