"""`quiet_make`: `gymnasium.make` for the Gymnasium door, without the deprecation notices
that building a MuJoCo environment prints and the user can do nothing about (issue 31):
Gymnasium's "HalfCheetah-v4 is out of date" and MuJoCo's compiler notice about an
attribute of the v4/v5 models' XML ("compiler attribute 'settotalmass' is deprecated"),
which MuJoCo's own handler also appends to a MUJOCO_LOG.TXT in the working directory.

Filtered only while Ascent makes such an environment: the warning filters and MuJoCo's
warning handler are put back afterwards, so the user's own calls see everything.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium

OUT_OF_DATE = r".*is out of date\. You should consider upgrading"
"""Gymnasium's notice for an id with a newer version (registration.py)."""


def quiet_make(env_id: str, **options: Any) -> gymnasium.Env:
    """`gymnasium.make(env_id, **options)`; a MuJoCo environment's deprecation notices
    are dropped while it is built (other warnings pass as they would)."""
    if not is_mujoco(env_id):
        return gymnasium.make(env_id, **options)
    with warnings.catch_warnings(), mujoco_notices_dropped():
        warnings.filterwarnings("ignore", OUT_OF_DATE, DeprecationWarning)
        return gymnasium.make(env_id, **options)


def is_mujoco(env_id: str) -> bool:
    """Whether Gymnasium's registry builds `env_id` with MuJoCo (False for an unknown id:
    `gymnasium.make` then says what is wrong)."""
    try:
        spec = gymnasium.spec(env_id)
    except gymnasium.error.Error:
        return False
    return "mujoco" in str(spec.entry_point)


@contextmanager
def mujoco_notices_dropped() -> Iterator[None]:
    """MuJoCo's warnings that say "deprecated" are dropped; any other goes to the handler
    that was there before (MuJoCo's default prints "WARNING: ..." and logs to a file:
    here it is printed to stderr)."""
    try:
        import mujoco
    except ImportError:  # gymnasium.make says what to install
        yield
        return
    before: Callable[[str], None] | None = mujoco.get_mju_user_warning()

    def handle(message: str) -> None:
        if "deprecated" in message:
            return
        if before is not None:
            before(message)
        else:
            print(f"WARNING: {message}", file=sys.stderr)

    mujoco.set_mju_user_warning(handle)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(before)
