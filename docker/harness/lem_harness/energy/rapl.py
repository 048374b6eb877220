"""CPU package energy from Linux powercap RAPL counters (/sys/class/powercap/intel-rapl:N/energy_uj)."""

import glob
import os
import re
import threading
import time
from typing import List, Optional, Tuple

from .cpu_thermal import cpu_temperature_source, read_celsius

POWERCAP_ROOT = "/sys/class/powercap"


class RaplUnavailable(Exception):
    pass


def _read_int(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


def find_package_domains(root: str) -> List[Tuple[int, str, str]]:
    """[(package index, domain name, folder)] of readable package-level RAPL domains."""
    if not os.path.isdir(root):
        raise RaplUnavailable(f"RAPL not readable at {root} (no such directory)")
    domains, problems = [], []
    for folder in sorted(glob.glob(os.path.join(root, "intel-rapl:*"))):
        match = re.fullmatch(r"intel-rapl:(\d+)", os.path.basename(folder))
        if not match:
            continue  # sub-domains (core, uncore, dram) are inside a package's total
        try:
            with open(os.path.join(folder, "name")) as f:
                name = f.read().strip()
            if not name.startswith("package"):
                continue
            _read_int(os.path.join(folder, "energy_uj"))
            domains.append((int(match.group(1)), name, folder))
        except PermissionError:
            problems.append(f"{folder}/energy_uj permission denied (root only since Linux 5.10)")
        except (OSError, ValueError) as e:
            problems.append(f"{folder}: {e}")
    if not domains:
        detail = "; ".join(problems) if problems else "no intel-rapl:N package domain"
        raise RaplUnavailable(f"RAPL not readable at {root} ({detail})")
    return domains


class RaplMeter:
    method = "rapl"
    source = "cpu"
    has_counter = True
    power_reading = "counter_delta"  # timeline watts are counter differences between samples

    def __init__(self, root: str = POWERCAP_ROOT):
        self.domains = find_package_domains(root)
        self.ranges = []
        for _, _, folder in self.domains:
            try:
                self.ranges.append(_read_int(os.path.join(folder, "max_energy_range_uj")))
            except (OSError, ValueError):
                self.ranges.append(None)
        self._lock = threading.Lock()
        self._last_raw = [self._raw(i) for i in range(len(self.domains))]
        self._total_uj = [0] * len(self.domains)
        self._last_sample: Optional[Tuple[float, float]] = None
        self.temperature_path, self.temperature_reason = cpu_temperature_source()
        self.flags: List[str] = []
        self.notes: List[str] = []

    def _raw(self, i: int) -> int:
        return _read_int(os.path.join(self.domains[i][2], "energy_uj"))

    def devices(self) -> List[dict]:
        return [{"index": index, "name": name} for index, name, _ in self.domains]

    def energy_j(self) -> List[float]:
        """Joules per package since the meter was created; a counter that wrapped adds its range."""
        with self._lock:
            for i in range(len(self.domains)):
                raw = self._raw(i)
                delta = raw - self._last_raw[i]
                if delta < 0 and self.ranges[i]:
                    delta += self.ranges[i]
                self._total_uj[i] += max(delta, 0)
                self._last_raw[i] = raw
            return [uj / 1e6 for uj in self._total_uj]

    def sample(self) -> Tuple[Optional[float], Optional[float], Optional[float]]:
        """(watts since the previous sample or None for the first, °C, SM clock: None on a CPU)."""
        now, joules = time.monotonic(), sum(self.energy_j())
        watts = None
        if self._last_sample is not None and now > self._last_sample[0]:
            watts = (joules - self._last_sample[1]) / (now - self._last_sample[0])
        self._last_sample = (now, joules)
        return watts, self.temperature_c(), None

    def idle_state(self) -> Tuple[Optional[int], Optional[str]]:
        return None, None  # SM clock and performance state are GPU figures

    def temperature_c(self) -> Optional[float]:
        return read_celsius(self.temperature_path)

    def begin_window(self) -> None:
        self._last_sample = None

    def throttle_reasons(self) -> List[str]:
        return []

    def temperature_note(self) -> str:
        note = "CPU throttle reasons are not observable from sysfs"
        return note if self.temperature_path else f"{self.temperature_reason}; {note}"
