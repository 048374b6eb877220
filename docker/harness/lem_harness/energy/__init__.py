"""Energy sources (NVML for GPUs, RAPL for CPU packages and DRAM) and the measurement session around the window."""

import os
from typing import List, Optional, Sequence, Tuple

from .nvml import Nvml, NvmlError
from .rapl import POWERCAP_ROOT, RAPL_SCOPES, RaplMeter, RaplUnavailable


def powercap_root() -> str:
    # LEM_POWERCAP_ROOT points at a fake sysfs tree in tests; real runs read the kernel's. lem doctor reads the
    # same variable (src/exec/energy-source.ts).
    return os.environ.get("LEM_POWERCAP_ROOT") or POWERCAP_ROOT


def _nvml_problem() -> Optional[str]:
    try:
        Nvml.get()
        return None
    except NvmlError as e:
        return str(e)


def select_meter(energy_backend: str, device: str, cuda_devices: Sequence[int],
                 cuda_uuids: Optional[Sequence[str]] = None, visible: Optional[str] = None) -> Tuple[Optional[object], str]:
    """(meter, "") or (None, why no energy figure can be measured). visible: CUDA_VISIBLE_DEVICES as the
    harness started, before a framework rewrote it."""
    if energy_backend == "none":
        return None, "disabled by config (energy.backend none)"
    if device == "cuda" and energy_backend in ("auto", "nvml"):
        from .nvml_meter import NvmlMeter

        try:
            return NvmlMeter(cuda_devices, cuda_uuids, visible), ""
        except NvmlError as e:
            return None, f"GPU run but NVML energy unavailable: {e}"
    if energy_backend == "nvml":
        return None, "energy.backend nvml measures GPUs, but this run used the CPU"
    try:
        return RaplMeter(powercap_root()), ""
    except RaplUnavailable as e:
        if energy_backend == "rapl":
            return None, f"energy.backend rapl: {e}"
        nvml = _nvml_problem()
        gpu = f"no NVIDIA GPU (NVML: {nvml})" if nvml else "the run used the CPU, not a GPU"
        return None, f"{gpu} and {e}"


def select_companions(energy_backend: str, meter) -> List[Tuple[str, Optional[object], str]]:
    """[(scope, meter or None, why not)] for the other scopes read over the same window as the headline
    meter: CPU package and DRAM beside a GPU, DRAM beside the CPU package. None without a headline meter."""
    if meter is None or energy_backend == "none":
        return []
    out = []
    for scope in RAPL_SCOPES:
        if scope == meter.source:
            continue
        try:
            out.append((scope, RaplMeter(powercap_root(), scope), ""))
        except (RaplUnavailable, OSError, ValueError) as e:
            out.append((scope, None, str(e)))
    return out
