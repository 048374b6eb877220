"""Processes and process groups that are not (or no longer) this process's children: a shared server
(serving/registry.py) outlives the harness that started it and is stopped by another harness, by its
watchdog (serving/watchdog.py) or by lem.

    alive(pid)                 the process exists and is no zombie
    start_ticks(pid)           its start time (clock ticks after boot): with the pid, one process's identity
    group_alive(pgid)          some process of the group exists and is no zombie
    stop_group(pgid, grace_s)  SIGTERM to the group, SIGKILL after grace_s, then wait until it is empty
"""

import os
import signal
import time
from typing import Callable, Optional

POLL_S = 0.05


def _stat_fields(pid: int) -> Optional[list]:
    """The fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...], or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def alive(pid: Optional[int]) -> bool:
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat_fields(pid)
    return fields is None or fields[0] not in ("Z", "X")  # no /proc (not Linux): kill's answer


def start_ticks(pid: Optional[int]) -> Optional[int]:
    """Field 22 of /proc/<pid>/stat (start time after boot, clock ticks); None without /proc."""
    if not pid:
        return None
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def same_process(pid: Optional[int], ticks: Optional[int]) -> bool:
    """The process `pid` that started at `ticks` is still there (a reused pid is another process)."""
    if not alive(pid):
        return False
    return ticks is None or start_ticks(pid) in (None, ticks)


def group_alive(pgid: Optional[int]) -> bool:
    """Some live (non-zombie) process is in the group. Scans /proc, since a zombie waiting for its
    parent still counts for killpg(pgid, 0)."""
    if not pgid or pgid <= 0:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def signal_group(pgid: Optional[int], sig: int) -> None:
    if not pgid or pgid <= 0:
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_group(pgid: int, timeout_s: float, reap: Optional[Callable[[], object]] = None) -> bool:
    """Waits until the group is empty; True if it is. reap: polls a child of ours (a zombie child
    stays in the group until it is reaped)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if reap is not None:
            reap()
        if not group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def stop_group(pgid: Optional[int], grace_s: float = 15.0, reap: Optional[Callable[[], object]] = None) -> bool:
    """SIGTERM to the group, SIGKILL after grace_s, then wait (up to 10 s) until no process of it is left.
    True when the group is gone."""
    if not pgid or not group_alive(pgid):
        if reap is not None:
            reap()
        return True
    signal_group(pgid, signal.SIGTERM)
    if wait_group(pgid, grace_s, reap):
        return True
    signal_group(pgid, signal.SIGKILL)
    return wait_group(pgid, 10.0, reap)
