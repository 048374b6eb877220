"""GPU energy from NVML: the total-energy counter (Volta and newer) where the GPU has one, else sampled
power integrated over the window; plus power, temperature, SM clock and throttle reasons for the timeline."""

import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

from .devices import ResolvedDevice, resolve_devices
from .gpu_settings import read_settings
from .nvml import NVML_ERROR_NOT_SUPPORTED, Nvml, NvmlError, decode_throttle_reasons, optional, with_retry

COUNTER_METHOD = "nvml_total_energy"
INTEGRATION_METHOD = "nvml_power_integration"


def nvml_handles(nvml: Nvml, cuda_devices: Sequence[int], uuids: Optional[Sequence[str]]) -> list:
    """NVML handles of what CUDA runs on (a MIG instance's own handle, not its parent's)."""
    return [d.handle for d in resolve_devices(nvml, cuda_devices, uuids).devices]


class NvmlMeter:
    source = "gpu"

    def __init__(self, cuda_devices: Sequence[int], uuids: Optional[Sequence[str]] = None,
                 visible: Optional[str] = None, nvml: Optional[Nvml] = None, sleep=time.sleep):
        self.nvml = nvml or Nvml.get()
        self._sleep = sleep
        resolution = resolve_devices(self.nvml, cuda_devices, uuids, visible)
        self.flags: List[str] = list(resolution.flags)
        self.notes: List[str] = list(resolution.notes)
        # Counters belong to whole GPUs: read each once, however many MIG instances of it were used.
        groups: Dict[str, List[ResolvedDevice]] = {}
        for d in resolution.devices:
            groups.setdefault(d.gpu_uuid, []).append(d)
        self._groups = list(groups.values())
        self.handles = [g[0].gpu_handle for g in self._groups]
        self.uuids = [g[0].gpu_uuid for g in self._groups]
        self.names = [self.nvml.name(h) for h in self.handles]
        # What the run computed on, for the hardware fingerprint: a MIG slice is keyed to its profile.
        self.mig = any(d.mig for d in resolution.devices)
        self.mig_profile = next((d.mig_profile for d in resolution.devices if d.mig_profile), None)
        self.method = self._probe_counter()
        self.has_counter = self.method == COUNTER_METHOD
        self._instant = all(self._probe_instant(h) for h in self.handles)
        self.power_reading = "instantaneous" if self._instant else "averaged_1s"
        if not self._instant:
            self.flags.append("power_1s_average")
        self.last_error: Optional[str] = None
        self._mask = 0
        self._lock = threading.Lock()

    def _retry(self, fn, *args, tries: int = 3):
        return with_retry(fn, *args, tries=tries, sleep=self._sleep)

    def _probe_counter(self) -> str:
        """The energy method these GPUs allow; NvmlError with the reason where neither works."""
        for name, h in zip(self.names, self.handles):
            try:
                self._retry(self.nvml.total_energy_mj, h)
            except NvmlError as e:
                if e.code != NVML_ERROR_NOT_SUPPORTED:
                    raise NvmlError(f"{name}: total energy counter unreadable ({e})", e.code) from e
                try:
                    self._retry(self.nvml.power_mw, h)
                except NvmlError as p:
                    raise NvmlError(f"{name}: no total energy counter ({e}) and power unreadable ({p})", p.code) from p
                self.flags.append("energy_from_sampled_power")
                self.notes.append(f"{name} has no total energy counter (pre-Volta or a virtual GPU): energy is "
                                  "sampled power integrated over the window")
                return INTEGRATION_METHOD
        return COUNTER_METHOD

    def _probe_instant(self, h) -> bool:
        try:
            self._retry(self.nvml.instant_power_mw, h, tries=2)
            return True
        except NvmlError:
            return False

    def _power_mw(self, h) -> float:
        return self.nvml.instant_power_mw(h) if self._instant else self.nvml.power_mw(h)

    def devices(self) -> List[dict]:
        out = []
        for group, name in zip(self._groups, self.names):
            d = {"index": group[0].ordinal, "name": name, "uuid": group[0].gpu_uuid}
            migs = [m.uuid for m in group if m.mig and m.uuid != m.gpu_uuid]
            if migs:
                d["mig_uuids"] = migs
            profiles = list(dict.fromkeys(m.mig_profile for m in group if m.mig and m.mig_profile))
            if profiles:
                d["mig_profile"] = ",".join(profiles)
            out.append(d)
        return out

    def gpu_settings(self) -> List[dict]:
        """Power limit and application clocks of each GPU read (energy/gpu_settings.py)."""
        return read_settings(self.nvml, self.handles, self.uuids)

    def energy_j(self) -> List[float]:
        """Joules per GPU from the counter; transient errors are retried, anything else raises."""
        if not self.has_counter:
            raise NvmlError("these GPUs have no total energy counter")
        return [self._retry(self.nvml.total_energy_mj, h) / 1000.0 for h in self.handles]

    def sample(self) -> Tuple[Optional[float], Optional[float], Optional[float]]:
        """(watts summed over GPUs or None when any read failed, hottest °C, lowest SM MHz)."""
        watts: Optional[float] = 0.0
        temps, clocks = [], []
        for h in self.handles:
            try:
                mw = self._retry(self._power_mw, h, tries=2)
                watts = None if watts is None else watts + mw / 1000.0
            except NvmlError as e:
                watts = None
                self.last_error = str(e)
            temps.append(optional(self.nvml.temperature_c, h))
            clocks.append(optional(self.nvml.sm_clock_mhz, h))
            mask = optional(self.nvml.throttle_mask, h)
            if mask:
                with self._lock:
                    self._mask |= mask
        temps = [t for t in temps if t is not None]
        clocks = [c for c in clocks if c is not None]
        return watts, (max(temps) if temps else None), (min(clocks) if clocks else None)

    def idle_state(self) -> Tuple[Optional[int], Optional[str]]:
        """(lowest SM clock MHz, performance states) now: what the baseline records of the idle GPU."""
        clocks = [c for c in (optional(self.nvml.sm_clock_mhz, h) for h in self.handles) if c is not None]
        states = [s for s in (optional(self.nvml.pstate, h) for h in self.handles) if s is not None]
        unique = list(dict.fromkeys(states))
        return (min(clocks) if clocks else None), (",".join(unique) if unique else None)

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
