"""Start and stop a `vllm serve` process (vLLM's OpenAI-compatible server), and read how many requests
it runs at once from its Prometheus /metrics.

UNTESTED ON A GPU: the command, the process handling (TransformersServer's: own process group,
parent-death signal, SIGTERM then SIGKILL) and the readiness check (the first 200 from GET /health,
which vLLM answers once the engine is up) are unit-tested here against a stand-in server only. What it
relies on, from vLLM's documentation and source (v0.6.3, the version lem's vLLM image pins, and later):

- `vllm serve <model>` with --host, --port, --dtype, --seed, --max-num-seqs, --gpu-memory-utilization,
  --tensor-parallel-size, --enforce-eager, --max-model-len, --enable-prefix-caching (from 0.7 also
  --no-enable-prefix-caching, needed since the V1 engine turns prefix caching on by default) and
  --served-model-name;
- GET /health is 200 once the engine is ready; GET /metrics has the gauge vllm:num_requests_running
  (one series per model name);
- POST /v1/completions takes a list of token ids as `prompt`, `ignore_eos`, and
  stream_options.include_usage for the token counts in the last chunk.

The KV cache is capped by gpu_memory_utilization (vLLM preallocates that share of the GPU's memory).
"""

import os
import re
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import List, Optional, Sequence, Tuple

from .server import TransformersServer

SERVED_MODEL_NAME = "lem"  # requests name the model so; keeps local paths out of request bodies
RUNNING_GAUGE = "vllm:num_requests_running"
PREFIX_CACHING_SWITCH_FROM = (0, 7)  # --no-enable-prefix-caching exists from here (BooleanOptionalAction)
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def version_tuple(version: Optional[str]) -> Optional[Tuple[int, int]]:
    numbers = re.findall(r"\d+", version or "")
    return (int(numbers[0]), int(numbers[1])) if len(numbers) >= 2 else None


def vllm_version() -> Optional[str]:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:
        return None
    try:
        return version("vllm")
    except PackageNotFoundError:
        return None


def vllm_executable(python: str = sys.executable) -> Optional[str]:
    """The `vllm` console script of this Python's environment, else the one on PATH."""
    beside = os.path.join(os.path.dirname(python), "vllm")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("vllm")


def engine_args(engine: dict, precision: str, seed: int, version: Optional[str]) -> List[str]:
    """`vllm serve` flags for the config's vllm.engine section, precision and random_seed."""
    args = ["--dtype", DTYPES[precision], "--seed", str(seed),
            "--max-num-seqs", str(engine["max_num_seqs"]),
            "--gpu-memory-utilization", str(engine["gpu_memory_utilization"]),
            "--tensor-parallel-size", str(engine["tensor_parallel_size"])]
    if engine.get("enforce_eager"):
        args.append("--enforce-eager")
    if engine.get("max_model_len") is not None:
        args += ["--max-model-len", str(engine["max_model_len"])]
    if engine.get("enable_prefix_caching"):
        args.append("--enable-prefix-caching")
    else:
        parsed = version_tuple(version)
        if parsed is not None and parsed >= PREFIX_CACHING_SWITCH_FROM:
            args.append("--no-enable-prefix-caching")  # V1 turns it on by default; older vLLMs have it off
    return args


class VllmServer(TransformersServer):
    """One `vllm serve` process; the same context manager and attributes as TransformersServer."""

    label = "vllm serve"

    def __init__(self, model: str, log_path: str, engine_flags: Sequence[str] = (),
                 gpu_memory_utilization: float = 0.9, executable: Optional[str] = None,
                 served_model_name: str = SERVED_MODEL_NAME, startup_timeout_s: float = 1200.0,
                 stop_timeout_s: float = 30.0, **kwargs):
        # gpu_memory_utilization is vLLM's cap on the KV cache: the base class's max_memory_percent.
        super().__init__(model, log_path, device="cuda", max_memory_percent=gpu_memory_utilization,
                         startup_timeout_s=startup_timeout_s, stop_timeout_s=stop_timeout_s, **kwargs)
        self.engine_flags = list(engine_flags)
        self.executable = executable if executable is not None else vllm_executable(self.python)
        self.served_model_name = served_model_name

    def unavailable(self) -> Optional[str]:
        if not self.executable:
            return (f"no `vllm` command beside {self.python} or on PATH; backend vllm's serving scenario runs "
                    "in lem's vLLM image (a CUDA GPU image with vllm installed)")
        return None

    def command(self, port: int) -> List[str]:
        return ([self.executable or "vllm", "serve", self.model, "--host", self.host, "--port", str(port),
                 "--served-model-name", self.served_model_name] + self.engine_flags + self.extra_args)


def running_requests(metrics_text: str, gauge: str = RUNNING_GAUGE) -> Optional[float]:
    """The gauge's value summed over its series (one per model name) in a Prometheus text exposition,
    or None when it is not there."""
    total, seen = 0.0, False
    for line in metrics_text.splitlines():
        if not line.startswith(gauge):
            continue
        rest = line[len(gauge):]
        if rest and rest[0] not in "{ \t":
            continue  # another metric whose name starts with this one
        if rest.startswith("{"):
            close = rest.find("}")
            if close < 0:
                continue
            rest = rest[close + 1:]
        fields = rest.split()
        if not fields:
            continue
        try:
            total += float(fields[0])
        except ValueError:
            continue
        seen = True
    return total if seen else None


class MetricsPoller:
    """Reads the running-requests gauge from GET <base_url>/metrics every interval_s in a thread:
    samples [(time.monotonic(), running)], and the last error where a read failed."""

    def __init__(self, base_url: str, interval_s: float = 0.25, gauge: str = RUNNING_GAUGE, timeout_s: float = 2.0):
        self.url = f"{base_url.rstrip('/')}/metrics"
        self.interval_s, self.gauge, self.timeout_s = interval_s, gauge, timeout_s
        self.samples: List[Tuple[float, float]] = []
        self.failures = 0
        self.error: Optional[str] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def read_once(self) -> None:
        try:
            with self._opener.open(self.url, timeout=self.timeout_s) as response:
                text = response.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as e:
            self.failures += 1
            self.error = f"GET {self.url}: {e}"
            return
        value = running_requests(text, self.gauge)
        if value is None:
            self.failures += 1
            self.error = f"{self.gauge} is not in {self.url}"
            return
        self.samples.append((time.monotonic(), value))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.read_once()

    def start(self) -> "MetricsPoller":
        self.read_once()
        self._thread = threading.Thread(target=self._run, name="lem-metrics-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def batch_utilisation(samples: Sequence[Tuple[float, float]], start: float, end: float,
                      batch: int) -> Tuple[Optional[float], Optional[str]]:
    """(mean running requests over [start, end] ÷ batch, None) or (None, why): samples on the same clock
    as start and end."""
    inside = [v for t, v in samples if start <= t <= end]
    if not inside:
        return None, "no /metrics reading inside the steady-state window"
    return (sum(inside) / len(inside)) / batch, None
