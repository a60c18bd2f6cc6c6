"""An agent's deterministic policy as an ONNX file (`ascent export`).

The graph computes what `Agent.act(obs, deterministic=True)` does for a batch, so its
output goes straight to `env.step`: observation normalisation where the agent has it,
the encoder (the convolutional torso of an image), the policy head, then the most
likely action (a Discrete's argmax plus its `start`; a Box's mean clipped to the
action space's bounds, `envs.spaces.env_action`). The trained parameters and the
normalisation statistics are baked in as constants.

Input `obs` [N, *obs_shape] in the dtype Ascent keeps the observation in (float32 for
a Box of values; an image stays uint8 when its space is), N free; output `action`
[N] int32 for Discrete, [N, *action_shape] float32 for Box.

Feed-forward policies of one Box observation (a vector or an image) with Discrete or
Box actions only; anything else (memory policies, teams, Dict or Tuple observations,
action masks, other action spaces) is refused with one line naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
from gymnasium import spaces

from ascent.envs import env_action, is_multiagent
from ascent.errors import ConfigError
from ascent.io.export import save_onnx

if TYPE_CHECKING:
    from ascent.train.agent import Agent

OBSERVATION_KINDS = ("box", "image")  # nn.encoders' leaf kinds a file can take


def export_onnx(agent: Agent, path: str | Path) -> Path:
    """Write the agent's deterministic policy at `path` as ONNX (see the module); returns
    the path. ConfigError naming what is not supported, or how to install jax2onnx."""
    refuse = unsupported(agent)
    if refuse:
        raise ConfigError(
            f"ONNX export: {refuse} is not supported (feed-forward policies of one Box "
            "observation with Discrete or Box actions are)"
        )
    acting = agent.loop.acting
    algo, norm = agent.state.algo, agent.state.norm
    space = agent.env.action_space
    key = jax.random.PRNGKey(0)  # the deterministic action never reads it
    (leaf,) = agent.loop.obs_spec.leaves()

    def act(obs: jax.Array) -> jax.Array:
        """One observation [*obs_shape] -> its action, as `Agent.act` computes it."""
        action, _ = acting.act(algo, norm, obs[None], key, deterministic=True)
        return env_action(jnp.asarray(action), space)[0]

    return save_onnx(act, leaf.shape, leaf.dtype, path, name=f"{agent.algo_name}-policy")


def unsupported(agent: Agent) -> str | None:
    """What keeps the agent's policy out of an ONNX file, or None."""
    if agent.algorithm.multi_agent or is_multiagent(agent.env):
        return "a team's policy"
    if agent.loop.acting.memory:
        return f"a memory policy (core.kind {agent.config.core.kind})"
    if agent.action_mask is not None:
        return "an agent with action masks"
    space = agent.env.observation_space
    if not isinstance(space, spaces.Box):
        return f"a {type(space).__name__} observation"
    (leaf,) = agent.loop.obs_spec.leaves()
    if leaf.kind not in OBSERVATION_KINDS:
        return f"a {leaf.kind} observation"
    action_space = agent.env.action_space
    if not isinstance(action_space, spaces.Discrete | spaces.Box):
        return f"a {type(action_space).__name__} action space"
    return None
