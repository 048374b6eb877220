"""What every scenario's measured cycle shares (offline in experiment.py, serving in serving/run.py):
the result's schema version and timestamps, the idle baseline, and the identity and settings of the
GPUs used."""

from datetime import datetime, timezone

from .config import BASELINE_COOLDOWN_S_WHEN_ABSENT, BASELINE_PLACEMENT_WHEN_ABSENT
from .energy.devices import mig_profile_of
from .energy.gpu_settings import used_gpu_settings
from .log import log

SCHEMA_VERSION = 1


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def measure_baseline(session, config) -> dict:
    cfg = config["baseline"]
    placement = cfg.get("placement", BASELINE_PLACEMENT_WHEN_ABSENT)
    cooldown = cfg.get("cooldown_seconds", BASELINE_COOLDOWN_S_WHEN_ABSENT) if placement == "after_warmup" else 0
    if session.meter is not None and cfg["enabled"] and cfg["duration_seconds"] > 0:
        wait = f" after {cooldown} s cool-down" if cooldown else ""
        log(f"baseline: {cfg['duration_seconds']} s idle{wait} ({placement.replace('_', ' ')})")
    return session.measure_baseline(cfg["enabled"], cfg["duration_seconds"], placement, cooldown)


def gpu_identity(meter, loaded):
    """(GPU name, MIG profile) for hardware_fingerprint: the metered GPU's name,
    keyed to the MIG slice where the run used one (NVML's slice name, else the framework's); without
    an NVML meter the framework's name, which for a slice already names it."""
    if not getattr(meter, "names", None):
        return loaded.gpu_name, None
    profile = getattr(meter, "mig_profile", None)
    if profile is None and getattr(meter, "mig", False):
        profile = mig_profile_of(loaded.gpu_name) or "unknown"
    return meter.names[0], profile


def gpu_settings(meter, loaded, visible):
    """Power limit and application clocks of the GPUs used (energy/gpu_settings.py); None on the CPU."""
    if hasattr(meter, "gpu_settings"):
        return meter.gpu_settings()
    return used_gpu_settings(loaded.cuda_devices, loaded.cuda_uuids, visible) if loaded.device == "cuda" else None


def result_head(envelope: dict, received: dict, effective: dict, hardware: str, started_at: str, window_s: float) -> dict:
    """The result's identity and timing, the same for every scenario: what it measured, where and when."""
    return {
        "schema_version": SCHEMA_VERSION,
        "hash": envelope["hash"],
        "cycle": envelope.get("cycle", 1),
        "names": list(envelope.get("names", [])),
        "config": received,
        "effective_config": effective,
        "hardware": hardware,
        "started_at": started_at,
        "finished_at": utc_now(),
        "duration_s": window_s,
    }
