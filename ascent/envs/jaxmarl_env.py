"""The JAX door over JaxMARL (https://github.com/FLAIROx/JaxMARL): its environments
behind `MultiAgentJaxEnv`, agents stacked on the leading axis and padded to the largest.

JaxMARL is optional (`pip install 'ascent-rl[marl]'`) and slow to import (seconds, and
it prints): nothing here imports it until an environment is made.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import sys
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from ascent.envs.multiagent import AgentObs, padded_box
from ascent.errors import EnvError

_INSTALL = "pip install 'ascent-rl[marl]'"


def import_jaxmarl() -> Any:
    """The `jaxmarl` module, imported without its messages on stdout."""
    if "jaxmarl" in sys.modules:
        return sys.modules["jaxmarl"]
    sink = io.StringIO()
    saved = sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__
    # jaxmarl prints on import, and its mabrax module "restores" sys.stdout and
    # sys.stderr to sys.__stdout__ and sys.__stderr__ after silencing brax
    # (jaxmarl/environments/mabrax/mabrax_env.py), undoing a redirect_stdout: those
    # two point at the sink and at the present stderr meanwhile.
    sys.__stdout__, sys.__stderr__ = sink, sys.stderr  # type: ignore[misc]
    try:
        with contextlib.redirect_stdout(sink):
            import jaxmarl
    except ImportError as e:
        raise EnvError(f"JaxMARL environments need jaxmarl ({e}): {_INSTALL}") from None
    finally:
        sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__ = saved  # type: ignore[misc]
    return jaxmarl


def jaxmarl_ids() -> list[str]:
    """Every name in JaxMARL's registry (`MPE_simple_spread_v3`, `SMAX`, ...)."""
    return list(import_jaxmarl().registered_envs)


def jaxmarl_name(name: str) -> str:
    """JaxMARL's registry name for `name`, `jaxmarl/<name>` or the short MPE name
    (`simple_spread_v3` is `MPE_simple_spread_v3`); EnvError for a name it lacks."""
    name = name.removeprefix("jaxmarl/")
    known = jaxmarl_ids()
    for candidate in (name, f"MPE_{name}"):
        if candidate in known:
            return candidate
    shown = [short_id(n) for n in known]
    close = difflib.get_close_matches(f"jaxmarl/{name}", shown, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise EnvError(f"unknown JaxMARL environment 'jaxmarl/{name}'; {hint}known: {', '.join(shown)}")


def short_id(name: str) -> str:
    """`jaxmarl/<name>`, MPE names without `MPE_` (so that they share presets with
    `mpe2/<name>`)."""
    return f"jaxmarl/{name.removeprefix('MPE_')}"


def _strong(tree: Any) -> Any:
    # JaxMARL's states start partly weakly typed (`step=jnp.array(0)`); strong types keep
    # a scan's carry the same from reset to step
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.result_type(x)), tree)


