"""Servers shared by the serving nodes that need the same one (issue 20 §2): loading a model costs
seconds to minutes, so nodes with the same server key (lem's src/config/server-key.ts, given in the
envelope as `server_key`, never recomputed here) share one server, started once.

The registry is the folder LEM_SERVER_DIR, which lem's local runner makes for a build that measures
serving nodes one at a time (src/exec/server-registry.ts); without it each node starts and stops its
own server, as in Docker and Slurm. In the folder:

    lock                  flock(2)ed by whoever reads or changes the entries
    server-<key>.json     an entry: {key, pid, pgid, base_url, port, startup_s, log_path, watchdog_pid,
                          started_by: {hash, cycle}, started_at, label, command}
    server-<key>.log      that server's output (every node it served)

acquire(), under the lock:
- an entry of the same key whose process is alive and whose GET /health answers 200 is reused (its
  startup_s is the original start's);
- any other entry (another key, or this key's dead or unhealthy server) is stopped first: SIGTERM to its
  process group, SIGKILL after a grace period, wait until it is gone, remove the entry. Two servers never
  coexist: an idle one would be in the next node's energy;
- else a new server is started, detached from the harness (its own session, no parent-death signal: the
  harness exits after its node), with a watchdog (serving/watchdog.py, also detached) that stops it when
  lem is gone or its entry is removed; then the entry is written.

release(ok=False) after a node that failed or was interrupted stops the server and removes its entry
(requests of a broken load may still be running in it); the next node of the key starts a new one.
release(last=True), for the key's last node in the build (lem sets LEM_SERVER_LAST), stops it too.
lem stops whatever is left at the end of the build.

lem keeps one folder per lane of its scheduler (several nodes at once: each lane has its own folder,
so its own single server): the local runner's on the host, a container's or a Slurm job's inside it.
"""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from typing import Callable, List, Optional, Tuple

from ..log import log
from .. import processes as process_group

LOCK_FILE = "lock"
ENTRY_PREFIX = "server-"
HEALTH_TIMEOUT_S = 5.0


def entry_path(folder: str, key: str) -> str:
    return os.path.join(folder, f"{ENTRY_PREFIX}{key}.json")


def server_log(folder: str, key: str) -> str:
    return os.path.join(folder, f"{ENTRY_PREFIX}{key}.log")


