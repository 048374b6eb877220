"""GPU energy from NVML's total-energy counter (Volta and newer), plus power, temperature, SM clock and
throttle reasons for the timeline."""

import os
import threading
from typing import List, Optional, Sequence, Tuple

from .nvml import Nvml, NvmlError, decode_throttle_reasons, optional


def nvml_handles(nvml: Nvml, cuda_devices: Sequence[int], uuids: Optional[Sequence[str]]) -> list:
    """NVML handles of the CUDA ordinals used: by UUID when known, else through CUDA_VISIBLE_DEVICES."""
    if uuids:
        return [nvml.handle_by_uuid(u) for u in uuids]
    visible = [e.strip() for e in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if e.strip()]
    handles = []
    for ordinal in cuda_devices:
        entry = visible[ordinal] if ordinal < len(visible) else str(ordinal)
        handles.append(nvml.handle(int(entry)) if entry.isdigit() else nvml.handle_by_uuid(entry))
    return handles


class NvmlMeter:
    method = "nvml_total_energy"
    source = "gpu"

    def __init__(self, cuda_devices: Sequence[int], uuids: Optional[Sequence[str]] = None):
        self.nvml = Nvml.get()
        self.cuda_devices = list(cuda_devices)
        self.handles = nvml_handles(self.nvml, self.cuda_devices, uuids)
        self.names = [self.nvml.name(h) for h in self.handles]
        for name, h in zip(self.names, self.handles):
            try:
                self.nvml.total_energy_mj(h)
            except NvmlError as e:
                raise NvmlError(f"{name}: total energy counter unavailable ({e}; needs Volta or newer, not a MIG slice)") from e
        self._mask = 0
        self._lock = threading.Lock()

    def devices(self) -> List[dict]:
        return [{"index": i, "name": n} for i, n in zip(self.cuda_devices, self.names)]

    def energy_j(self) -> List[float]:
        return [self.nvml.total_energy_mj(h) / 1000.0 for h in self.handles]

    def sample(self) -> Tuple[Optional[float], Optional[float], Optional[float]]:
        """(watts summed over devices, hottest °C, lowest SM MHz); None where NVML cannot tell."""
        watts, temps, clocks = 0.0, [], []
        for h in self.handles:
            mw = optional(self.nvml.power_mw, h)
            watts = None if watts is None or mw is None else watts + mw / 1000.0
            temps.append(optional(self.nvml.temperature_c, h))
            clocks.append(optional(self.nvml.sm_clock_mhz, h))
            mask = optional(self.nvml.throttle_mask, h)
            if mask:
                with self._lock:
                    self._mask |= mask
        temps = [t for t in temps if t is not None]
        clocks = [c for c in clocks if c is not None]
        return watts, (max(temps) if temps else None), (min(clocks) if clocks else None)

    def temperature_c(self) -> Optional[float]:
        temps = [t for t in (optional(self.nvml.temperature_c, h) for h in self.handles) if t is not None]
        return float(max(temps)) if temps else None

    def begin_window(self) -> None:
        with self._lock:
            self._mask = 0

    def throttle_reasons(self) -> List[str]:
        with self._lock:
            return decode_throttle_reasons(self._mask)

    def temperature_note(self) -> str:
        return "" if self.temperature_c() is not None else "NVML reports no temperature for these GPUs"

    def memory_used_bytes(self) -> Optional[int]:
        used = [optional(self.nvml.memory_info, h) for h in self.handles]
        return None if any(u is None for u in used) else sum(u.used for u in used)
