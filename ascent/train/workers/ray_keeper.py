"""The keeper of a local Ray instance: starts it, and ends every process of it when the
Ascent process that asked for it ends, however that ends (issue 30, item 5). Run as a
script, not as part of the package (it imports Ray and the standard library only):

    python -P ray_keeper.py NUM_CPUS

`RayDriver` starts it in a session of its own and connects to the instance at the
address it prints. The keeper is the instance's ancestor and a child subreaper
(`prctl(PR_SET_CHILD_SUBREAPER)`), so every process of the instance stays its
descendant, however its parent ends: Ray ties its GCS and raylet to the process that
started them (`PR_SET_PDEATHSIG`), but the raylet's DashboardAgent and RuntimeEnvAgent
only poll for their parent, and after a driver's SIGKILL they were found alive, adopted
by init, long after. The keeper reads its standard input until it closes, which the
driver does after disconnecting and the kernel does when the driver dies, SIGKILL
included; it then shuts Ray down (when the driver lives), SIGKILLs what is left of its
descendants, reaps them, and exits.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def process_table() -> dict[int, tuple[int, str, str]]:
    """Every living process (a zombie has ended): pid -> (parent's pid, start time,
    command). Also read by tests/train/test_ray_actors.py and benchmarks/faults.py."""
    table = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # pid (comm) state ppid ...; comm may hold spaces and parentheses
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, IndexError, ValueError):  # ended while read
            continue
        if fields[0] != "Z":
            table[int(proc.name)] = (int(fields[1]), fields[19], command)
    return table


def descendants_of(root: int) -> dict[tuple[int, str], str]:
    """The living descendants of `root`: (pid, start time) -> command."""
    table, found, todo = process_table(), {}, [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, started, command) in table.items():
            if ppid == parent:
                found[(pid, started)] = command
                todo.append(pid)
    return found


def alive(processes: dict[tuple[int, str], str]) -> dict[tuple[int, str], str]:
    """Those of `processes` still running (the same pid and start time)."""
    table = process_table()
    return {k: v for k, v in processes.items() if k[0] in table and table[k[0]][1] == k[1]}


def descendants() -> list[int]:
    """Every living descendant of this process (a zombie child is reaped, not killed)."""
    return [pid for pid, _ in descendants_of(os.getpid())]


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:  # ended already
            pass


def reap() -> bool:
    """Collect the exit of every child that has ended; whether any is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def end_all(deadline: float = 30.0) -> None:
    """SIGKILL every descendant and reap it, until none is left (a process being
    started meanwhile shows in the next round)."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        left = descendants()
        if not left and not reap():
            return
        signal_all(left, signal.SIGKILL)
        time.sleep(0.02)


def main() -> int:
    num_cpus = int(sys.argv[1])
    driver = os.getppid()
    # Ctrl-C and a SIGTERM to the driver are the driver's to handle: it stops gracefully,
    # disconnects and closes this process's input
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # the address goes to the driver on the standard output; what Ray prints, to stderr
    address_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    status = 0
    try:
        import ray

        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            # Ray's start-up lines (INFO, and WARNINGs such as a server's file-descriptor
            # limit) alarmed users of a single-machine instance (issue 31); a failure
            # to start still raises, and is printed below
            logging_level=logging.ERROR,
        )
        address_out.write(ray.get_runtime_context().gcs_address + "\n")
        address_out.close()
        while sys.stdin.buffer.read(1024):  # until the driver closes it or dies
            pass
        if os.getppid() == driver:  # closed, not died: Ray's own shutdown first
            ray.shutdown()
    except BaseException:  # Ray did not start: the driver says so, Ray's reason is here
        traceback.print_exc()
        status = 1
    end_all()
    os._exit(status)  # Ray's exit handlers would wait on the processes just ended


if __name__ == "__main__":
    sys.exit(main())
