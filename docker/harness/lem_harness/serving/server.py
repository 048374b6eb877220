"""Start and stop a `transformers serve --continuous-batching` process for a local model folder.

    with TransformersServer(folder, log_path, device="cpu", num_blocks=16, block_size=32) as server:
        run_load_sync(server.base_url, ...)
    # the server's whole process group is gone here, whatever happened inside

What transformers 5.17's `transformers serve` does, checked against the real server and its source
(transformers/cli/serve.py, cli/serving/*):

- Flags for continuous batching: --continuous-batching, --cb-block-size (tokens per KV block, default
  256), --cb-num-blocks, --cb-max-batch-tokens, --cb-max-memory-percent (0-1), --cb-use-cuda-graph. There
  is no flag for the maximum number of requests in a batch (ContinuousBatchingConfig's
  max_requests_per_batch, inferred, fallback 1024): the batch is bounded by the KV blocks and
  --cb-max-batch-tokens. Other flags used here: --device (auto/cpu/cuda:0), --dtype, --host (default
  localhost), --port (default 8000), --log-level (default warning), --attn-implementation.
- The KV cache must always be capped: left to itself the paged cache takes 90 % of the *free* memory of
  the device, and on a CPU that is 90 % of the machine's RAM (psutil). This class refuses to start without
  num_blocks or max_memory_percent.
- The positional FORCE_MODEL (our folder) is loaded before uvicorn binds the port, so the first 200 from
  GET /health means the weights are in memory. /health answers {"status": "ok"}, or 503 once the
  continuous-batching worker has died. GET /v1/models is no readiness signal: it lists the Hub cache,
  so a local folder is not in it ({"object": "list", "data": []}). The continuous-batching manager and
  its KV cache are only built on the first completion request (with that request's generation config
  as the batch's shared sampling settings): warm the server up before measuring.
- Requests may omit "model" (the server is pinned to the folder; another name is refused with 400);
  responses name the model "<folder>@main".
- Offline: HF_HUB_OFFLINE=1 is honoured ("forcing local_files_only=True"); the CLI also asks PyPI for a
  newer transformers at start unless HF_HUB_DISABLE_UPDATE_CHECK=1, which is set here. The Hub cache
  folder (HF_HUB_CACHE, default ~/.cache/huggingface/hub) must exist: without it the server still starts
  and completes, but GET /v1/models answers 500 (huggingface_hub CacheNotFound). It is created here.
- Measured on a 2-core CPU box, tiny random Llama (hf_folder preset tiny), --device cpu, 16 blocks of
  32 tokens: ready in 6.5-11 s (almost all of it importing torch and transformers), ~410 MB RSS; 32
  concurrent streams of 32 tokens took 3.1 s; SIGTERM to exit took 2.4 s (the batching manager's stop
  waits up to 2 s). `transformers serve --help` alone takes ~7 s.

Teardown: the server runs in its own session (process group), so stop() signals the whole group,
SIGTERM then SIGKILL after stop_timeout_s, and waits until no process of the group is left. With
die_with_parent (Linux), the server also gets SIGTERM if the process that started it dies without
stopping it (PR_SET_PDEATHSIG, set by a tiny launcher before it execs the server). That signal follows
the *thread* that started the server: start it from a thread that lives as long as the server.
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import List, Optional, Sequence

from ..errors import ServerFailed
from ..processes import group_alive

PORT_RETRIES = 3
POLL_INTERVAL_S = 0.2
# Sets PR_SET_PDEATHSIG (1) to SIGTERM, gives up if the parent is already gone, then becomes the server.
LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
    "except Exception:\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class ServerStartError(ServerFailed):
    """The server exited or was not ready before it served anything."""

    type = "ServerStartError"


def serve_unavailable() -> Optional[str]:
    """Why `transformers serve` cannot run in this Python (None when it can)."""
    try:
        import transformers  # noqa: F401
        from transformers.utils.import_utils import is_serve_available
    except ImportError as e:
        return f"transformers is not installed ({e})"
    if not is_serve_available():
        return "transformers' serving extra is missing (fastapi, uvicorn, openai): pip install 'transformers[serving]'"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS's pick; another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class TransformersServer:
    """One `transformers serve --continuous-batching` process; a context manager (start on enter, stop on
    exit, exception or not). Attributes once started: base_url, pid (also the process group id),
    startup_s (launch to the first 200 from /health), port."""

    label = "transformers serve"  # names the server in errors (a subclass runs another server)

    def __init__(self, model: str, log_path: str, device: str = "auto", num_blocks: Optional[int] = None,
                 block_size: Optional[int] = None, max_batch_tokens: Optional[int] = None,
                 max_memory_percent: Optional[float] = None, host: str = "127.0.0.1", port: Optional[int] = None,
                 dtype: Optional[str] = None, attn_implementation: Optional[str] = None,
                 extra_args: Sequence[str] = (), env: Optional[dict] = None, offline: bool = True,
                 startup_timeout_s: float = 300.0, stop_timeout_s: float = 15.0, log_level: str = "info",
                 python: str = sys.executable, die_with_parent: bool = True):
        if num_blocks is None and max_memory_percent is None:
            raise ValueError("cap the KV cache: give num_blocks (with block_size) or max_memory_percent; "
                             "uncapped, transformers serve takes 90% of free memory (90% of RAM on a CPU)")
        for name, value in (("num_blocks", num_blocks), ("block_size", block_size),
                            ("max_batch_tokens", max_batch_tokens)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if max_memory_percent is not None and not 0 < max_memory_percent <= 1:
            raise ValueError(f"max_memory_percent is a fraction in (0, 1], got {max_memory_percent!r}")
        self.model = model
        self.log_path = log_path
        self.device = device
        self.num_blocks, self.block_size = num_blocks, block_size
        self.max_batch_tokens, self.max_memory_percent = max_batch_tokens, max_memory_percent
        self.host = host
        self.requested_port = port
        self.port: Optional[int] = None
        self.dtype, self.attn_implementation = dtype, attn_implementation
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.offline = offline
        self.startup_timeout_s, self.stop_timeout_s = startup_timeout_s, stop_timeout_s
        self.log_level = log_level
        self.python = python
        self.die_with_parent = die_with_parent
        self.startup_s: Optional[float] = None
        self.returncode: Optional[int] = None
        self.pid: Optional[int] = None
        self._proc: Optional[subprocess.Popen] = None
        self._log = None

    # ----- the command -----

    def command(self, port: int) -> List[str]:
        cmd = [self.python, "-m", "transformers.cli.transformers", "serve", self.model, "--continuous-batching",
               "--host", self.host, "--port", str(port), "--device", self.device, "--log-level", self.log_level]
        for flag, value in (("--cb-num-blocks", self.num_blocks), ("--cb-block-size", self.block_size),
                            ("--cb-max-batch-tokens", self.max_batch_tokens),
                            ("--cb-max-memory-percent", self.max_memory_percent),
                            ("--dtype", self.dtype), ("--attn-implementation", self.attn_implementation)):
            if value is not None:
                cmd += [flag, str(value)]
        return cmd + self.extra_args

    def environment(self) -> dict:
        env = dict(os.environ)
        env.update(HF_HUB_DISABLE_UPDATE_CHECK="1", PYTHONUNBUFFERED="1")
        if self.offline:
            env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        env.update(self.extra_env)
        cache = env.get("HF_HUB_CACHE") or os.path.join(
            env.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
        try:
            os.makedirs(cache, exist_ok=True)
        except OSError as e:
            raise ServerStartError(f"the Hugging Face cache folder {cache} cannot be created ({e}); "
                                   "set HF_HUB_CACHE to a writable folder") from e
        return env

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "localhost") else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ----- start -----

    def start(self) -> "TransformersServer":
        if self._proc is not None:
            raise RuntimeError("the server is already started")
        reason = self.unavailable()
        if reason:
            raise ServerStartError(f"{self.label} cannot run: {reason}")
        if os.path.isabs(self.model) and not os.path.isdir(self.model):  # else a Hugging Face id
            raise ServerStartError(f"model folder {self.model} does not exist")
        env = self.environment()
        try:
            for attempt in range(PORT_RETRIES):
                port = self.requested_port or free_port(self.host if self.host != "localhost" else "127.0.0.1")
                if self._launch(port, env):
                    return self
                # The port was taken between free_port and the server binding it: try another.
                self._reap()
                if self.requested_port:
                    break
            raise ServerStartError(f"{self.label} could not bind a port on {self.host}; log tail:\n"
                                   f"{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def unavailable(self) -> Optional[str]:
        """Why the server cannot run here (None when it can); checked before anything starts."""
        return serve_unavailable() if self.python == sys.executable else None  # another Python: it tells

    def _launch(self, port: int, env: dict) -> bool:
        """Starts the process and waits for /health. False when it lost its port; raises on other failures."""
        self.port = port
        self._log = open(self.log_path, "ab")
        cmd = self.command(port)
        self._log.write(("$ " + " ".join(cmd) + "\n").encode())
        self._log.flush()
        if self.die_with_parent and sys.platform.startswith("linux"):
            cmd = [self.python, "-c", LAUNCHER, str(os.getpid())] + cmd
        t0 = time.monotonic()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True, close_fds=True)
        self.pid = self._proc.pid
        atexit.register(self.stop)
        url = f"{self.base_url}/health"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
        while True:
            rc = self._proc.poll()
            if rc is not None:
                self.returncode = rc
                tail = self.log_tail()
                if "address already in use" in tail.lower():
                    return False
                raise ServerStartError(f"{self.label} exited with code {rc} before it was ready "
                                       f"(log {self.log_path}); log tail:\n{tail}")
            try:
                with opener.open(url, timeout=2) as response:
                    if response.status == 200 and self._proc.poll() is None:
                        self.startup_s = time.monotonic() - t0
                        return True
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - t0 > self.startup_timeout_s:
                raise ServerStartError(f"{self.label} was not ready after {self.startup_timeout_s:.0f} s "
                                       f"(log {self.log_path}); log tail:\n{self.log_tail()}")
            time.sleep(POLL_INTERVAL_S)

    # ----- stop -----

    def _reap(self) -> None:
        """Stops the current process group (if any) and forgets the process."""
        proc, pgid = self._proc, self.pid
        if proc is not None:
            if proc.poll() is None:
                self._signal_group(pgid, signal.SIGTERM)
                try:
                    proc.wait(timeout=self.stop_timeout_s)
                except subprocess.TimeoutExpired:
                    self._signal_group(pgid, signal.SIGKILL)
                    proc.wait()
            self.returncode = proc.returncode
            # Anything the server started that outlived it (same group): gone too.
            self._signal_group(pgid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def _signal_group(pgid: Optional[int], sig: int) -> None:
        if pgid is None:
            return
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after stop_timeout_s, then wait for the group to
        be empty. Safe to call more than once, or on a server that never started."""
        self._reap()
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass

    def disown(self) -> None:
        """Leaves the started server running when this process exits (no stop at exit): for a server
        shared by several nodes (serving/registry.py), which another process stops. Start it with
        die_with_parent=False too."""
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass

    def __enter__(self) -> "TransformersServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----- the log -----

    def log_tail(self, max_lines: int = 40, max_chars: int = 4000) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                text = f.read().decode("utf-8", errors="replace")
        except OSError as e:
            return f"(log {self.log_path} unreadable: {e})"
        return "\n".join(text.splitlines()[-max_lines:])[-max_chars:]
