"""Ascent's own JAX tasks, each behind the `JaxEnv` protocol."""

from __future__ import annotations

from ascent.envs.tasks.chain import Chain, ChainState

__all__ = ["Chain", "ChainState"]
