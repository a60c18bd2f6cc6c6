"""Data storage: on-policy rollouts (and, later, replay buffers)."""

from ascent.buffers.rollout import Rollout, RolloutBuffer

__all__ = ["Rollout", "RolloutBuffer"]
