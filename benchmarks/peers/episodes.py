"""The evaluation every contestant of benchmarks/compare.py shares (needs only gymnasium).

Each library's own evaluator draws its episodes' start states in its own way, and on
Pendulum the start state moves an episode's return by hundreds (a deterministic SAC
policy scores 0 from some states and -350 from others): ten episodes from different
start states differ by more than the 10% the comparison asks of the policies. So every
trained policy, whatever door it learned through, is also run on the same Gymnasium
episodes: episode i starts from `env.reset(seed=SEED + i)`, the same states for every
library and every training seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SEED = 1_000_003  # never a training seed


def shared_returns(act: Callable[[Any], Any], env_id: str, episodes: int) -> list[float]:
    """Returns of `episodes` deterministic episodes of Gymnasium's `env_id`;
    `act(obs) -> action` for one observation."""
    import gymnasium as gym
    import numpy as np

    env = gym.make(env_id)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=SEED + i)
        total, done = 0.0, False
        while not done:
            action = np.asarray(act(obs))
            if action.ndim == 0:  # a Discrete action
                action = int(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns
