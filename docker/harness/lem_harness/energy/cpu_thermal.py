"""CPU package temperature from sysfs, where the kernel exposes one."""

import glob
import os
from typing import Optional, Tuple

THERMAL_TYPES = ("x86_pkg_temp", "cpu-thermal", "cpu_thermal", "k10temp", "soc_thermal")
HWMON_NAMES = ("coretemp", "k10temp", "zenpower", "cpu_thermal")


def _read_millidegrees(path: str) -> Optional[float]:
    try:
        with open(path) as f:
            return int(f.read().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def _read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def cpu_temperature_source() -> Tuple[Optional[str], str]:
    """(path of a CPU temperature file, or None; why none was found)."""
    for zone in sorted(glob.glob("/sys/class/thermal/thermal_zone*")):
        if _read_text(os.path.join(zone, "type")) in THERMAL_TYPES and _read_millidegrees(os.path.join(zone, "temp")) is not None:
            return os.path.join(zone, "temp"), ""
    for hwmon in sorted(glob.glob("/sys/class/hwmon/hwmon*")):
        if _read_text(os.path.join(hwmon, "name")) in HWMON_NAMES and _read_millidegrees(os.path.join(hwmon, "temp1_input")) is not None:
            return os.path.join(hwmon, "temp1_input"), ""
    return None, "no CPU temperature sensor readable under /sys/class/thermal or /sys/class/hwmon"


def read_celsius(path: Optional[str]) -> Optional[float]:
    return _read_millidegrees(path) if path else None
