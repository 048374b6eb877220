"""scenario serving (issue 20): an inference server measured under an open-loop request load.

    model      a local Hugging Face folder or id as given; synthetic:<preset> saved once as a folder (model_cache)
    server     backend pytorch: `transformers serve --continuous-batching` (server.TransformersServer), its
               KV cache always capped (serving.engine); backend vllm: `vllm serve` (vllm_server.VllmServer,
               untested on a GPU). Its log is <hash>_server.log in the exchange dir, which lem keeps when the
               node fails. Start-up is timed and lies outside every energy window.
    prompts    the offline scenario's seeded prompts (prompts.build_prompts, num_requests of them) of at most
               max_input_tokens tokens; transformers serve takes text only, so they are decoded with the
               model's tokenizer (the server re-encodes them: input tokens are the server's usage counts);
               vLLM takes the token ids. max_output_tokens each, a fixed length when decoder.ignore_eos.
    warmup     serving.warmup_requests requests, all at once, with the experiment's decoder settings, outside
               every window (transformers serve builds its batching manager, with the sampling settings of
               the first request, on that request).
    baseline   as offline, before or after the warmup (baseline.placement).
    energy     window (b): the whole load, from before the first send to after the last response (the
               top-level energy block); window (a): ML.ENERGY's steady state (steady_state.py) inside it,
               the headline meter's power timeline integrated over it, J/token = its joules ÷ its tokens;
               J/request = that J/token × each completed request's output tokens.
    B          the steady-state batch: serving.max_concurrency where set; vLLM: min(max_num_seqs,
               num_requests); transformers serve (no max-requests flag): the client's peak concurrency.

The server dying, or not becoming ready, fails the node (errors.ServerFailed / ServerStartError) with the
tail of its log; SIGTERM (protocol.Interrupted) stops the server and writes no result. The server is
started from the main thread (its parent-death signal follows the thread that started it) and is gone,
with its whole process group, before run_serving returns or raises.

Shared servers: where lem gives a registry folder (LEM_SERVER_DIR: its local runner, for a build that
measures serving nodes one at a time), the server comes from serving/registry.py instead, keyed by the
envelope's server_key: reused when a node of the same key started it (startup_s is that start's, and
serving.server says shared, reused and started_by), else started detached from the harness. It stays
after a node that served its whole load, and is stopped after one that failed or was interrupted (the
next node of its key starts a new one); a failed node copies the shared log into its exchange dir.
"""

import os
import time
from typing import List, Optional

from ..config import BASELINE_PLACEMENT_WHEN_ABSENT
from ..errors import ServerFailed
from ..log import log
from .metrics import RequestRecord, summarize
from .steady_state import METHOD as STEADY_METHOD
from .figures import choose_batch, request_rows, steady_block
from .inputs import build_serving_prompts, decoding, load_tokenizer, param_count, resolve_device, server_log_path, serving_section
from .server_control import (DTYPES, keep_shared_log, make_server, send, server_died, server_last, server_memory,
                             shared_registry, stop_server)

STEADY_MIN_S = 20.0  # a shorter steady window is flagged steady_window_under_20s
ARRIVAL_LAG_MS = 5.0  # p99 of the client's lateness above this is flagged arrival_lag
UTILISATION_MIN = 0.85  # mean running requests ÷ B below this is flagged batch_utilisation_below_0.85
NO_METRICS = "transformers serve has no /metrics"
GOODPUT_REASON = ("no SLO here: lem report and lem compare --slo apply SLOs to serving.requests "
                  "(goodput = requests meeting every SLO ÷ duration_s)")
VLLM_UNTESTED = ("backend vllm's serving scenario (vllm serve) is untested on a GPU: its command and "
                 "process handling are unit-tested against a stand-in server only")


# ----- config -----

