"""The host door for several agents: N PettingZoo Parallel environments stepped from
Python, numpy in and out, agents the second axis (`[N, A, ...]`).

Agents with smaller spaces are padded to the largest, as on the JAX door
(`ascent.envs.multiagent`): observations with zeros, actions with choices the action
mask forbids. An agent that has left its episode (or not joined it yet) is an inactive
slot: zero observation, reward 0, its action ignored. A slot is active in an
observation where its agent acts next: in `env.agents` after the step; in the final
observation of an episode (`next_obs` of a row that ended), where the agent took part
in the final step, so a truncated team can bootstrap from it. An agent leaving before
the others therefore reads as its own termination. An observation given for an agent
that is not taking part (one that has left: PettingZoo allows extra keys) is ignored,
the slot stays inactive; an agent whose episode ended but that stays in `env.agents`
is refused in one line (PettingZoo's API test refuses it too).

PettingZoo and mpe2 are optional (`pip install 'ascent-rl[marl]'`): nothing here
imports them until an environment is made.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from ascent.envs.host import (
    _FLAGS,
    _NUMBERS,
    _OBS_DTYPES,
    HostVecEnv,
    make_each,
    not_obs_info,
    object_label,
)
from ascent.envs.multiagent import AgentObs, padded_box
from ascent.envs.watchdog import STEP_TIMEOUT, StepWatchdog
from ascent.errors import EnvError, StepTimeout

MPE2_ENVS = (
    "collect_treasure_v1",
    "simple_v3",
    "simple_adversary_v3",
    "simple_crypto_v3",
    "simple_formation_v1",
    "simple_line_v1",
    "simple_push_v3",
    "simple_reference_v3",
    "simple_speaker_listener_v4",
    "simple_spread_v3",
    "simple_tag_v3",
    "simple_world_comm_v3",
)
"""mpe2's environments (mpe2 1.1, `mpe2.all_modules`), made from `mpe2/<name>`."""

_INSTALL = "pip install 'ascent-rl[marl]'"


def _parallel_env_class() -> type:
    try:
        from pettingzoo import ParallelEnv
    except ImportError:
        raise EnvError(f"PettingZoo environments need pettingzoo: {_INSTALL}") from None
    return ParallelEnv


def is_parallel_env(env: object) -> bool:
    """True for a `pettingzoo.ParallelEnv` object (False, importing nothing, when
    PettingZoo was never imported: then `env` cannot be one)."""
    module = sys.modules.get("pettingzoo")
    return module is not None and isinstance(env, module.ParallelEnv)


def mpe2_factory(env_id: str, make_kwargs: dict[str, Any]) -> Callable[[], Any]:
    """The function making `mpe2/<name>` with `make_kwargs` (discrete actions unless
    told otherwise); EnvError for a name mpe2 does not have or a missing mpe2."""
    name = env_id.removeprefix("mpe2/")
    if name not in MPE2_ENVS:
        close = difflib.get_close_matches(name, MPE2_ENVS, n=1)
        hint = f"did you mean 'mpe2/{close[0]}'? " if close else ""
        raise EnvError(f"unknown mpe2 environment '{env_id}'; {hint}known: {', '.join(MPE2_ENVS)}")
    try:
        module = importlib.import_module(f"mpe2.{name}")
    except ImportError as e:
        raise EnvError(f"{env_id} needs mpe2 and pettingzoo ({e}): {_INSTALL}") from None
    return functools.partial(module.parallel_env, **{"continuous_actions": False, **make_kwargs})


def _label(env: Any) -> str:
    """`<name>` of an environment object (its metadata's name) or function."""
    metadata = getattr(env, "metadata", None)
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"<{name}>" if isinstance(name, str) else object_label(env)


class _Slot:
    """One agent's place on the agents axis and what its observations look like."""

    __slots__ = ("index", "name", "shape", "dim", "flat", "dict_obs", "n", "state_at")

    def __init__(self, index: int, name: str, env: Any, env_id: str) -> None:
        self.index, self.name = index, name
        space = env.observation_space(name)
        # PettingZoo's convention for masked actions: {"observation", "action_mask"}
        self.dict_obs = isinstance(space, spaces.Dict) and "observation" in space.spaces
        if self.dict_obs:
            space = space["observation"]
        if not isinstance(space, spaces.Box):
            raise EnvError(f"{env_id}: agent '{name}' observes a {space}; Ascent supports Box "
                           "observations (or a dict of one with an action_mask)")  # fmt: skip
        self.shape = tuple(space.shape)
        self.dim = int(np.prod(self.shape))
        self.flat = len(self.shape) != 1  # stored flattened on the agents' padded axis
        action = env.action_space(name)
        if isinstance(action, spaces.Box):
            raise EnvError(f"{env_id}: agent '{name}' has continuous actions ({action}); "
                           "only Discrete ones (mpe2: continuous_actions=False)")  # fmt: skip
        if not isinstance(action, spaces.Discrete) or int(action.start) != 0:
            raise EnvError(f"{env_id}: agent '{name}' has actions {action}; Ascent supports "
                           "Discrete(n) actions starting at 0")  # fmt: skip
        self.n = int(action.n)
        self.state_at: tuple[int, int] | None = None  # its slice of an mpe2 state


