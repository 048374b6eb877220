"""One measured cycle: load, baseline, warmup, the measurement window, and the result document."""

import os
import time

from .backends import create_backend
from .config import BASELINE_PLACEMENT_WHEN_ABSENT, with_defaults
from .energy import select_companions, select_meter
from .energy.gpu_settings import settings_flags
from .energy.session import EnergySession
from .environment import collect_environment, hardware_fingerprint
from .flops import flops_estimate
from .prompts import build_prompts, read_jsonl_texts
from .log import log
from .measuring import gpu_identity as _gpu_identity, gpu_settings as _gpu_settings, measure_baseline as _baseline, result_head, unique as _unique, utc_now
from .stats import latency_stats

def run_experiment(envelope: dict) -> dict:
    started_at = utc_now()
    received = envelope["config"]
    config = with_defaults(received)
    # A missing dataset fails before a model is loaded.
    texts = None if config["dataset"] == "synthetic" else read_jsonl_texts(config["dataset"])
    # Before any framework runs: vLLM rewrites CUDA_VISIBLE_DEVICES for its workers.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if config.get("scenario") == "serving":  # a server under load (serving/run.py), not an offline backend
        from .serving.run import run_serving

        return run_serving(envelope, config, received, started_at, visible)
    backend = create_backend(config)
    try:
        return _measure(envelope, received, config, backend, texts, started_at, visible)
    finally:
        backend.close()


PHASE_METHOD = ("prefill: a second pass over the same prompts with exactly one new token each "
                "(max_new_tokens = min_new_tokens = 1); decode: the measured pass minus that prefill")


def _phase_split(session, backend, measured, record, window_s, energy, baseline) -> dict:
    """Prefill and decode, as optimum-benchmark splits them: a prefill-only pass over the same
    prompts, and decode as the measured pass less that pass. Its own window after the measured one,
    so the measured figures are untouched; its flags stay in its own block."""
    log(f"prefill pass: {len(measured)} prompts, one new token each (energy.phase_split)")
    flags_before = list(session.flags)
    session.flags[:] = []
    backend.synchronize()
    session.start_window()
    t0 = time.perf_counter()
    prefill = backend.generate(measured, new_tokens=1)
    backend.synchronize()
    prefill_s = time.perf_counter() - t0
    session.stop_window()
    block = session.energy_block(prefill_s, prefill.output_tokens, baseline)
    pass_flags = list(session.flags)
    session.flags[:] = flags_before
    decode_tokens = record.output_tokens - prefill.output_tokens
    prefill_j = block["total_j"] if energy["total_j"] is not None else None
    decode_j = energy["total_j"] - prefill_j if prefill_j is not None else None
    reason = None
    if energy["total_j"] is None:
        reason = energy["reason"]
    elif prefill_j is None:
        reason = f"the prefill pass: {block['reason']}"
    elif decode_j < 0:
        pass_flags.append("negative_decode_energy")
        reason = "the prefill pass used more energy than the whole measured pass (noise larger than decode)"

    def per(j, n):
        return j / n if j is not None and n > 0 else None

    return {
        "method": PHASE_METHOD, "scope": energy.get("scope"), "reason": reason,
        "prefill": {"total_j": prefill_j, "window_s": prefill_s, "input_tokens": prefill.input_tokens,
                    "prompts": prefill.prompts, "per_input_token_j": per(prefill_j, prefill.input_tokens),
                    "per_request_j": per(prefill_j, prefill.prompts), "flags": _unique(pass_flags)},
        "decode": {"total_j": decode_j, "window_s": max(window_s - prefill_s, 0.0), "output_tokens": decode_tokens,
                   "per_output_token_j": per(decode_j, decode_tokens)},
    }


