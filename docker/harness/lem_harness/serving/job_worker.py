"""The worker of a Slurm job that runs the serving nodes of one server key on one server (issue 20 §2).
lem's Slurm runner (src/exec/slurm/server-job.ts) submits one such job per lane and key, whose script runs

    python -m lem_harness.serving.job_worker QUEUE_DIR [--harness CMD] [--heartbeat-timeout S] [--poll S]

QUEUE_DIR, on the shared folder, is the mailbox between lem (on the login node) and this worker:

    heartbeat              rewritten by lem every few seconds while the job lives. The worker compares its
                           contents, timed by its own clock, so the two machines' clocks never meet.
    node-<seq>.json        a node to run, written by lem (temp + rename): {"seq", "config_path", "log_path",
                           "last"}; the nodes run one at a time, lowest seq first.
    node-<seq>.exit.json   written by the worker (temp + rename) once that node's harness has exited:
                           {"seq", "exit_code", "signal"}. The result or error file is in the node's exchange
                           dir, as docker/PROTOCOL.md has it.
    done                   lem's word that no node follows: stop the servers and exit 0.

Each node runs as `python -m lem_harness` (a child, its output to log_path) with LEM_CONFIG_PATH, and
LEM_SERVER_DIR set to a registry folder of this job's own (lem-servers-* under $TMPDIR or /tmp on the
compute node), so serving/registry.py starts the key's server once and the next nodes reuse it. Its
LEM_PARENT_PID is this worker's pid (lem's would mean nothing here): a harness, and through the registry's
watchdog a server, goes when the worker is killed outright (scancel --signal=KILL) even where Slurm's
process tracking loses a detached process.

The worker stops every server of its registry and removes the folder however it ends: `done`; SIGTERM
(scancel, Slurm's time limit), which it first forwards to the running harness (which writes its Interrupted
payload); or lem gone, i.e. a heartbeat unchanged for --heartbeat-timeout seconds (default 60, or
LEM_JOB_HEARTBEAT_TIMEOUT_S), which also stops a running node: nobody would read its result.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, List, Optional

from ..protocol import write_json_atomic
from .registry import stop_all
from .watchdog import FOLDER_PREFIX

HEARTBEAT_FILE = "heartbeat"
DONE_FILE = "done"
NODE_FILE = re.compile(r"^node-(\d+)\.json$")
HEARTBEAT_TIMEOUT_S = 60.0
POLL_S = 0.2
# A harness that has not exited this long after SIGTERM is killed (Slurm's KillWait is usually 30 s).
CHILD_GRACE_S = 25.0
EXIT_DONE, EXIT_LEM_GONE, EXIT_INTERRUPTED = 0, 3, 143


def exit_file(queue: str, seq: int) -> str:
    return os.path.join(queue, f"node-{seq}.exit.json")


def say(message: str) -> None:
    print(f"[lem-job-worker] {message}", file=sys.stderr, flush=True)


class Heartbeat:
    """lem's heartbeat file, judged by this machine's clock: stale once its contents have not changed
    for timeout_s (a missing file counts as unchanged, so a lem that died before the job started is seen)."""

    def __init__(self, path: str, timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self.path, self.timeout_s, self.clock = path, timeout_s, clock
        self.seen = self._read()
        self.changed_at = clock()

    def _read(self) -> Optional[bytes]:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def stale(self) -> bool:
        now, contents = self.clock(), self._read()
        if contents != self.seen:
            self.seen, self.changed_at = contents, now
        return now - self.changed_at > self.timeout_s


def next_node(queue: str, handled: set) -> Optional[int]:
    """The lowest seq of a node file not yet handled."""
    try:
        names = os.listdir(queue)
    except OSError:
        return None
    seqs = [int(m.group(1)) for m in map(NODE_FILE.match, names) if m]
    waiting = sorted(s for s in seqs if s not in handled)
    return waiting[0] if waiting else None


def stop_servers(folder: str, why: str) -> None:
    """Every server the job's registry names (registry.py's own stop, under its lock), then the folder."""
    stop_all(folder, why)
    shutil.rmtree(folder, ignore_errors=True)


def _signal_name(returncode: Optional[int]) -> Optional[str]:
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


class Worker:
    def __init__(self, queue: str, harness: List[str], heartbeat_timeout_s: float = HEARTBEAT_TIMEOUT_S,
                 poll_s: float = POLL_S, child_grace_s: float = CHILD_GRACE_S, tmp: Optional[str] = None):
        """tmp: where the registry folder goes (default: $TMPDIR, else /tmp, on the compute node)."""
        self.queue = os.path.abspath(queue)
        self.harness = harness
        self.poll_s = poll_s
        self.child_grace_s = child_grace_s
        self.heartbeat = Heartbeat(os.path.join(self.queue, HEARTBEAT_FILE), heartbeat_timeout_s)
        self.registry = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}job-", dir=tmp)
        os.chmod(self.registry, 0o700)
        self.child: Optional[subprocess.Popen] = None
        self.interrupted = False
        self.forwarded = False

    def on_signal(self, signum, frame) -> None:
        """SIGTERM (scancel) or SIGINT: to the running harness once (Slurm may have signalled it too: a second
        SIGTERM would be held by it, but there is no need), then the loop ends."""
        self.interrupted = True
        if self.child is not None and self.child.poll() is None and not self.forwarded:
            self.forwarded = True
            try:
                self.child.send_signal(signal.SIGTERM)
            except OSError:
                pass

    def run(self) -> int:
        """Runs nodes until `done`, a signal or lem's silence; always stops the servers. Returns the exit code."""
        say(f"queue {self.queue}, server registry {self.registry}")
        why, code = "the job was stopped (SIGTERM)", EXIT_INTERRUPTED
        try:
            handled: set = set()
            while not self.interrupted:
                if os.path.exists(os.path.join(self.queue, DONE_FILE)):
                    why, code = "lem says the key's last node is done", EXIT_DONE
                    break
                if self.heartbeat.stale():
                    why, code = self.lem_gone, EXIT_LEM_GONE
                    break
                seq = next_node(self.queue, handled)
                if seq is None:
                    time.sleep(self.poll_s)
                    continue
                handled.add(seq)
                if not self.run_node(seq):
                    why, code = self.lem_gone, EXIT_LEM_GONE
                    break
        finally:
            say(f"stopping: {why}")
            stop_servers(self.registry, why)
        return code

    @property
    def lem_gone(self) -> str:
        return f"lem's heartbeat has not changed for {self.heartbeat.timeout_s:.0f} s (lem is gone)"

    def run_node(self, seq: int) -> bool:
        """One node's harness, to its end; False when lem went silent meanwhile (the node was stopped)."""
        try:
            with open(os.path.join(self.queue, f"node-{seq}.json"), encoding="utf-8") as f:
                node = json.load(f)
            config_path, log_path = node["config_path"], node["log_path"]
            out = open(log_path, "ab")
        except (OSError, ValueError, KeyError, TypeError) as e:
            # lem must not wait for a node that never runs: its exit marker says why.
            say(f"node {seq}: cannot run it ({e})")
            write_json_atomic(exit_file(self.queue, seq), {"seq": seq, "exit_code": None, "signal": None,
                                                           "error": f"the job worker could not start node-{seq}.json: {e}"})
            return True
        # New names only: the harness this runs is this worker's own package, never an older one.
        env = dict(os.environ, LEM_CONFIG_PATH=config_path, LEM_SERVER_DIR=self.registry, LEM_PARENT_PID=str(os.getpid()))
        env.pop("LEM_SERVER_LAST", None)
        if node.get("last"):
            env["LEM_SERVER_LAST"] = "1"
        say(f"node {seq}: {config_path}")
        lem_alive = True
        with out:
            self.forwarded = False
            self.child = subprocess.Popen(self.harness, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT)
            if self.interrupted:  # a signal between the loop's check and the start
                self.on_signal(signal.SIGTERM, None)
            stopped_at = None
            while self.child.poll() is None:
                if lem_alive and self.heartbeat.stale():
                    lem_alive = False
                    say(f"node {seq}: lem is gone; stopping its harness")
                    self.forwarded = True
                    self.child.send_signal(signal.SIGTERM)
                if self.forwarded and stopped_at is None:
                    stopped_at = time.monotonic()
                if stopped_at is not None and time.monotonic() - stopped_at > self.child_grace_s:
                    say(f"node {seq}: the harness did not exit {self.child_grace_s:.0f} s after SIGTERM; killing it")
                    self.child.kill()
                    self.child.wait()
                    break
                time.sleep(self.poll_s)
        rc = self.child.returncode
        self.child = None
        write_json_atomic(exit_file(self.queue, seq), {"seq": seq, "exit_code": rc if rc is not None and rc >= 0 else None,
                                                       "signal": _signal_name(rc)})
        say(f"node {seq}: the harness exited {rc}")
        return lem_alive


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lem_harness.serving.job_worker")
    parser.add_argument("queue")
    parser.add_argument("--harness", default=None, help="the harness command (sh words); default: this Python -m lem_harness")
    parser.add_argument("--heartbeat-timeout", type=float, default=None)
    parser.add_argument("--poll", type=float, default=POLL_S)
    parser.add_argument("--child-grace", type=float, default=CHILD_GRACE_S)
    args = parser.parse_args(argv)
    timeout = args.heartbeat_timeout
    if timeout is None:
        raw = os.environ.get("LEM_JOB_HEARTBEAT_TIMEOUT_S")
        timeout = float(raw) if raw else HEARTBEAT_TIMEOUT_S
    harness = shlex.split(args.harness) if args.harness else [sys.executable, "-m", "lem_harness"]
    worker = Worker(args.queue, harness, timeout, args.poll, args.child_grace)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, worker.on_signal)
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
