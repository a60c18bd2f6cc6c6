"""Exceptions for bad input from a user: each message is one line saying what was
wrong and what to do. The CLI prints them without a traceback and exits 2.

This module imports nothing from Ascent, so every layer may raise these.
"""

from __future__ import annotations


class AscentError(Exception):
    """Base class: a problem with what the user asked for, not a bug in Ascent."""


class ConfigError(AscentError, ValueError):
    """A configuration value is invalid; the message names the field."""


class EnvError(AscentError, ValueError):
    """An unknown environment id, or spaces the chosen algorithm cannot handle."""


class CheckpointError(AscentError):
    """A checkpoint is missing, truncated, tampered with or of another layout."""


class TrainingError(AscentError, FloatingPointError):
    """Training produced a non-finite quantity; the message names the step and quantity."""


class CacheError(AscentError):
    """The compile cache folder is not private to this user (it holds code to run)."""


class RunInUseError(AscentError):
    """Another process is writing the run folder."""


class StepTimeout(EnvError):
    """An environment's step() or reset() did not return in time."""


class StorageError(AscentError):
    """A file could not be written (a full disk, a refused permission); the message
    names it."""


class Interrupted(KeyboardInterrupt):
    """Training stopped on SIGINT or SIGTERM (`signum`), after saving where it was; the
    message says where and how to resume. Not bad input: a KeyboardInterrupt, which the
    CLI ends with status 128 + signum (130, 143)."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
