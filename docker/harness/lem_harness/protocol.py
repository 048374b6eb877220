"""The host↔harness exchange (docker/PROTOCOL.md): read {hash}_config.json, write a result or an error."""

import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Optional

from .env import lem_env
from .errors import HarnessError, Interrupted
from .log import log
from .processes import alive

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 143


def write_json_atomic(path: str, payload: dict) -> None:
    """Temp file in the same folder, fsync, rename: a reader sees the whole file or none."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, allow_nan=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the rename is still atomic


def exchange_paths(config_path: str, envelope: Optional[dict]) -> tuple:
    folder = os.path.dirname(os.path.abspath(config_path))
    name = os.path.basename(config_path)
    if envelope and isinstance(envelope.get("hash"), str):
        prefix = envelope["hash"]
    elif name.endswith("_config.json"):
        prefix = name[: -len("_config.json")]
    else:
        prefix = "unknown"
    return (os.path.join(folder, f"{prefix}_result.json"), os.path.join(folder, f"{prefix}_error.json"))


def error_payload(kind: str, message: str, tb: str = "") -> dict:
    return {"type": kind, "message": message, "traceback": tb}


def _on_sigterm(signum, frame):
    raise Interrupted("SIGTERM")


def _parent_alive(pid: int, watch_ppid: bool) -> bool:
    if watch_ppid:
        return os.getppid() == pid
    return alive(pid)


def start_parent_watchdog(raw_pid: Optional[str]) -> None:
    """Exit without a result once LEM_PARENT_PID dies, so a SIGKILLed lem leaves no orphan."""
    if not raw_pid:
        return
    try:
        pid = int(raw_pid)
    except ValueError:
        log(f"ignoring LEM_PARENT_PID={raw_pid!r}: not a process id")
        return
    # When lem is our direct parent, re-parenting is the surest sign it died (pids can be reused).
    watch_ppid = os.getppid() == pid

    def watch():
        while True:
            time.sleep(1.0)
            if not _parent_alive(pid, watch_ppid):
                try:
                    log(f"parent process {pid} is gone; exiting")
                except Exception:
                    pass  # stderr was a pipe to the dead parent: EPIPE must not stop the exit
                os._exit(EXIT_INTERRUPTED)

    threading.Thread(target=watch, name="lem-parent-watchdog", daemon=True).start()


def _read_envelope(config_path: str) -> dict:
    from .errors import ConfigError

    try:
        with open(config_path, encoding="utf-8") as f:
            envelope = json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read config file {config_path}: {e.strerror}") from e
    except ValueError as e:
        raise ConfigError(f"config file {config_path} is not valid JSON: {e}") from e
    if not isinstance(envelope, dict) or not isinstance(envelope.get("config"), dict):
        raise ConfigError(f"config file {config_path} has no 'config' object (see docker/PROTOCOL.md)")
    if envelope.get("protocol_version", 1) != 1:
        raise ConfigError(f"protocol_version {envelope.get('protocol_version')!r} is not supported (expected 1)")
    return envelope


def _import_experiment():
    try:
        from .experiment import run_experiment
    except ImportError as e:
        if getattr(e, "name", None) != "torch":
            raise
        from .errors import BackendUnavailable

        raise BackendUnavailable(
            f"torch is not importable by {sys.executable} ({e}); run the harness with a Python that has torch "
            "(`npx lem setup` makes lem's venv; or pip install -r docker/harness/requirements.txt) or use a lem image"
        ) from e
    return run_experiment


def main() -> int:
    # Before torch loads: OpenMP threads that spin while they wait steal the cores OpenBLAS's own
    # threads need (fp32 matmuls), which made CPU decoding ~10x slower here (ITL 64 ms vs 6 ms for
    # synthetic:small). A caller's own setting wins; the value used is recorded in effective_config.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config_path = lem_env("CONFIG_PATH")
    if not config_path:
        log("LEM_CONFIG_PATH (or its old name LLEM_CONFIG_PATH) is not set; nothing to run (see docker/PROTOCOL.md)")
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    start_parent_watchdog(lem_env("PARENT_PID"))
    envelope = None
    result_path, error_path = exchange_paths(config_path, None)
    try:
        envelope = _read_envelope(config_path)
        result_path, error_path = exchange_paths(config_path, envelope)
        run_experiment = _import_experiment()
        result = run_experiment(envelope)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the work is done: finish writing it
        write_json_atomic(result_path, result)
        log(f"wrote {result_path}")
        return EXIT_OK
    except Interrupted as e:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the payload short
        write_json_atomic(error_path, error_payload(e.type, e.message, traceback.format_exc()))
        log(e.message)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        write_json_atomic(error_path, error_payload("Interrupted", "interrupted by SIGINT", traceback.format_exc()))
        return 130
    except HarnessError as e:
        write_json_atomic(error_path, error_payload(e.type, e.message, traceback.format_exc()))
        log(f"{e.type}: {e.message}")
        return EXIT_FAILED
    except BaseException as e:  # a bug or a library failure: keep the trace for the host
        kind = type(e).__name__
        if "OutOfMemory" in kind or "out of memory" in str(e).lower():
            kind = "OutOfMemory"
        write_json_atomic(error_path, error_payload(kind, str(e) or kind, traceback.format_exc()))
        log(f"{kind}: {e}")
        return EXIT_FAILED
