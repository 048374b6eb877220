"""The watchdog of one shared server (serving/registry.py): a tiny process, started detached (its own
session) beside the server, that stops the server's process group when

    lem is gone         --parent PID (lem's, LEM_PARENT_PID) with --parent-ticks, its start time, so a
                        reused pid is not taken for lem: a SIGKILLed lem runs no teardown of its own;
    its entry is gone   the registry entry file was removed, or names another server (another process
                        group): whoever removed it is stopping the server, or it is no longer the registry's.

It exits once the server's group is empty. When lem is gone it also removes the entry, and the registry
folder once no entry is left in it.

    python -m lem_harness.serving.watchdog ENTRY --pgid PGID [--parent PID --parent-ticks T] [--grace S]
"""

import argparse
import json
import os
import shutil
import sys
import time
from typing import Optional

from .. import processes as process_group

INTERVAL_S = 1.0
FOLDER_PREFIX = "lem-servers-"  # only a folder lem made is ever removed whole (src/exec/server-registry.ts)


def _entry_pgid(path: str) -> Optional[int]:
    try:
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
    except (OSError, ValueError):
        return None
    pgid = entry.get("pgid") if isinstance(entry, dict) else None
    return pgid if isinstance(pgid, int) else None


def _say(message: str) -> None:
    try:
        print(f"[lem-watchdog {os.getpid()}] {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _remove_registry(entry: str, pgid: int) -> None:
    """After lem died: the entry (if it is still this server's), then the folder once it holds no entry."""
    if _entry_pgid(entry) == pgid:
        try:
            os.unlink(entry)
        except OSError:
            pass
    folder = os.path.dirname(os.path.abspath(entry))
    try:
        left = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        return
    if not left and os.path.basename(folder).startswith(FOLDER_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)


def watch(entry: str, pgid: int, parent: Optional[int], parent_ticks: Optional[int], grace_s: float,
          interval_s: float = INTERVAL_S) -> str:
    """Runs until the server's group is gone; returns why it stopped watching."""
    def lem_gone() -> bool:
        return bool(parent) and not process_group.same_process(parent, parent_ticks)

    while True:
        if not process_group.group_alive(pgid):
            why = "the server is gone"
        elif lem_gone():
            why = f"lem (pid {parent}) is gone"
        elif _entry_pgid(entry) != pgid:
            why = f"its registry entry {entry} was removed"
        else:
            time.sleep(interval_s)
            continue
        if why != "the server is gone":
            _say(f"{why}: stopping the server's process group {pgid}")
            process_group.stop_group(pgid, grace_s)
        # With lem gone nobody else removes the registry, whoever stopped the server (a harness
        # that saw lem die may have been first).
        if lem_gone():
            _remove_registry(entry, pgid)
        return why


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lem_harness.serving.watchdog")
    parser.add_argument("entry")
    parser.add_argument("--pgid", type=int, required=True)
    parser.add_argument("--parent", type=int, default=None)
    parser.add_argument("--parent-ticks", type=int, default=None)
    parser.add_argument("--grace", type=float, default=15.0)
    parser.add_argument("--interval", type=float, default=INTERVAL_S)
    args = parser.parse_args(argv)
    watch(args.entry, args.pgid, args.parent, args.parent_ticks, args.grace, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