def healthy(base_url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    """GET <base_url>/health answers 200 (never through a proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base_url.rstrip('/')}/health", timeout=timeout_s) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def write_entry(path: str, entry: dict) -> None:
    """Temp file beside it, then rename: a reader (another harness, the watchdog, lem) sees all or none."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(entry, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def read_entries(folder: str) -> List[Tuple[str, dict]]:
    """(path, entry) of every entry in the folder; an unreadable one as {} (it is stopped and removed)."""
    out = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return out
    for name in names:
        if not (name.startswith(ENTRY_PREFIX) and name.endswith(".json")):
            continue
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as f:
                entry = json.load(f)
        except (OSError, ValueError):
            entry = {}
        out.append((path, entry if isinstance(entry, dict) else {}))
    return out


class SharedServer:
    """A server from the registry, in place of the server object run_serving would start itself: the
    same attributes (pid, port, base_url, startup_s, log_path, label, running, returncode, command(),
    log_tail()), plus key, reused (started by an earlier node) and started_by."""

    def __init__(self, server, entry: dict, reused: bool):
        self.server = server  # TransformersServer or VllmServer: the command, label and log tail
        self.entry = entry
        self.reused = reused
        self.key = entry["key"]
        self.pid, self.pgid = entry["pid"], entry["pgid"]
        self.port, self.base_url = entry["port"], entry["base_url"]
        self.startup_s = entry["startup_s"]
        self.log_path = entry["log_path"]
        self.started_by = entry.get("started_by")
        self.label = server.label
        self.peak_rss_reset = False  # VmHWM reset when this node took a running server
        # Where this harness started the server it is its child: poll it for the exit status.
        self._proc = None if reused else getattr(server, "_proc", None)

    @property
    def running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return process_group.alive(self.pid)

    @property
    def returncode(self) -> Optional[int]:
        return self._proc.poll() if self._proc is not None else None

    @property
    def served_model_name(self) -> Optional[str]:
        return getattr(self.server, "served_model_name", None)

    def command(self, port: int) -> List[str]:
        return self.server.command(port)

    def log_tail(self, max_lines: int = 40, max_chars: int = 4000) -> str:
        return self.server.log_tail(max_lines, max_chars)


class Registry:
    def __init__(self, folder: str, parent_pid: Optional[str] = None, python: str = sys.executable):
        self.folder = folder
        self.parent = None
        try:
            self.parent = int(parent_pid) if parent_pid else None
        except ValueError:
            self.parent = None
        self.python = python
        self.watchdogs: List[subprocess.Popen] = []

    def log_of(self, key: str) -> str:
        """The log of key's server (every node it served)."""
        return server_log(self.folder, key)

    @contextmanager
    def locked(self):
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, LOCK_FILE), "a+") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    # ----- acquire -----

    def acquire(self, key: str, make: Callable[[str], object], started_by: dict) -> SharedServer:
        """The running server of `key`, or a new one. make(log_path): the server object, not started,
        without die_with_parent. Raises what server.start() raises (ServerStartError, Interrupted)."""
        if not key:
            raise ValueError("a shared server needs the envelope's server_key")
        with self.locked():
            for path, entry in read_entries(self.folder):
                if entry.get("key") == key:
                    usable = self._usable(entry)
                    if usable is None:
                        server = make(entry["log_path"])
                        log(f"reusing the shared server of key {key} (pid {entry['pid']}, started by "
                            f"{_node(entry.get('started_by'))} in {entry['startup_s']:.1f} s)")
                        shared = SharedServer(server, entry, reused=True)
                        shared.peak_rss_reset = _reset_peak_rss(entry["pid"])
                        return shared
                    self.stop_entry(path, entry, f"its server is unusable ({usable})")
                else:
                    self.stop_entry(path, entry, f"another key ({entry.get('key')}) needs the machine")
            return self._start(key, make, started_by)

    @staticmethod
    def _usable(entry: dict) -> Optional[str]:
        """None when the entry's server can be reused, else why not."""
        for field in ("pid", "pgid", "base_url", "port", "startup_s", "log_path"):
            if field not in entry:
                return f"the entry has no {field}"
        if not process_group.alive(entry["pid"]):
            return f"pid {entry['pid']} is gone"
        try:
            if os.getpgid(entry["pid"]) != entry["pgid"]:
                return f"pid {entry['pid']} is another process now"
        except OSError:
            return f"pid {entry['pid']} is gone"
        if not healthy(entry["base_url"]):
            return f"GET {entry['base_url']}/health does not answer 200"
        return None

    def _start(self, key: str, make: Callable[[str], object], started_by: dict) -> SharedServer:
        path = entry_path(self.folder, key)
        log_path = server_log(self.folder, key)
        server = make(log_path)
        log(f"starting the server (shared, key {key}; log {log_path})")
        server.start()  # a failed or interrupted start stops what it started
        try:
            server.disown()
            watchdog_pid = self._start_watchdog(path, server.pid, getattr(server, "stop_timeout_s", 15.0))
            entry = {
                "key": key, "pid": server.pid, "pgid": server.pid, "base_url": server.base_url, "port": server.port,
                "startup_s": server.startup_s, "log_path": log_path, "watchdog_pid": watchdog_pid,
                "started_by": started_by, "started_at": time.time(), "label": server.label,
                "command": server.command(server.port),
            }
            write_entry(path, entry)
        except BaseException:
            server.stop()
            raise
        return SharedServer(server, entry, reused=False)

    def _start_watchdog(self, entry: str, pgid: int, grace_s: float) -> Optional[int]:
        harness = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (harness, os.environ.get("PYTHONPATH")) if p))
        cmd = [self.python, "-m", "lem_harness.serving.watchdog", entry, "--pgid", str(pgid), "--grace", str(grace_s)]
        if self.parent:
            ticks = process_group.start_ticks(self.parent)
            cmd += ["--parent", str(self.parent)] + (["--parent-ticks", str(ticks)] if ticks is not None else [])
        with open(os.path.join(self.folder, "watchdog.log"), "ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True, close_fds=True)
        self.watchdogs.append(proc)  # outlives this process; kept so no "still running" warning at collection
        return proc.pid

    # ----- stop -----

    def stop_entry(self, path: Optional[str], entry: dict, why: str, reap: Optional[Callable[[], object]] = None) -> None:
        """Stops an entry's server (its whole process group) and its watchdog, then removes the entry
        file at path (None: no file to remove). Call under the lock."""
        pgid = entry.get("pgid")
        grace = 30.0 if entry.get("label") == "vllm serve" else 15.0
        if isinstance(pgid, int) and process_group.group_alive(pgid):
            log(f"stopping the shared server of key {entry.get('key')} (pid {entry.get('pid')}): {why}")
            if not process_group.stop_group(pgid, grace, reap):
                log(f"process group {pgid} is still there after SIGKILL")
        elif reap is not None:
            reap()
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        watchdog = entry.get("watchdog_pid")
        if isinstance(watchdog, int):
            process_group.signal_group(watchdog, signal.SIGTERM)  # its own session: its group is its pid

    def release(self, shared: SharedServer, ok: bool, last: bool = False) -> None:
        """After the node: a server that served a whole load stays for the next node of its key, unless
        this was the key's last node (LEM_SERVER_LAST); after a failure or an interruption it is stopped
        (a broken load may still be running in it)."""
        if ok and not last:
            return
        with self.locked():
            path = entry_path(self.folder, shared.key)
            entries = dict(read_entries(self.folder))
            entry = entries.get(path)
            if entry is not None and entry.get("pid") != shared.pid:
                entry = None  # already replaced by another node's server: not ours to stop
            proc = shared._proc
            why = "the node using it failed or was stopped" if not ok else "no later node of its key in this build"
            self.stop_entry(path if entry is not None else None, entry or shared.entry, why,
                            reap=proc.poll if proc is not None else None)


def _node(started_by) -> str:
    if isinstance(started_by, dict):
        return f"node {started_by.get('hash')} #{started_by.get('cycle')}"
    return "an earlier node"


def _reset_peak_rss(pid: int) -> bool:
    """Resets the server's VmHWM to its current RSS (clear_refs 5, Linux >= 4.0), so the peak memory a
    node records is its own load's, not an earlier node's. False where it could not."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def stop_all(folder: str, why: str) -> int:
    """Stops every server a registry folder names (and their watchdogs), removing the entries; returns
    how many it stopped. A missing folder names none."""
    if not os.path.isdir(folder):
        return 0
    registry = Registry(folder)
    with registry.locked():
        entries = read_entries(folder)
        for path, entry in entries:
            registry.stop_entry(path, entry, why)
    return len(entries)


def main(argv=None) -> int:
    """python -m lem_harness.serving.registry stop FOLDER...: lem, at a build's end, stops what the
    registries inside a container it keeps (persistent services) still hold."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 1 or args[0] != "stop":
        print("usage: python -m lem_harness.serving.registry stop FOLDER...", file=sys.stderr)
        return 2
    stopped = sum(stop_all(folder, "the build is over") for folder in args[1:])
    log(f"stopped {stopped} shared server(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