class PettingZooVecEnv(HostVecEnv):
    """N PettingZoo Parallel environments with same-step autoreset, several agents each.

    `reset(seed) -> AgentObs` with obs `[N, A, obs_dim]` float32, global_state `[N, S]`
    float32, action_mask `[N, A, n_actions]` bool, active `[N, A]` bool;
    `step(actions [N, A]) -> (obs, rewards [N, A], terminated [N], truncated [N],
    next_obs)`, `obs` and `next_obs` AgentObs as `obs` and `next_obs` of
    `HostVecEnv.step`. The team's flags: an episode ends when no agent is left or every
    agent is done; it is terminated when every agent of its last step terminated, and
    truncated otherwise. Outputs are checked every step as HostVecEnv checks them, and a
    step that hangs is interrupted by the watchdog.
    """

    def __init__(
        self,
        env: str | Callable[[], Any] | Any,
        n_envs: int = 1,
        seed: int = 0,
        *,
        first: Any | None = None,
        step_timeout: float | None = STEP_TIMEOUT,
        **make_kwargs: Any,
    ) -> None:
        """`env` is an id `mpe2/<name>` (made with `make_kwargs`, discrete actions by
        default), a function returning a new `pettingzoo.ParallelEnv` (called `n_envs`
        times, or `n_envs - 1` after `first`, one it already returned), or one
        ParallelEnv object (then `n_envs` must be 1). A `step()` or `reset()` that has not
        returned after `step_timeout` seconds is interrupted (None: never)."""
        if n_envs < 1:
            raise EnvError(f"n_envs must be at least 1, got {n_envs}")
        if isinstance(env, str):
            if not env.startswith("mpe2/"):
                raise EnvError(f"PettingZooVecEnv makes mpe2/<name> ids, got '{env}'; pass "
                               "other PettingZoo environments as a function")  # fmt: skip
            self.env_id = env
            factory: Callable[[], Any] | None = mpe2_factory(env, make_kwargs)
            parallel_env = _parallel_env_class()
        else:
            parallel_env = _parallel_env_class()
            if make_kwargs:
                raise EnvError(f"options {sorted(make_kwargs)} apply to mpe2 ids only")
            factory = None if isinstance(env, parallel_env) else env
            if factory is None and n_envs != 1:
                raise EnvError(
                    f"an environment object is one environment, not n_envs={n_envs}; pass "
                    "a function that returns a new one (e.g. lambda: MyEnv()) for several"
                )
            self.env_id = _label(env)
        self.factory = factory
        if factory is None:
            self._envs = [env]
        else:
            self._envs = make_each(factory, n_envs, first, self.env_id, parallel_env)
            if not isinstance(env, str):
                self.env_id = _label(self._envs[0])
        self._make_kwargs = make_kwargs
        self._from_id = isinstance(env, str)  # `spawn` makes more from the id
        self._owns = True  # closes its environments (a view for evaluation does not)
        self.n_envs, self.seed = n_envs, seed
        self._was_reset = False
        self.watchdog = StepWatchdog(self.env_id, step_timeout)
        self._layout(self._envs[0])

    def _layout(self, env: Any) -> None:
        """Spaces and padding from the first environment's agents."""
        self.agents: tuple[str, ...] = tuple(env.possible_agents)
        if not self.agents:
            raise EnvError(f"{self.env_id} has no possible_agents")
        self._slots = {name: _Slot(a, name, env, self.env_id) for a, name in enumerate(self.agents)}
        slots = list(self._slots.values())
        n_agents, dim = len(slots), max(s.dim for s in slots)
        n_actions = max(s.n for s in slots)
        bounds = []
        for s in slots:
            space = env.observation_space(s.name)
            space = space["observation"] if s.dict_obs else space
            bounds.append((np.asarray(space.low), np.asarray(space.high)))
        self.observation_space = padded_box(bounds)
        self.action_space = spaces.Discrete(n_actions)
        self.action_space.seed(self.seed)
        self._pad_mask = np.arange(n_actions) < np.array([s.n for s in slots])[:, None]  # [A, n]
        self._obs_dim, self._n_actions = dim, n_actions
        steps = getattr(getattr(env, "unwrapped", env), "max_cycles", None)
        self.max_episode_steps: int | None = steps if isinstance(steps, int) else None
        self._state_mode = self._state_source(env)
        # what the agents may do next, by environment: [N, A] and [N, A, n]
        self._active = np.zeros((self.n_envs, n_agents), bool)
        self._mask = np.repeat(self._pad_mask[None], self.n_envs, 0)

    def _state_source(self, env: Any) -> str:
        """How the global state is read, with `state_space`: "joined" (the padded
        observations side by side, for an environment without a state), "state" (the
        environment's own `state()`), or "mpe2" (mpe2's `state()`, which is its agents'
        unpadded observations side by side: joined from the observations the step
        returned, not computed again, which would cost a third of a step)."""
        space = getattr(env, "state_space", None)
        base_state = _parallel_env_class().state  # raises NotImplementedError
        if not isinstance(space, spaces.Box) or getattr(type(env), "state", None) is base_state:
            self.state_space = spaces.Box(-np.inf, np.inf, (len(self.agents) * self._obs_dim,),
                                          np.float32)  # fmt: skip
            return "joined"
        shape = (int(np.prod(space.shape)),)
        self.state_space = spaces.Box(np.asarray(space.low, np.float32).reshape(-1),
                                      np.asarray(space.high, np.float32).reshape(-1), shape,
                                      np.float32)  # fmt: skip
        own_state = getattr(type(getattr(env, "unwrapped", env)), "state", None)
        wrapper_state = getattr(type(env), "state", None)
        if (
            getattr(own_state, "__qualname__", "") == "SimpleEnv.state"
            and getattr(own_state, "__module__", "") == "mpe2._mpe_utils.simple_env"
            and getattr(wrapper_state, "__module__", "") == "pettingzoo.utils.conversions"
            and sum(s.dim for s in self._slots.values()) == shape[0]
        ):
            start = 0
            for s in self._slots.values():  # possible_agents' order, as mpe2's state()
                s.state_at, start = (start, start + s.dim), start + s.dim
            return "mpe2"
        return "state"

    def _arrays(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Empty (obs, global_state, action_mask, active) for `n` environments: zero
        observations, padding masks, no agent active."""
        obs = np.zeros((n, len(self.agents), self._obs_dim), np.float32)
        if self._state_mode == "joined":
            state = obs.reshape(n, -1)  # a view: written with the observations
        else:
            state = np.zeros((n, self.state_space.shape[0]), np.float32)
        mask = np.repeat(self._pad_mask[None], n, 0)
        return obs, state, mask, np.zeros((n, len(self.agents)), bool)

    def _write(
        self,
        i: int,
        env: Any,
        names: Any,
        observations: dict[str, Any],
        infos: dict[str, Any],
        out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        row: int,
        call: str,
    ) -> None:
        """Environment i's observations of agents `names` into row `row` of `out`."""
        obs, state, mask, active = out
        slots = self._slots
        for name in names:
            slot = slots.get(name)
            if slot is None:
                raise EnvError(f"{self._where(i)}: {call} returned agent '{name}', which is "
                               f"not one of possible_agents {list(self.agents)}")  # fmt: skip
            try:
                o = observations[name]
            except KeyError:
                raise EnvError(f"{self._where(i)}: {call} returned no observation for agent "
                               f"'{name}'") from None  # fmt: skip
            a = slot.index
            given = None
            if slot.dict_obs:
                if not isinstance(o, dict) or "observation" not in o:
                    kind = type(o).__name__
                    raise EnvError(f"{self._where(i)}: {call}: agent '{name}''s observation is "
                                   f"a {kind}, expected a dict with 'observation'")  # fmt: skip
                given = o.get("action_mask")
                o = o["observation"]
            if (
                o.__class__ is not np.ndarray or o.shape != slot.shape or o.dtype not in _OBS_DTYPES
            ) and (problem := self._agent_obs_problem(o, slot)):
                raise EnvError(f"{self._where(i)}: {call}: agent '{name}': {problem}")
            obs[row, a, : slot.dim] = o.reshape(-1) if slot.flat else o
            if slot.state_at is not None:
                state[row, slot.state_at[0] : slot.state_at[1]] = obs[row, a, : slot.dim]
            active[row, a] = True
            info = infos.get(name)
            if given is None and info:
                given = info.get("action_mask")
            if given is not None:
                allowed = np.asarray(given)
                if allowed.shape != (slot.n,):
                    raise EnvError(f"{self._where(i)}: {call}: agent '{name}''s action_mask has "
                                   f"shape {allowed.shape}, expected ({slot.n},)")  # fmt: skip
                mask[row, a, : slot.n] = allowed.astype(bool)
        if self._state_mode == "state":
            try:
                s = np.asarray(env.state(), np.float32)
            except Exception as e:  # noqa: BLE001 - the environment's own failure, named
                raise self._failed(i, "state()", e) from e
            if s.size != state.shape[1]:
                raise EnvError(f"{self._where(i)}: state() has shape {s.shape}, expected "
                               f"{self.state_space.shape} (its state_space)")  # fmt: skip
            state[row] = s.reshape(-1)

    def _agent_obs_problem(self, o: Any, slot: _Slot) -> str | None:
        try:
            arr = np.asarray(o)
        except Exception as e:  # noqa: BLE001 - anything that is not an array
            return f"observation {type(o).__name__} is not an array ({e})"
        if arr.dtype.kind not in "biuf":
            return f"observation has dtype {arr.dtype}, expected numbers"
        if arr.shape != slot.shape:
            return f"observation has shape {arr.shape}, expected {slot.shape}"
        return None

    def _reset_row(
        self, i: int, out: tuple[np.ndarray, ...], row: int, seed: int | None = None
    ) -> None:
        env = self._envs[i]
        try:
            result = env.reset(seed=seed)
        except EnvError:
            raise
        except Exception as e:  # noqa: BLE001 - the environment's own failure, named
            raise self._failed(i, "reset()", e) from e
        if not (isinstance(result, tuple) and len(result) == 2):
            raise EnvError(f"{self._where(i)}: {not_obs_info(result)}")
        observations, infos = result
        self._write(i, env, env.agents, observations, infos or {}, out, row, "reset()")

    def reset(self, seed: int | None = None) -> AgentObs:
        """Start every environment; the first reset uses the constructor's seed.

        Environment i is seeded with `seed + i`. Returns AgentObs of obs `[N, A, obs_dim]`,
        global_state `[N, S]`, action_mask `[N, A, n_actions]`, active `[N, A]`."""
        if seed is None and not self._was_reset:
            seed = self.seed
        self._was_reset = True
        out = self._arrays(self.n_envs)
        self.watchdog.enter()
        try:
            for i in range(self.n_envs):
                self.watchdog.at = i
                self._reset_row(i, out, i, None if seed is None else seed + i)
        except StepTimeout as e:
            raise self.watchdog.timed_out(e) from None
        finally:
            self.watchdog.leave()
        self._mask, self._active = out[2].copy(), out[3].copy()
        return AgentObs(*out)

    def reset_one(self, i: int) -> AgentObs:
        """Start a new episode in environment i (one cut short by its caller): AgentObs
        of obs `[A, obs_dim]`, global_state `[S]`, action_mask `[A, n]`, active `[A]`."""
        out = self._arrays(1)
        self.watchdog.enter()
        try:
            self.watchdog.at = i
            self._reset_row(i, out, 0)
        except StepTimeout as e:
            raise self.watchdog.timed_out(e) from None
        finally:
            self.watchdog.leave()
        # new arrays: the old ones may be in a caller's hands (a rollout's masks)
        self._mask, self._active = self._mask.copy(), self._active.copy()
        self._mask[i], self._active[i] = out[2][0], out[3][0]
        return AgentObs(*(x[0] for x in out))

    def _check_actions(self, actions: Any) -> np.ndarray:
        actions = np.asarray(actions)
        shape = (self.n_envs, len(self.agents))
        if actions.shape != shape or actions.dtype.kind not in "iu":
            got = f"{actions.dtype}{list(actions.shape)}"
            raise EnvError(f"{self.env_id}: actions must be integers of shape {shape} "
                           f"(environments, agents), got {got}")  # fmt: skip
        inside = (actions >= 0) & (actions < self._n_actions)
        index = np.where(inside, actions, 0)[..., None]
        allowed = np.take_along_axis(self._mask, index, axis=2)[..., 0] & inside
        refused = self._active & ~allowed
        if refused.any():
            i, a = (int(x) for x in np.argwhere(refused)[0])
            action, name = int(actions[i, a]), self.agents[a]
            n = self._slots[name].n
            if not 0 <= action < self._n_actions:
                why = f"outside the action space {self.action_space}"
            elif action >= n:
                why = f"forbidden by its action mask (padding: it has {n} actions)"
            else:
                why = "forbidden by its action mask"
            raise EnvError(f"{self._where(i)}: action {action} of agent '{name}' is {why}")
        return actions

    def _reward_problem(self, r: Any) -> str | None:
        arr = np.asarray(r)
        if isinstance(r, bool | np.bool_) or arr.shape != () or arr.dtype.kind not in "iuf":
            return f"reward {r!r} ({type(r).__name__}) is not a number"
        return None

    def _flag_problem(self, kind: str, flag: Any) -> str | None:
        arr = np.asarray(flag)
        if arr.shape == () and (arr.dtype.kind == "b" or arr.dtype.kind in "iu" and flag in (0, 1)):
            return None
        return f"{kind} {flag!r} ({type(flag).__name__}) is not a bool"

    def step(
        self, actions: np.ndarray
    ) -> tuple[AgentObs, np.ndarray, np.ndarray, np.ndarray, AgentObs]:
        """Step all N environments with `actions` `[N, A]` (ints; an inactive slot's is
        ignored): returns `(obs, rewards [N, A], terminated [N], truncated [N], next_obs)`.

        An action the mask forbids is refused (EnvError naming environment, agent and
        action) before any environment steps."""
        rows = self._check_actions(actions).tolist()  # Python ints step faster
        n = self.n_envs
        out = self._arrays(n)
        rewards = np.zeros((n, len(self.agents)), np.float32)
        terminated = np.zeros(n, np.bool_)
        truncated = np.zeros(n, np.bool_)
        ended = []  # (row, final observation) of episodes that just ended
        slots, numbers, flags = self._slots, _NUMBERS, _FLAGS
        watchdog = self.watchdog
        watchdog.enter()
        try:
            for i, env in enumerate(self._envs):
                watchdog.at = i
                row = rows[i]
                acting = {name: row[slots[name].index] for name in env.agents}
                try:
                    observations, r, te, tr, infos = env.step(acting)
                except EnvError:
                    raise
                except Exception as e:  # noqa: BLE001 - the environment's own failure, named
                    raise self._failed(i, "step()", e) from e
                all_terminated = True
                left = []  # agents whose episode ended at this step
                for name in acting:
                    try:
                        reward, te_a, tr_a = r[name], te[name], tr[name]
                    except KeyError as e:
                        what = "reward, terminated or truncated"
                        raise EnvError(f"{self._where(i)}: step() returned no {what} for "
                                       f"agent {e}") from None  # fmt: skip
                    if (
                        reward.__class__ not in numbers
                        or te_a.__class__ not in flags
                        or tr_a.__class__ not in flags
                    ) and (
                        problem := self._reward_problem(reward)
                        or self._flag_problem("terminated", te_a)
                        or self._flag_problem("truncated", tr_a)
                    ):
                        raise EnvError(f"{self._where(i)}: agent '{name}': {problem}")
                    rewards[i, slots[name].index] = reward
                    if te_a or tr_a:
                        left.append(name)
                    all_terminated = all_terminated and bool(te_a)
                infos = infos or {}
                if env.agents and len(left) < len(acting):
                    if left and (stayed := [a for a in left if a in env.agents]):
                        how = "terminated" if te[stayed[0]] else "truncated"
                        raise EnvError(f"{self._where(i)}: agent '{stayed[0]}' {how} but is "
                                       "still in env.agents; an agent whose episode ended "
                                       "must leave it")  # fmt: skip
                    self._write(i, env, env.agents, observations, infos, out, i, "step()")
                    continue
                terminated[i], truncated[i] = all_terminated, not all_terminated
                final = self._arrays(1)
                # the agents of the final step; an observation of one that left is ignored
                took_part = [name for name in acting if name in observations]
                self._write(i, env, took_part, observations, infos, final, 0, "step()")
                ended.append((i, final))
                self._reset_row(i, out, i)
        except StepTimeout as e:
            raise watchdog.timed_out(e) from None
        finally:
            watchdog.leave()
        watchdog.steps += 1
        self._mask, self._active = out[2], out[3]  # replaced each step, never written in place
        obs = AgentObs(*out)
        if not ended:
            return obs, rewards, terminated, truncated, obs
        next_out = tuple(x.copy() for x in out)
        if self._state_mode == "joined":  # keep the state a view of its observations
            next_out = (next_out[0], next_out[0].reshape(n, -1), *next_out[2:])
        for i, final in ended:
            for x, y in zip(next_out, final, strict=True):
                x[i] = y[0]
        return obs, rewards, terminated, truncated, AgentObs(*next_out)