def run_serving(envelope: dict, config: dict, received: dict, started_at: str, visible: Optional[str]) -> dict:
    from ..energy import select_companions, select_meter
    from ..energy.gpu_settings import settings_flags
    from ..energy.session import EnergySession
    from ..environment import collect_environment, hardware_fingerprint
    from ..measuring import gpu_identity as _gpu_identity, gpu_settings as _gpu_settings, measure_baseline as _baseline, result_head, unique as _unique
    from ..backends.base import LoadedModel
    from ..flops import flops_estimate
    from ..prompts import read_jsonl_texts

    section = serving_section(config)
    config = dict(config, serving=section)
    kind = "vllm" if config["backend"] == "vllm" else "transformers"
    texts = None if config["dataset"] == "synthetic" else read_jsonl_texts(config["dataset"])
    device, cuda_devices = resolve_device(config)
    from .model_cache import resolve_model

    model, model_facts = resolve_model(config["model"], config["random_seed"], device)
    log(f"serving {config['model']} with {'vllm serve' if kind == 'vllm' else 'transformers serve'} on {device}")
    tokenizer = load_tokenizer(model)
    measured, warmup, prompt_format = build_serving_prompts(dict(config, model_path=model), section, tokenizer,
                                                            kind, texts)
    generation, sampling, fixed, decoding_note = decoding(config, kind)
    load_kwargs = dict(max_tokens=config["max_output_tokens"], server_kind=kind, fixed_output_length=fixed,
                       max_concurrency=section.get("max_concurrency"), generation_config=generation,
                       extra_body=sampling)

    meter, no_meter_reason = select_meter(config["energy"]["backend"], device, cuda_devices, None, visible)
    session = EnergySession(meter, no_meter_reason, config["energy"]["sample_interval_ms"], device,
                            select_companions(config["energy"]["backend"], meter))
    offline_model = os.path.isabs(model)  # a local folder: never reach for the Hub
    registry = shared_registry(envelope)
    server, ok = None, False
    if registry is None:
        log_path = server_log_path(envelope)
        server = make_server(config, kind, model, log_path, device, offline_model)
    after_warmup = config["baseline"].get("placement", BASELINE_PLACEMENT_WHEN_ABSENT) == "after_warmup"
    poller = None
    try:
        if registry is not None:
            server = registry.acquire(
                envelope["server_key"],
                lambda path: make_server(config, kind, model, path, device, offline_model, die_with_parent=False),
                {"hash": envelope.get("hash"), "cycle": envelope.get("cycle", 1)})
            log_path = server.log_path
        else:
            log(f"starting the server (log {log_path})")
            server.start()
        if kind == "vllm":
            load_kwargs["model"] = server.served_model_name
        if getattr(server, "reused", False):
            log(f"server pid {server.pid} (shared: started in {server.startup_s:.1f} s by an earlier node)")
        else:
            log(f"server pid {server.pid} ready in {server.startup_s:.1f} s")
        baseline = None if after_warmup else _baseline(session, config)
        warm_records: List[RequestRecord] = []
        if warmup:
            log(f"warmup: {len(warmup)} requests")
            warm = send(server, warmup, [0.0] * len(warmup), "during the warmup", **load_kwargs)
            warm_records = warm.records
            if not any(r.ok for r in warm_records):
                raise ServerFailed(f"every warmup request failed ({warm_records[0].error}); log {log_path}, tail:\n"
                                   f"{server.log_tail()}")
        if baseline is None:
            baseline = _baseline(session, config)
        if not server.running:
            raise server_died(server, "before the load")
        if kind == "vllm":
            from .vllm_server import MetricsPoller

            poller = MetricsPoller(server.base_url).start()
        from .arrivals import arrival_times

        arrivals = arrival_times(section["num_requests"], section["rate"], section["burstiness"],
                                 config["random_seed"])
        log(f"measuring: {len(measured)} requests at {section['request_rate']}/s")
        session.start_window()
        t0 = time.monotonic()
        load = send(server, measured, arrivals, "during the load", **load_kwargs)
        window_s = time.monotonic() - t0
        session.stop_window()
        if poller is not None:
            poller.stop()
        if not server.running:
            raise server_died(server, "during the load")
        memory = server_memory(server, device, cuda_devices, visible)
        summary = summarize(load.records, load.duration_s)
        ok = summary["requests"]["completed"] > 0
    except ServerFailed as e:
        if registry is not None:  # name the copy that outlives the registry folder
            shared_log = registry.log_of(envelope["server_key"])
            e.message = e.message.replace(shared_log, keep_shared_log(shared_log, envelope))
            e.args = (e.message,)
        raise
    finally:
        if poller is not None:
            poller.stop()
        if registry is None:
            stop_server(server)
        else:
            if not ok:
                keep_shared_log(registry.log_of(envelope["server_key"]), envelope)
            if server is not None:
                stop_server(server, lambda: registry.release(server, ok, last=server_last()))

    completed, failed = summary["requests"]["completed"], summary["requests"]["failed"]
    if completed == 0:
        raise ServerFailed(f"every measured request failed ({summary['requests']['errors'][0]['message']}); "
                           f"server log tail:\n{server.log_tail()}")
    batch, batch_source = choose_batch(section, kind, config, summary["peak_concurrency"])
    steady, per_request, steady_s = steady_block(load.records, batch, session.sampler, load.t0_monotonic)

    metrics_how, utilisation = NO_METRICS, None
    if poller is not None:
        metrics_how = "vLLM /metrics vllm:num_requests_running, polled every 0.25 s; mean over the steady window ÷ B"
        if steady["start_s"] is not None and steady_s and batch:
            from .vllm_server import batch_utilisation

            utilisation, why = batch_utilisation(poller.samples, load.t0_monotonic + steady["start_s"],
                                                 load.t0_monotonic + steady["end_s"], batch)
            if why:
                metrics_how += f"; {why}" + (f" (last error: {poller.error})" if poller.error else "")
        else:
            metrics_how += "; no steady window to average over"
    warmup_note = None
    if kind == "transformers":
        warmup_note = ("transformers serve --continuous-batching takes the batch's sampling settings (temperature, "
                       "top_p, ...) from the first request it serves; the warmup requests carried the experiment's "
                       "decoder settings, so the load ran with them")
        if not warmup:
            warmup_note = ("no warmup: the first measured request built the batching manager, its KV cache and "
                           "the batch's sampling settings inside the window")
        if getattr(server, "reused", False):
            warmup_note = ("a shared server, started by an earlier node: its batching manager, KV cache and batch "
                           "sampling settings were built by the first request it served (the sampling settings are "
                           "part of the server key, so they are this node's)"
                           + (f"; {len(warmup)} warmup requests went first" if warmup else "; no warmup"))
    server_block = {"kind": kind, "startup_s": server.startup_s, "batch": batch, "batch_source": batch_source,
                    "metrics": metrics_how, "batch_utilisation": utilisation, "warmup_note": warmup_note}
    if registry is not None:
        server_block.update(shared=True, reused=server.reused, key=server.key, started_by=server.started_by)
        if server.reused and memory.get("device") == "cpu" and memory.get("peak_bytes") is not None:
            memory["method"] += ("; a shared server already running when this node took it: VmHWM was reset to its "
                                 "RSS then (clear_refs), so the peak is this node's" if server.peak_rss_reset else
                                 "; a shared server already running when this node took it: VmHWM could not be "
                                 "reset, so the peak may be an earlier node's")

    output_tokens, input_tokens = summary["output_tokens"], summary["input_tokens"]
    energy = session.energy_block(window_s, output_tokens, baseline)
    thermal = session.thermal_block()
    gpu_name = None
    if device == "cuda" and not getattr(meter, "names", None):
        gpu_name = _nvml_gpu_name(cuda_devices, visible)
    loaded = LoadedModel(n_params=None, n_params_method="", vocab_size=0, device=device, cuda_devices=cuda_devices,
                         effective={}, cuda_uuids=None, gpu_name=gpu_name)
    gpu_name, mig_profile = _gpu_identity(meter, loaded)
    hardware = hardware_fingerprint(device, gpu_name, len(cuda_devices), mig_profile=mig_profile)
    settings = _gpu_settings(meter, loaded, visible)

    flags = list(session.flags) + settings_flags(settings)
    if not warmup:
        flags.append("no_warmup")
    if envelope.get("hardware") and envelope["hardware"] != hardware:
        flags.append("hardware_mismatch")
    if steady_s is None:
        flags.append("no_steady_state")
    elif steady_s < STEADY_MIN_S:
        flags.append("steady_window_under_20s")
    if failed:
        flags.append("failed_requests")
    # The client's own lateness: sent − scheduled, less any wait for the max_concurrency cap (that wait is the cap).
    lag = summary["dispatch_lag_ms" if section.get("max_concurrency") else "arrival_error_ms"]["p99"]
    if lag is not None and lag > ARRIVAL_LAG_MS:
        flags.append("arrival_lag")
    if utilisation is not None and utilisation < UTILISATION_MIN:
        flags.append("batch_utilisation_below_0.85")

    n_params, n_method = param_count(config, model)
    command = server.command(server.port or 0)
    effective = {
        "backend": config["backend"], "scenario": "serving", "device": device, "dtype": DTYPES[config["precision"]],
        "num_threads": config["pytorch"].get("num_threads") if kind == "transformers" else None,
        "attn_implementation": (config["pytorch"].get("attn_implementation") if kind == "transformers"
                                else os.environ.get("VLLM_ATTENTION_BACKEND") or "chosen by vLLM"),
        **model_facts,
        "server": {"kind": kind, "command": command, "startup_s": server.startup_s,
                   "log": os.path.basename(log_path), "version": _package_version("vllm" if kind == "vllm" else "transformers")},
        "energy_method": session.method, "warmup_requests": len(warmup),
        "warmup_failed": sum(1 for r in warm_records if not r.ok),
        "sample_interval_ms": config["energy"]["sample_interval_ms"],
        "prompt_format": prompt_format, "decoding": decoding_note, "fixed_output_length": fixed,
        "steady_state_method": STEADY_METHOD + "; energy: the headline meter's power timeline integrated over it",
        "load_clock": "serving times are seconds from the load's t = 0 (the client's start; the first request is "
                      "sent after the first gap of the arrival schedule, at once for request_rate inf)",
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    if kind == "vllm":
        effective["server"]["note"] = VLLM_UNTESTED
    if config["energy"].get("phase_split"):
        effective["phase_split_note"] = "energy.phase_split does not apply to scenario serving: not run"
    total_tokens = input_tokens + output_tokens
    serving = {
        "server": server_block,
        "request_rate": section["request_rate"], "burstiness": section["burstiness"],
        "max_concurrency": section.get("max_concurrency"), "num_requests": section["num_requests"],
        "completed": completed, "failed": failed, "errors": summary["requests"]["errors"],
        "duration_s": load.duration_s,
        "request_throughput": summary["request_throughput_per_s"],
        "output_throughput": summary["output_token_throughput_per_s"],
        "ttft_ms": summary["ttft_ms"], "tpot_ms": summary["tpot_ms"], "itl_ms": summary["itl_ms"],
        "e2e_ms": summary["e2el_ms"], "arrival_error_ms": summary["arrival_error_ms"],
        "peak_concurrency": summary["peak_concurrency"],
        "steady_state": steady, "energy_per_request_j": per_request,
        "goodput": {"requests_per_s": None, "slo": None, "reason": GOODPUT_REASON},
        "requests": request_rows(load.records),
    }
    result = {
        **result_head(envelope, received, effective, hardware, started_at, window_s),
        "tokens": {"input": input_tokens, "output": output_tokens, "total": total_tokens, "prompts": completed},
        "throughput": {"output_tokens_per_s": output_tokens / window_s, "total_tokens_per_s": total_tokens / window_s,
                       "requests_per_s": completed / window_s},
        "latency": {"ttft_ms": summary["ttft_ms"], "itl_ms": summary["itl_ms"], "e2e_ms": summary["e2el_ms"]},
        "energy": energy,
        "baseline": baseline,
        "memory": memory,
        "flops": flops_estimate(n_params, n_method, input_tokens, output_tokens),
        "thermal": thermal,
        "environment": collect_environment([gpu_name] * len(cuda_devices) if gpu_name else None, settings),
        "quality_flags": _unique(flags),
        "serving": serving,
    }
    j = steady["energy_per_token_j"]
    log(f"done: {completed}/{section['num_requests']} requests, {output_tokens} output tokens in {window_s:.3f} s; "
        f"energy {energy['status']}; steady state "
        + (f"{steady['duration_s']:.2f} s, {j:.4g} J/token" if j is not None else f"none ({steady['reason']})"))
    return result


def _nvml_gpu_name(cuda_devices: List[int], visible: Optional[str]) -> Optional[str]:
    """The first GPU's name from NVML, without touching CUDA in this process (the server owns the GPU)."""
    from ..energy.devices import resolve_devices
    from ..energy.nvml import Nvml, NvmlError

    try:
        nvml = Nvml.get()
        return nvml.name(resolve_devices(nvml, cuda_devices[:1], None, visible).devices[0].handle)
    except (NvmlError, ValueError, IndexError, AttributeError):
        return None


def _package_version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:
        return None
    try:
        return version(name)
    except PackageNotFoundError:
        return None
