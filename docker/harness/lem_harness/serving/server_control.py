"""scenario serving's server, per node or shared: making it, watching it through a load, its memory, and
stopping it (or leaving a shared one for the next node of its key)."""


import asyncio
import signal
import threading
from typing import List, Optional

from ..env import lem_env
from ..errors import Interrupted, ServerFailed
from ..log import log
from .client import run_load
from .inputs import server_log_path


DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
WATCH_INTERVAL_S = 0.2
TRANSFORMERS_STARTUP_TIMEOUT_S = 900.0
TRANSFORMERS_DEFAULT_BATCH_TOKENS = 8192  # transformers' PagedAttentionMemoryHandler._default_max_batch_tokens


def max_batch_tokens(engine: dict) -> int:
    """serving.engine.max_batch_tokens, or where null min(8192, num_blocks × block_size): transformers
    serve's own default (8192, when neither it nor num_blocks is given) within the KV cache. Never left to
    the server: given num_blocks without it, transformers serve 5.17 sizes the batch's activation buffers to
    the free memory, which on a CPU took 20 GB of RAM and a minute for a tiny model's first request."""
    if engine.get("max_batch_tokens"):
        return engine["max_batch_tokens"]
    return min(TRANSFORMERS_DEFAULT_BATCH_TOKENS, engine["num_blocks"] * engine["block_size"])


def make_server(config: dict, kind: str, model: str, log_path: str, device: str, offline: bool,
                die_with_parent: bool = True):
    """The server object (not started) and its effective settings. die_with_parent False: a shared server
    (serving/registry.py), which outlives the harness that starts it."""
    if kind == "transformers":
        from .server import TransformersServer

        engine, section = config["serving"]["engine"], config["pytorch"]
        env = {}
        if section.get("num_threads"):
            env["OMP_NUM_THREADS"] = str(section["num_threads"])
        server = TransformersServer(
            model, log_path, device="cuda:0" if device == "cuda" else "cpu", num_blocks=engine["num_blocks"],
            block_size=engine["block_size"], max_batch_tokens=max_batch_tokens(engine),
            dtype=DTYPES[config["precision"]], attn_implementation=section.get("attn_implementation"),
            env=env, offline=offline, startup_timeout_s=TRANSFORMERS_STARTUP_TIMEOUT_S, die_with_parent=die_with_parent)
        return server
    from .vllm_server import VllmServer, engine_args, vllm_version

    engine = config["vllm"]["engine"]
    flags = engine_args(engine, config["precision"], config["random_seed"], vllm_version())
    return VllmServer(model, log_path, engine_flags=flags, gpu_memory_utilization=engine["gpu_memory_utilization"],
                      offline=offline, die_with_parent=die_with_parent)


def _exit_text(rc: Optional[int]) -> str:
    if rc is None:
        return "stopped answering"
    if rc < 0:
        try:
            return f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"was killed by signal {-rc}"
    return f"exited with code {rc}"


def server_died(server, when: str) -> ServerFailed:
    proc = getattr(server, "_proc", None)
    rc = proc.poll() if proc is not None else server.returncode
    # A shared server started by an earlier harness is no child of this one: its exit status is unknown.
    what = "is gone" if rc is None and getattr(server, "reused", False) and not server.running else _exit_text(rc)
    return ServerFailed(f"{server.label} {what} {when} (log {server.log_path}); log tail:\n"
                        f"{server.log_tail()}")


def stop_server(server, stop=None) -> None:
    """Stops the server (or runs `stop`, e.g. the registry's release). A SIGTERM meanwhile must not cut
    the teardown short: it is held until the server is gone, then raised as Interrupted (main thread only;
    elsewhere signals are the main thread's)."""
    stop = stop or server.stop
    if threading.current_thread() is not threading.main_thread():
        stop()
        return
    held = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: held.append(signum))
    try:
        stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if held and previous not in (signal.SIG_IGN, signal.SIG_DFL, None):
        raise Interrupted("SIGTERM")


def server_memory(server, device: str, cuda_devices: List[int], visible: Optional[str]) -> dict:
    """Peak memory of the server, read before it stops: its peak RSS on a CPU (VmHWM), the GPUs' used
    memory after the load on CUDA (device-wide)."""
    if device == "cuda":
        from ..energy.devices import resolve_devices
        from ..energy.nvml import Nvml, NvmlError

        try:
            nvml = Nvml.get()
            devices = resolve_devices(nvml, cuda_devices, None, visible).devices
            used = sum(nvml.memory_info(d.handle).used for d in devices)
        except (NvmlError, ValueError, IndexError, AttributeError) as e:
            return {"peak_bytes": None, "device": "cuda", "method": f"unavailable: NVML memory info ({e})"}
        return {"peak_bytes": int(used), "device": "cuda",
                "method": "nvmlDeviceGetMemoryInfo.used after the load (device-wide: the server's weights, its "
                          "preallocated KV cache and anything else on the GPU)"}
    path = f"/proc/{server.pid}/status"
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    kib = int(line.split()[1])
                    return {"peak_bytes": kib * 1024, "device": "cpu",
                            "method": f"VmHWM of the server process ({path}: its peak RSS)"}
    except (OSError, ValueError, IndexError) as e:
        return {"peak_bytes": None, "device": "cpu", "method": f"unavailable: {path} unreadable ({e})"}
    return {"peak_bytes": None, "device": "cpu", "method": f"unavailable: no VmHWM in {path}"}


# ----- the load -----

async def _watched(server, coroutine, when: str):
    """Runs the load; fails with ServerFailed as soon as the server process is gone."""
    task = asyncio.ensure_future(coroutine)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=WATCH_INTERVAL_S)
            if task in done:
                return task.result()
            if not server.running:
                raise server_died(server, when)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def send(server, prompts, arrivals, when: str, **kwargs):
    return asyncio.run(_watched(server, run_load(server.base_url, prompts, arrivals, **kwargs), when))




def server_last(environ=None) -> bool:
    """lem says this is the last node of its server key in the build (LEM_SERVER_LAST=1): the shared
    server is stopped after it rather than left idle until the build ends."""
    return lem_env("SERVER_LAST", environ) == "1"


def shared_registry(envelope: dict, environ=None):
    """The registry of shared servers (serving/registry.py) where lem gives one (LEM_SERVER_DIR) and the
    envelope names the node's server key; else None: the node starts and stops its own server."""
    folder = lem_env("SERVER_DIR", environ)
    if not folder:
        return None
    if not envelope.get("server_key"):
        log("LEM_SERVER_DIR is set but the envelope has no server_key: this node starts its own server")
        return None
    from .registry import Registry

    return Registry(folder, lem_env("PARENT_PID", environ))


def keep_shared_log(shared_log: str, envelope: dict) -> str:
    """A failed node keeps a copy of its shared server's log in its exchange dir (lem removes the registry
    folder at the end of the build): <hash>_server.log, as an unshared server's. Returns where the log is."""
    import shutil

    kept = server_log_path(envelope)
    try:
        shutil.copyfile(shared_log, kept)
    except OSError:
        return shared_log
    return kept


# ----- the run -----