@dataclass(frozen=True, init=False)
class JaxMarlEnv:
    """A JaxMARL environment behind `MultiAgentJaxEnv`: `JaxMarlEnv(name, **options)`
    is `jaxmarl.make(name, **options)`, `name` as `jaxmarl_name` reads it.

    Observations are flattened and zero-padded to the largest agent's, `[A, obs_dim]`;
    actions are Discrete, padded to the largest with the padding forbidden by
    `action_mask` (with JaxMARL's `get_avail_actions` where the environment has one). A
    forbidden padded action is taken as the agent's last action: the mask is the
    policy's to respect. Every agent is active at every step. The global state is the
    environment's `get_world_state` where it has one, else the agents' observations side
    by side, unpadded (as mpe2's `state()`, so a centralised critic trained on one door
    reads the same state on the other).

    `step` is JaxMARL's `step_env` (no reset), then a reset where the episode ended, as
    `MultiAgentJaxEnv` says. When the episode ends, and whether it ended by the time
    limit: MPE episodes end after `max_steps` steps (25 by default, as mpe2's
    `max_cycles`), truncated, never terminated. (JaxMARL 0.2.0's MPE raises its own
    `done` a step later, from the step count before the step: its episodes are 26
    steps.) Other environments end where JaxMARL says `done["__all__"]`: truncated
    when their step count has then reached `max_steps`, terminated otherwise.

    Equal (and hashed) by name and options, so it is a static constant under `jit`.
    """

    name: str
    options: tuple[tuple[str, Any], ...]
    env_id: str = field(compare=False)
    agents: tuple[str, ...] = field(compare=False)
    observation_space: spaces.Box = field(compare=False, repr=False)
    action_space: spaces.Discrete = field(compare=False, repr=False)
    state_space: spaces.Box = field(compare=False, repr=False)
    max_episode_steps: int | None = field(compare=False, repr=False)
    _env: Any = field(compare=False, repr=False)
    _obs_dims: tuple[int, ...] = field(compare=False, repr=False)
    _n_actions: tuple[int, ...] = field(compare=False, repr=False)
    _mpe: bool = field(compare=False, repr=False)
    _avail: bool = field(compare=False, repr=False)
    _world_state: bool = field(compare=False, repr=False)

    def __init__(self, name: str, **options: Any) -> None:
        jaxmarl = import_jaxmarl()
        name = jaxmarl_name(name)
        env_id = short_id(name)
        ordered = tuple(sorted(options.items()))
        try:
            hash(ordered)
        except TypeError:
            raise EnvError(f"{env_id}: options must be hashable (the environment is a static "
                           f"constant under jit), got {dict(ordered)}") from None  # fmt: skip
        try:
            env = jaxmarl.make(name, **options)
        except Exception as e:  # noqa: BLE001 - JaxMARL's own failure, in one line
            text = str(e).splitlines()[0] if str(e) else ""
            raise EnvError(f"making {env_id} raised {type(e).__name__}: {text}") from None
        agents = tuple(env.agents)
        dims, bounds, n_actions = [], [], []
        for agent in agents:
            space = env.observation_space(agent)
            if type(space).__name__ != "Box":
                raise EnvError(f"{env_id}: agent '{agent}' observes a {type(space).__name__} "
                               "space; Ascent supports Box observations")  # fmt: skip
            shape = tuple(int(d) for d in space.shape)
            dims.append(int(np.prod(shape)))
            bounds.append(tuple(np.broadcast_to(np.asarray(b, np.float32), shape).reshape(-1)
                                for b in (space.low, space.high)))  # fmt: skip
            action = env.action_space(agent)
            if type(action).__name__ != "Discrete":
                raise EnvError(f"{env_id}: agent '{agent}' has {type(action).__name__} actions; "
                               "only Discrete actions are supported (MPE: "
                               "action_type='Discrete')")  # fmt: skip
            n_actions.append(int(action.n))
        base_avail = jaxmarl.environments.MultiAgentEnv.get_avail_actions
        world_state = callable(getattr(env, "get_world_state", None))
        if world_state:
            shape = jax.eval_shape(lambda k: env.get_world_state(env.reset(k)[1]),
                                   jax.random.PRNGKey(0)).shape  # fmt: skip
            state_size = int(np.prod(shape))
        else:
            state_size = sum(dims)
        steps = getattr(env, "max_steps", None)
        fields = {
            "name": name,
            "options": ordered,
            "env_id": env_id,
            "agents": agents,
            "observation_space": padded_box(bounds),
            "action_space": spaces.Discrete(max(n_actions)),
            "state_space": spaces.Box(-np.inf, np.inf, (state_size,), np.float32),
            "max_episode_steps": int(steps) if isinstance(steps, int) else None,
            "_env": env,
            "_obs_dims": tuple(dims),
            "_n_actions": tuple(n_actions),
            "_mpe": isinstance(env, jaxmarl.environments.SimpleMPE),
            "_avail": getattr(type(env), "get_avail_actions", base_avail) is not base_avail,
            "_world_state": world_state,
        }
        for key, value in fields.items():
            object.__setattr__(self, key, value)

    def _observe(self, observations: dict[str, jax.Array], state: Any) -> AgentObs:
        """JaxMARL's observations (a dict by agent) and state as one AgentObs."""
        width = self.observation_space.shape[0]
        obs = jnp.stack([
            jnp.pad(observations[a].reshape(-1).astype(jnp.float32), (0, width - d))
            for a, d in zip(self.agents, self._obs_dims, strict=True)
        ])  # fmt: skip  # [A, obs_dim]
        n = self.action_space.n
        mask = jnp.asarray(np.arange(n) < np.array(self._n_actions)[:, None])  # [A, n]
        if self._avail:
            avail = self._env.get_avail_actions(state)
            mask = mask & jnp.stack([
                jnp.pad(avail[a].astype(bool), (0, n - k))
                for a, k in zip(self.agents, self._n_actions, strict=True)
            ])  # fmt: skip
        if self._world_state:
            global_state = self._env.get_world_state(state).reshape(-1).astype(jnp.float32)
        else:  # the observations side by side, unpadded
            global_state = jnp.concatenate(
                [observations[a].reshape(-1).astype(jnp.float32) for a in self.agents]
            )
        return AgentObs(obs, global_state, mask, jnp.ones(len(self.agents), bool))

    def reset(self, key: jax.Array) -> tuple[AgentObs, Any]:
        """Start an episode: `(agent_obs, env_state)`, agent_obs as `MultiAgentJaxEnv`'s."""
        observations, state = self._env.reset(key)
        state = _strong(state)
        return self._observe(observations, state), state

    def step(
        self, key: jax.Array, env_state: Any, actions: jax.Array
    ) -> tuple[AgentObs, Any, jax.Array, jax.Array, jax.Array, AgentObs]:
        """Advance one step with `actions` `[A]`: `(agent_obs, env_state, rewards [A],
        terminated, truncated, next_agent_obs)`, reset inside where the episode ended."""
        key, reset_key = jax.random.split(key)
        last = jnp.asarray(self._n_actions) - 1
        actions = jnp.clip(actions, 0, last)  # a padded action is the agent's last one
        by_agent = {a: actions[i] for i, a in enumerate(self.agents)}
        observations, state, rewards, dones, _ = self._env.step_env(key, env_state, by_agent)
        state = _strong(state)
        steps = getattr(state, "step", None)
        if self.max_episode_steps is not None and steps is not None and jnp.ndim(steps) == 0:
            time_up = steps >= self.max_episode_steps
        else:
            time_up = jnp.zeros((), bool)
        ended = (dones["__all__"] | time_up) if self._mpe else dones["__all__"]
        truncated = ended & time_up
        terminated = ended & ~time_up
        next_obs = self._observe(observations, state)
        first, fresh = self.reset(reset_key)
        state = jax.tree.map(lambda x, y: jnp.where(ended, x, y), fresh, state)
        obs = jax.tree.map(lambda x, y: jnp.where(ended, x, y), first, next_obs)
        rewards = jnp.stack([rewards[a] for a in self.agents]).astype(jnp.float32)
        return obs, state, rewards, terminated, truncated, next_obs
