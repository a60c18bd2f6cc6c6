"""SIGINT and SIGTERM during training: stop at a consistent state, save it, and say how
to resume (issue 30, item 4).

`Agent.learn` trains inside a `GracefulStop` (installed on the main thread only; the
previous handlers come back after):

- the first signal lets the chunk in progress run to its end; the Agent keeps its
  state, writes a checkpoint (with a run folder) and raises `errors.Interrupted`
  naming it and `ascent train --resume RUN`;
- a chunk still running `grace` seconds after the signal is abandoned: the last good
  chunk's state (the Agent's) is saved instead, and training stops. Schedulers send
  SIGKILL some seconds after SIGTERM (Docker 10 s, Kubernetes and SLURM 30 s);
- the same or the other signal again stops at once, checkpoint or not: a checkpoint
  is renamed into place whole (`io.checkpoint`), so none is left broken, and a save
  still being written when the process ends from the watching thread is removed.

A compiled chunk keeps the main thread in XLA, where Python runs no signal handler
until it returns; so a thread watches the signals through `signal.set_wakeup_fd` and
acts for it: it announces the stop at once, saves the last good state when the grace
is over, and ends the process (os._exit, status 128 + signal) when the main thread
cannot be reached within `REACH` seconds.
"""

from __future__ import annotations

import _thread
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ascent.errors import Interrupted
from ascent.io.checkpoint import discard_unfinished_saves

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE = 5.0
"""Seconds a chunk in progress may take to end after a signal before it is abandoned."""
REACH = 1.0
"""Seconds the watching thread waits for the main thread to take an exception."""


class GracefulStop:
    """SIGINT and SIGTERM handling for one training call (module docstring).

    `save(signum)` saves the last good state and returns the line to stop with;
    `at_once(signum)` returns the line for a stop without saving; `grace` defaults to
    STOP_GRACE. The caller holds `lock` while it changes or saves its state, and calls
    `check` under it after each chunk: None to go on, or the signal to stop for (then
    `stopping` before it saves and raises Interrupted).
    """

    def __init__(
        self,
        save: Callable[[int], str],
        at_once: Callable[[int], str],
        *,
        grace: float | None = None,
    ):
        self.save = save
        self.at_once = at_once
        self.grace = STOP_GRACE if grace is None else grace
        self.lock = threading.RLock()
        self.signum: int | None = None  # the first signal's number
        self._received = 0  # SIGINT/SIGTERM seen by the watching thread
        self._handled = 0  # calls of the Python handler, on the main thread
        self._abandoned: str | None = None  # the watching thread saved; the line to stop with
        self.raised: Interrupted | None = None  # what the handler raised (Ray's calls turn
        # an exception of a signal handler into a plain KeyboardInterrupt)
        self._over = threading.Event()  # nothing more for the watching thread to do
        self._reached = threading.Event()  # the main thread took the watcher's exception
        self._stopped = False  # the stop was acted on (saved, or raised at once)
        self._active = False

    # --- installing ---------------------------------------------------------------

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals go to the main thread: nothing to watch from here
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._previous = {s: signal.signal(s, self._on_signal) for s in SIGNALS}
        self._active = True
        self._thread = threading.Thread(target=self._watch, name="ascent-signals", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._active:
            return
        self._over.set()
        with self.lock:  # a save of the watching thread's ends first
            for s, handler in self._previous.items():
                signal.signal(s, handler)
            signal.set_wakeup_fd(self._previous_fd)
        self._write.close()  # the watching thread reads the end and returns
        self._thread.join(timeout=REACH)
        self._read.close()
        self._active = False
        if kind is None and self._handled and not self._stopped and self.signum is not None:
            # it came after training's last check: the handler given back takes it
            signal.raise_signal(self.signum)

    # --- the caller's side --------------------------------------------------------

    def check(self) -> int | None:
        """Under `lock`, after each chunk: the signal to stop for, or None. Raises the
        stop's Interrupted if the watching thread has saved already."""
        if self._abandoned is not None:
            raise Interrupted(self.signum or signal.SIGTERM, self._abandoned)
        return self.signum

    def stopping(self) -> None:
        """The caller saves and stops: the watching thread has nothing more to do."""
        self._stopped = True
        self._over.set()

    # --- the main thread's handler ------------------------------------------------

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._handled += 1
        if self._abandoned is not None:  # the watching thread saved and asks to stop
            self._stopped = True
            self._over.set()
            self._reached.set()
            self.raised = Interrupted(self.signum or signum, self._abandoned)
            raise self.raised
        if self._handled == 1:  # the caller stops after the chunk in progress
            self.signum = self.signum or signum
            return
        self._stopped = True
        self._over.set()
        self.raised = Interrupted(signum, self.at_once(signum))
        raise self.raised

    # --- the watching thread ------------------------------------------------------

    def _watch(self) -> None:
        deadline: float | None = None
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ready, _, _ = select.select([self._read], [], [], wait)
                data = self._read.recv(64) if ready else b""
            except OSError:  # closed by __exit__
                return
            if ready and not data:  # the other end closed: training is over
                return
            for signum in (b for b in data if b in SIGNALS):
                self._received += 1
                if self._received == 1:
                    self.signum = self.signum or signum
                    deadline = time.monotonic() + self.grace
                    self._announce(signum)
                elif not self._over.is_set():
                    self._again(signum)
            if deadline is not None and time.monotonic() >= deadline:
                if not self._over.is_set():
                    self._abandon(self.signum or signal.SIGTERM)
                deadline = None

    def _announce(self, signum: int) -> None:
        name = signal.Signals(signum).name
        print(
            f"{name}: stopping after the chunk in progress (waiting up to {self.grace:g} s) "
            f"to save a checkpoint; {name} again stops at once",
            file=sys.stderr,
            flush=True,
        )

    def _again(self, signum: int) -> None:
        """A second signal: the main thread's handler raises, unless it is held in a
        compiled call; then the process ends from here."""
        deadline = time.monotonic() + REACH
        while self._handled < self._received and time.monotonic() < deadline:
            if self._over.wait(0.01):
                return
        if self._handled < self._received and not self._over.is_set():
            self._exit(signum, self.at_once(signum))

    def _abandon(self, signum: int) -> None:
        """The grace is over: save the last good state, then stop the main thread, or
        the process if the main thread is held in a compiled call."""
        with self.lock:  # not while the caller keeps or saves a chunk's state
            if self._over.is_set():
                return
            try:
                message = self.save(signum)
            except Exception as e:  # noqa: BLE001 - the stop goes on, and says why
                message = f"{self.at_once(signum)} (saving failed: {e})"
            self._abandoned = message
            if self._over.is_set():  # training ended while this saved
                return
            _thread.interrupt_main(signum)
        if not self._reached.wait(REACH):
            self._exit(signum, message)

    def _exit(self, signum: int, message: str) -> None:
        # the main thread may be writing a checkpoint: its temporary folder goes too
        discard_unfinished_saves()
        print(message, file=sys.stderr, flush=True)
        os._exit(128 + signum)
