"""What every off-policy continuous-control algorithm shares: the config fields for
the replay buffer, the update-to-data ratio, exploration and networks; the check that
the action space is a bounded Box; and one optimiser step.

DDPG, TD3, SAC and NAF each subclass `OffPolicyConfig` once and build their own
networks; the loop (`ascent.train.offpolicy`) reads the fields below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import jax
import numpy as np
import optax

from ascent.algos.config import (
    ScheduleLike,
    check_field_types,
    check_torso,
    in_unit_interval,
    nonnegative,
    positive,
    positive_schedule,
)
from ascent.algos.networks import check_observation_space
from ascent.algos.optim import make_optimizer, set_lr
from ascent.errors import ConfigError, EnvError
from ascent.nn import ACTIVATIONS

NOISES = ("none", "normal", "ou")


@dataclass(frozen=True)
class OffPolicyConfig:
    """Fields every off-policy algorithm has. Defaults follow Stable-Baselines3's."""

    total_steps: int = 100_000
    """Environment steps to train for, summed over all parallel environments."""
    n_envs: int = 1
    """Parallel environments N."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in transitions; the oldest are overwritten first."""
    learning_starts: int = 100
    """Environment steps of uniformly random actions before learning starts."""
    minibatch_size: int = 256
    """Transitions sampled from the replay buffer per gradient step."""
    train_freq: int = 1
    """Steps per environment collected between rounds of gradient steps."""
    gradient_steps: int = 1
    """Gradient steps after each collection (the update-to-data ratio is
    gradient_steps / (train_freq × n_envs))."""
    gamma: float = 0.99
    """Discount factor γ in [0, 1]."""
    tau: float = 0.005
    """Polyak averaging rate of the target networks, in (0, 1]."""
    lr: ScheduleLike = 3e-4
    """Learning rate of every network (a number or a schedule over gradient steps)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of actor and critics."""
    activation: str = "relu"
    """Activation of the hidden layers: tanh, relu, elu, gelu or silu."""
    torso: str = "auto"
    """Image observations' convolutional torso: nature, impala, minatar, mlp or auto (as
    on-policy configs' `torso`). Other observations ignore it."""
    action_noise: str = "none"
    """Exploration noise added to the policy's actions: none, normal or ou (Ornstein–Uhlenbeck)."""
    noise_std: ScheduleLike = 0.1
    """σ of the exploration noise in units of half the action range (a number or a
    schedule over training)."""
    ou_theta: float = 0.15
    """Mean-reversion rate θ of Ornstein–Uhlenbeck noise."""
    normalize_obs: bool = False
    """Normalise observations by running mean and variance (saved with the state)."""
    clip_obs: float = 10.0
    """Clip normalised observations to [−clip_obs, clip_obs]."""
    save_buffer: bool = False
    """Save the replay buffer in checkpoints (large); off, a loaded agent starts with
    an empty buffer."""

    @property
    def steps_per_iteration(self) -> int:
        """Environment steps per collect → learn iteration, train_freq × n_envs."""
        return self.train_freq * self.n_envs

    @property
    def total_iterations(self) -> int:
        return max(1, math.ceil(self.total_steps / self.steps_per_iteration))

    @property
    def total_updates(self) -> int:
        """Gradient steps in a run (warm-up included); schedules of `lr` run over these."""
        return self.total_iterations * self.gradient_steps

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field."""
        check_field_types(self)
        positive(
            self,
            "total_steps",
            "n_envs",
            "buffer_size",
            "minibatch_size",
            "train_freq",
            "gradient_steps",
            "clip_obs",
        )
        nonnegative(self, "learning_starts", "ou_theta")
        in_unit_interval(self, "gamma")
        if not 0.0 < self.tau <= 1.0:
            raise ConfigError(f"tau must be in (0, 1], got {self.tau}")
        positive_schedule(self, "lr")
        positive_schedule(self, "noise_std")
        if self.buffer_size < self.steps_per_iteration:
            raise ConfigError(
                f"buffer_size ({self.buffer_size}) must hold one iteration's steps, "
                f"train_freq × n_envs = {self.steps_per_iteration}"
            )
        if self.action_noise not in NOISES:
            raise ConfigError(
                f"action_noise must be one of {', '.join(NOISES)}; got {self.action_noise!r}"
            )
        if not self.hidden or any(w <= 0 for w in self.hidden):
            raise ConfigError(
                f"hidden must be positive layer widths, e.g. 256,256; got {self.hidden}"
            )
        check_torso(self.torso)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}"
            )


def check_continuous_spaces(
    name: str, observation_space: gym.Space, action_space: gym.Space
) -> None:
    """Raise EnvError unless actions form a Box with finite bounds (one line, naming an
    algorithm that fits a Discrete space)."""
    check_observation_space(name, observation_space)
    if isinstance(action_space, gym.spaces.Discrete):
        raise EnvError(
            f"{name} needs a Box action space; this environment has {action_space} — try ppo or a2c"
        )
    if not isinstance(action_space, gym.spaces.Box):
        raise EnvError(f"{name} needs a Box action space; this environment has {action_space}")
    if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
        raise EnvError(
            f"{name} needs finite action bounds to rescale its tanh output; "
            f"this environment has {action_space}"
        )


def action_bounds(action_space: gym.spaces.Box) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) as float32 arrays of the action shape."""
    return action_space.low.astype(np.float32), action_space.high.astype(np.float32)


def adam() -> optax.GradientTransformation:
    """Adam with its learning rate set at each step (`set_lr`), no gradient clipping;
    ε = 1e-8 as PyTorch's, which Stable-Baselines3's off-policy algorithms use."""
    return make_optimizer(math.inf, eps=1e-8)


def optimizer_step(
    optimizer: optax.GradientTransformation,
    params: Any,
    opt_state: Any,
    grads: Any,
    lr: jax.Array,
) -> tuple[Any, Any]:
    """One optimiser step at learning rate `lr`; returns (params, opt_state)."""
    step, opt_state = optimizer.update(grads, set_lr(opt_state, lr), params)
    return optax.apply_updates(params, step), opt_state
