"""Energy sources (NVML for GPUs, RAPL for CPU packages) and the measurement session around the window."""

import os
from typing import Optional, Sequence, Tuple

from .nvml import Nvml, NvmlError
from .rapl import POWERCAP_ROOT, RaplMeter, RaplUnavailable


def powercap_root() -> str:
    # LLEM_POWERCAP_ROOT points at a fake sysfs tree in tests; real runs read the kernel's.
    return os.environ.get("LLEM_POWERCAP_ROOT", POWERCAP_ROOT)


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
