"""A watchdog for environments stepped from Python: a `step()` or `reset()` that has not
returned after a timeout is interrupted with `StepTimeout`, naming the environment and
the step, instead of hanging the run.

The stepping loop only writes two attributes per environment step (`at`, and `busy`
around each batch of steps), which a daemon thread polls. When a call has been running
for `timeout` seconds the thread interrupts the stepping thread: with SIGALRM when that
is the main thread (it also cuts a `time.sleep` or a blocking read short), else with an
asynchronous exception (which takes effect when the environment runs Python code
again). A call stuck in native code that never returns to Python cannot be interrupted
from inside the process; with `exit_on_hang` (the CLI's setting) the process then
prints the one line and exits with status 2 after a second timeout. Checkpoints are
written atomically, so the last good one is intact either way.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Any

from ascent.errors import StepTimeout

STEP_TIMEOUT = 60.0
"""Seconds an environment's step() or reset() may take before it is interrupted."""


class StepWatchdog:
    """Watches one vector of environments (`label`); `timeout` None never interrupts."""

    def __init__(self, label: str, timeout: float | None = STEP_TIMEOUT) -> None:
        self.label = label
        self.timeout = timeout
        self.exit_on_hang = False
        self.busy = False  # inside a batch of step()/reset() calls
        self.at = 0  # the environment being called
        self.steps = 0  # vector steps completed
        self.message: str | None = None  # why it fired, while the interrupt is on its way
        self._target = 0  # the stepping thread
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._previous_handler: Any = None
        self._alarm = False  # whether SIGALRM is this watchdog's (set on the main thread)

    def enter(self) -> None:
        """A batch of calls begins (on this thread)."""
        if self.timeout is not None and self._thread is None:
            self._start()
        self._target = threading.get_ident()
        self.busy = True

    def leave(self) -> None:
        self.busy = False

    def _start(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
            self._alarm = True
        self._thread = threading.Thread(target=self._watch, name="ascent-step-watchdog",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """End the watching thread and give SIGALRM back its handler."""
        self._stopped.set()
        if self._alarm and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, self._previous_handler or signal.SIG_DFL)
            self._alarm = False

    def _watch(self) -> None:
        assert self.timeout is not None
        poll = min(1.0, self.timeout / 10)
        seen, since, fired_at = None, time.monotonic(), None
        while not self._stopped.wait(poll):
            now = time.monotonic()
            state = (self.busy, self.steps, self.at)
            if state != seen or not self.busy:
                seen, since, fired_at, self.message = state, now, None, None
                continue
            if fired_at is None and now - since >= self.timeout:
                fired_at = now
                self._interrupt()
            elif fired_at is not None and now - fired_at >= self.timeout and self.exit_on_hang:
                print(f"error: {self.message} (it did not respond)", file=sys.stderr, flush=True)
                os._exit(2)

    def _interrupt(self) -> None:
        self.message = (
            f"environment {self.at} of {self.label} at its step {self.steps + 1}: step() or "
            f"reset() did not return within {self.timeout:g} s"
        )
        if self._target == threading.main_thread().ident and self._alarm:
            signal.pthread_kill(self._target, signal.SIGALRM)
        else:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._target), ctypes.py_object(StepTimeout)
            )

    def timed_out(self, error: StepTimeout) -> StepTimeout:
        """The error to raise for an interrupt (an asynchronous one comes without text)."""
        return error if error.args else StepTimeout(self.message or "an environment timed out")

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if self.busy and self.message is not None:
            message, self.message = self.message, None
            raise StepTimeout(message)
        if callable(self._previous_handler):  # someone else's alarm
            self._previous_handler(signum, frame)
