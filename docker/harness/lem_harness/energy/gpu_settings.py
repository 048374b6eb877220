"""The settings a GPU ran under that change its energy and speed but not lem's config: the enforced
power limit (nvidia-smi -pl) and the application clocks (nvidia-smi -ac), each beside its default.

NVML has no query for clocks locked with nvidia-smi -lgc / -lmc; their effect shows in the window's SM
clock (the timeline) and in the clock-event reasons. Cycles of one config whose settings differ are
flagged when lem averages or compares them (src/report/software-stack.ts)."""

from typing import List, Optional, Sequence

from .devices import resolve_devices
from .nvml import NVML_CLOCK_MEM, NVML_CLOCK_SM, Nvml, NvmlError, optional


def _watts(mw: Optional[int]) -> Optional[float]:
    return mw / 1000.0 if mw is not None else None


def _clocks(nvml: Nvml, read, h) -> Optional[dict]:
    sm, memory = optional(read, h, NVML_CLOCK_SM), optional(read, h, NVML_CLOCK_MEM)
    return None if sm is None and memory is None else {"sm": sm, "memory": memory}


def read_settings(nvml: Nvml, handles: Sequence, uuids: Sequence[str]) -> List[dict]:
    """One entry per whole GPU (a MIG instance runs under its GPU's); null where NVML cannot tell."""
    return [{
        "uuid": uuid,
        "power_limit_w": _watts(optional(nvml.power_limit_mw, h)),
        "default_power_limit_w": _watts(optional(nvml.default_power_limit_mw, h)),
        "applications_clocks_mhz": _clocks(nvml, nvml.applications_clock_mhz, h),
        "default_applications_clocks_mhz": _clocks(nvml, nvml.default_applications_clock_mhz, h),
    } for h, uuid in zip(handles, uuids)]


def _differs(value, default) -> bool:
    """Both read and different; clocks compared clock by clock (one NVML could not read is no difference)."""
    if isinstance(value, dict) and isinstance(default, dict):
        return any(_differs(value.get(k), default.get(k)) for k in value)
    return value is not None and default is not None and value != default


def settings_flags(settings: Optional[Sequence[dict]]) -> List[str]:
    """power_limit_not_default, application_clocks_not_default: a GPU ran under a changed setting."""
    settings = settings or []
    flags = []
    if any(_differs(s.get("power_limit_w"), s.get("default_power_limit_w")) for s in settings):
        flags.append("power_limit_not_default")
    if any(_differs(s.get("applications_clocks_mhz"), s.get("default_applications_clocks_mhz")) for s in settings):
        flags.append("application_clocks_not_default")
    return flags


def used_gpu_settings(cuda_devices: Sequence[int], uuids: Optional[Sequence[str]] = None,
                      visible: Optional[str] = None) -> Optional[List[dict]]:
    """The settings of the GPUs a run used where no NVML meter read them (energy.backend none or rapl
    on a GPU run); None where NVML is absent or the devices cannot be resolved."""
    try:
        nvml = Nvml.get()
        resolution = resolve_devices(nvml, cuda_devices, uuids, visible)
    except NvmlError:
        return None
    gpus = {}
    for d in resolution.devices:
        gpus.setdefault(d.gpu_uuid, d.gpu_handle)
    return read_settings(nvml, list(gpus.values()), list(gpus))
