"""CPU package and DRAM energy from Linux powercap RAPL counters (/sys/class/powercap/intel-rapl:N[:M]).

A zone is a powercap folder named intel-rapl:N (a package or, on some servers, DRAM) or intel-rapl:N:M
(a subzone: core, uncore or dram), or amd-rapl:N[:M] where a kernel names them so; AMD CPUs otherwise show
as intel-rapl:N through the same driver. Its `name` file gives its scope: package-* is `cpu`, dram is
`dram`; core and uncore are inside their package's total and psys is the whole platform, so neither is
counted. intel-rapl-mmio:* repeats the package counter through another interface and is never read.
src/exec/energy-source.ts reads zones the same way for `lem doctor` (test/contracts.test.ts ties the two)."""

import os
import re
import threading
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .cpu_thermal import cpu_temperature_source, read_celsius

POWERCAP_ROOT = "/sys/class/powercap"
ZONE_FOLDER = re.compile(r"^(?:intel-rapl|amd-rapl):(\d+)(?::(\d+))?$")
RAPL_SCOPES = ("cpu", "dram")


class RaplUnavailable(Exception):
    pass


def _read_int(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


def scope_of(name: str) -> Optional[str]:
    """The scope a zone's `name` counts in, or None for zones inside a package or the platform."""
    if name.startswith("package"):
        return "cpu"
    if name == "dram":
        return "dram"
    return None


def read_problem(zone: str, path: str, error: Exception) -> str:
    """Why a zone's energy_uj cannot be read, with the fix where it is the file's permissions."""
    if isinstance(error, PermissionError):
        return (f"{zone}/energy_uj permission denied (root only since Linux 5.10; fix: "
                f"sudo chmod a+r {os.path.join(path, 'energy_uj')})")
    if isinstance(error, OSError):
        return f"{zone}/energy_uj unreadable ({error.strerror or error})"
    return f"{zone}/energy_uj unreadable ({error})"


@dataclass
class RaplZone:
    zone: str  # folder name: intel-rapl:0, intel-rapl:0:2
    name: Optional[str]  # its name file: package-0, dram, core; None where unreadable
    scope: Optional[str]  # cpu, dram; None where not counted
    path: str
    package: int  # the N of the folder name
    reason: Optional[str] = None  # why energy_uj (or name) cannot be read; None when readable

    @property
    def readable(self) -> bool:
        return self.reason is None


def list_zones(root: str) -> List[RaplZone]:
    """Every RAPL zone under root, sorted by folder name, each with its scope and whether it reads."""
    try:
        entries = sorted(os.listdir(root))
    except OSError as e:
        raise RaplUnavailable(f"RAPL not readable at {root} ({e.strerror or e})") from e
    zones = []
    for entry in entries:
        match = ZONE_FOLDER.match(entry)
        if not match:
            continue
        path = os.path.join(root, entry)
        try:
            with open(os.path.join(path, "name")) as f:
                name = f.read().strip()
        except OSError as e:
            zones.append(RaplZone(entry, None, None, path, int(match.group(1)), f"{entry}/name unreadable ({e.strerror or e})"))
            continue
        zone = RaplZone(entry, name, scope_of(name), path, int(match.group(1)))
        if zone.scope is not None:
            try:
                _read_int(os.path.join(path, "energy_uj"))
            except (OSError, ValueError) as e:
                zone.reason = read_problem(entry, path, e)
        zones.append(zone)
    return zones


def zones_for(root: str, scope: str) -> Tuple[List[RaplZone], List[RaplZone]]:
    """(readable zones of this scope, unreadable ones); RaplUnavailable with every reason when none reads."""
    zones = list_zones(root)
    mine = [z for z in zones if z.scope == scope]
    unnamed = [z for z in zones if z.name is None]  # a zone whose name cannot be read might be this scope
    readable = [z for z in mine if z.readable]
    if not readable:
        problems = [z.reason for z in mine + unnamed if z.reason]
        what = "package" if scope == "cpu" else scope
        detail = "; ".join(problems) if problems else f"no {what} zone"
        raise RaplUnavailable(f"RAPL not readable at {root} ({detail})")
    return readable, [z for z in mine if not z.readable]


class RaplMeter:
    """The counters of one scope's zones (cpu: every package; dram: every DRAM zone), summed."""
    method = "rapl"
    has_counter = True
    power_reading = "counter_delta"  # timeline watts are counter differences between samples

    def __init__(self, root: str = POWERCAP_ROOT, scope: str = "cpu"):
        self.source = scope
        self.zones, self.unreadable = zones_for(root, scope)
        self.ranges: List[Optional[int]] = []
        for z in self.zones:
            try:
                self.ranges.append(_read_int(os.path.join(z.path, "max_energy_range_uj")))
            except (OSError, ValueError):
                self.ranges.append(None)
        self._lock = threading.Lock()
        self._last_raw = [self._raw(i) for i in range(len(self.zones))]
        self._total_uj = [0] * len(self.zones)
        self._last_sample: Optional[Tuple[float, float]] = None
        self.temperature_path, self.temperature_reason = cpu_temperature_source()
        self.flags: List[str] = []
        self.notes: List[str] = []
        if self.unreadable:
            self.flags.append("energy_source_incomplete")
            self.notes.append(f"{scope} energy covers {', '.join(self.covers())} only: "
                              + "; ".join(z.reason for z in self.unreadable))

    def _raw(self, i: int) -> int:
        return _read_int(os.path.join(self.zones[i].path, "energy_uj"))

    def covers(self) -> List[str]:
        return [z.zone for z in self.zones]

    def devices(self) -> List[dict]:
        return [{"index": z.package, "name": z.name} for z in self.zones]

    def energy_j(self) -> List[float]:
        """Joules per zone since the meter was created. A counter lower than its last reading wrapped at
        max_energy_range_uj; read at least once per wrap period (the sampler does) or a wrap is lost."""
        with self._lock:
            for i in range(len(self.zones)):
                raw = self._raw(i)
                delta = raw - self._last_raw[i]
                if delta < 0:
                    if self.ranges[i]:
                        delta += self.ranges[i]
                    else:
                        delta = 0
                        note = (f"{self.zones[i].zone} went backwards and has no max_energy_range_uj: "
                                "that interval counts as 0 J")
                        if note not in self.notes:
                            self.notes.append(note)
                            self.flags.append("energy_counter_reset")
                self._total_uj[i] += delta
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
        # The window's first power reading is the energy since here, not a missing one: a reading
        # is a difference of two counter reads, so the window starts with the first read.
        try:
            self._last_sample = (time.monotonic(), sum(self.energy_j()))
        except OSError:
            self._last_sample = None

    def throttle_reasons(self) -> List[str]:
        return []

    def temperature_note(self) -> str:
        note = "CPU throttle reasons are not observable from sysfs"
        return note if self.temperature_path else f"{self.temperature_reason}; {note}"
