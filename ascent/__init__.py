"""Ascent: policy-based reinforcement learning in JAX.

import ascent
agent = ascent.make("ppo", env="CartPole-v1", seed=0)
agent.learn(total_steps=100_000)
print(agent.evaluate(episodes=20).mean_return)
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from ascent._version import __version__

if TYPE_CHECKING:
    from ascent.api import load, make
    from ascent.runtime.threads import use_threads
    from ascent.train.agent import Agent
    from ascent.tuning.sweep import sweep

__all__ = ["Agent", "__version__", "load", "make", "sweep", "use_threads"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import ascent` stays cheap and the CLI can set XLA flags before JAX starts.
    if name in ("make", "load"):
        from ascent import api

        return getattr(api, name)
    if name == "use_threads":  # before the first JAX computation: ascent.use_threads(1)
        from ascent.runtime.threads import use_threads

        return use_threads
    if name == "Agent":
        from ascent.train.agent import Agent

        return Agent
    if name == "sweep":  # configurations × seeds in one program per shape (tuning/sweep.py)
        from ascent.tuning.sweep import sweep

        return sweep
    raise AttributeError(f"module 'ascent' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the lazy names are not in the module's namespace until first used: list them for
    # dir() and tab completion, with the subpackages already imported (PEP 562)
    loaded = {k for k, v in globals().items() if isinstance(v, ModuleType) and k[0] != "_"}
    return sorted(set(__all__) | loaded)


# Ascent's single-agent JAX tasks, for `gymnasium.make("ascent/TMaze-v0")`. Gymnasium
# has no lazy hook for a namespace, so they are registered on `import ascent`, by entry
# point: `ascent.envs` (and JAX) is imported only when one is made. The list is checked
# against `ascent.envs.TASKS` by tests/envs/test_as_gymnasium.py.
_GYMNASIUM_TASKS = (
    "Chain-v0",
    "DialLock-v0",
    "Lure-v0",
    "RepeatFirst-v0",
    "RepeatPrevious-v0",
    "Switches-v0",
    "TMaze-v0",
    "TwoGoals-v0",
)


def _register_with_gymnasium() -> None:
    import gymnasium  # imports no JAX

    for name in _GYMNASIUM_TASKS:
        env_id = f"ascent/{name}"
        if env_id not in gymnasium.registry:  # a reloaded module registers nothing twice
            gymnasium.register(
                env_id, entry_point="ascent.envs.as_gymnasium:GymnasiumTask", kwargs={"env": env_id}
            )


_register_with_gymnasium()