def _measure(envelope, received, config, backend, texts, started_at, visible=None) -> dict:
    log(f"loading {config['model']} ({config['backend']})")
    loaded = backend.load()
    warmup_cfg = config["warmup"]
    n_warmup = warmup_cfg["n_warmup"] if warmup_cfg["enabled"] else 0
    warmup_note = None
    if n_warmup and hasattr(backend, "warmup_count"):  # vLLM: at least the window's batch shapes
        n_warmup, warmup_note = backend.warmup_count(n_warmup, config["n"])
    measured, warmup = build_prompts(config, loaded.vocab_size, backend.encode, n_warmup, texts)

    meter, no_meter_reason = select_meter(config["energy"]["backend"], loaded.device, loaded.cuda_devices,
                                          loaded.cuda_uuids, visible)
    session = EnergySession(meter, no_meter_reason, config["energy"]["sample_interval_ms"], loaded.device,
                            select_companions(config["energy"]["backend"], meter))
    # Before warmup the GPU may idle in a deeper power state than between requests; after warmup
    # (with a cool-down) is offered, and the result says which was used and the state it saw.
    after_warmup = config["baseline"].get("placement", BASELINE_PLACEMENT_WHEN_ABSENT) == "after_warmup"
    baseline = None if after_warmup else _baseline(session, config)

    if warmup:
        log(f"warmup: {len(warmup)} prompts")
        backend.generate(warmup)
    if baseline is None:
        backend.synchronize()
        baseline = _baseline(session, config)
    log(f"measuring: {len(measured)} prompts")
    backend.synchronize()
    session.start_window()
    t0 = time.perf_counter()
    record = backend.generate(measured)
    backend.synchronize()
    window_s = time.perf_counter() - t0
    session.stop_window()

    energy = session.energy_block(window_s, record.output_tokens, baseline)
    thermal = session.thermal_block()
    if config["energy"].get("phase_split", False):
        energy["phases"] = _phase_split(session, backend, measured, record, window_s, energy, baseline)
    gpu_name, mig_profile = _gpu_identity(meter, loaded)
    hardware = hardware_fingerprint(loaded.device, gpu_name, len(loaded.cuda_devices), mig_profile=mig_profile)
    settings = _gpu_settings(meter, loaded, visible)
    flags = list(session.flags) + settings_flags(settings)
    if n_warmup == 0:
        flags.append("no_warmup")
    if loaded.effective.get("attn_implementation_note"):
        flags.append("attn_implementation_fallback")
    if envelope.get("hardware") and envelope["hardware"] != hardware:
        flags.append("hardware_mismatch")
    effective = dict(loaded.effective)
    effective.update({
        "energy_method": session.method, "warmup_prompts": len(warmup),
        "sample_interval_ms": config["energy"]["sample_interval_ms"],
    })
    if warmup_note:
        effective["warmup_note"] = warmup_note
    total_tokens = record.input_tokens + record.output_tokens
    result = {
        **result_head(envelope, received, effective, hardware, started_at, window_s),
        "tokens": {"input": record.input_tokens, "output": record.output_tokens, "total": total_tokens,
                   "prompts": record.prompts},
        "throughput": {
            "output_tokens_per_s": record.output_tokens / window_s,
            "total_tokens_per_s": total_tokens / window_s,
            "requests_per_s": record.prompts / window_s,
        },
        "latency": {
            "ttft_ms": latency_stats(record.ttft_ms, record.ttft_method),
            "itl_ms": latency_stats(record.itl_ms, record.itl_method),
            "e2e_ms": latency_stats(record.e2e_ms, record.e2e_method),
        },
        "energy": energy,
        "baseline": baseline,
        "memory": backend.peak_memory(),
        "flops": flops_estimate(loaded.n_params, loaded.n_params_method, record.input_tokens, record.output_tokens),
        "thermal": thermal,
        "environment": collect_environment([loaded.gpu_name] * len(loaded.cuda_devices) if loaded.gpu_name else None,
                                           settings),
        "quality_flags": _unique(flags),
    }
    log(f"done: {record.output_tokens} output tokens in {window_s:.3f} s; energy {energy['status']}")
    return result
