"""A fake /sys/class/powercap tree whose RAPL counters a test advances: wraps at max_energy_range_uj,
missing zones, and zones that cannot be read even by root (tests run as root, so a denied file is made
with something root cannot read: a folder or a broken link where energy_uj should be)."""

import contextlib
import os
import shutil
import tempfile
import threading
import time
from typing import Dict, Optional

DEFAULT_RANGE = 262_143_328_850  # a real package's max_energy_range_uj


class FakePowercap:
    def __init__(self, test=None):
        self.root = tempfile.mkdtemp(prefix="powercap-")
        self.counters: Dict[str, int] = {}
        self.ranges: Dict[str, Optional[int]] = {}
        if test is not None:
            test.addCleanup(shutil.rmtree, self.root, True)

    def zone(self, folder: str, name: str, energy_uj: int = 0, max_range_uj: Optional[int] = DEFAULT_RANGE) -> "FakePowercap":
        """Adds a zone such as ("intel-rapl:0", "package-0") or ("intel-rapl:0:1", "dram"); max_range_uj None
        leaves max_energy_range_uj out."""
        path = os.path.join(self.root, folder)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "name"), "w") as f:
            f.write(f"{name}\n")
        if max_range_uj is not None:
            with open(os.path.join(path, "max_energy_range_uj"), "w") as f:
                f.write(f"{max_range_uj}\n")
        self.ranges[folder] = max_range_uj
        self.set(folder, energy_uj)
        return self

    def intel_server(self, packages: int = 2) -> "FakePowercap":
        """packages × (package-N with core and dram subzones), a psys zone and an MMIO copy of package 0."""
        for n in range(packages):
            self.zone(f"intel-rapl:{n}", f"package-{n}", 1_000_000 * (n + 1))
            self.zone(f"intel-rapl:{n}:0", "core", 500_000)
            self.zone(f"intel-rapl:{n}:1", "dram", 200_000 * (n + 1))
        self.zone(f"intel-rapl:{packages}", "psys", 9_000_000)
        self.zone("intel-rapl-mmio:0", "package-0", 1_000_000)
        return self

    def set(self, folder: str, energy_uj: int) -> None:
        """Writes the counter atomically, so a sampler thread never reads half a number."""
        self.counters[folder] = energy_uj
        path = os.path.join(self.root, folder, "energy_uj")
        with open(path + ".new", "w") as f:
            f.write(f"{energy_uj}\n")
        os.replace(path + ".new", path)

    def advance(self, folder: str, uj: int) -> None:
        """Adds uj as the hardware would: past max_energy_range_uj the counter starts again from 0."""
        value = self.counters[folder] + uj
        limit = self.ranges.get(folder)
        self.set(folder, value % limit if limit else value)

    def unreadable(self, folder: str, how: str = "folder") -> None:
        """energy_uj becomes a folder (EISDIR) or a link to nothing (ENOENT): unreadable even as root."""
        path = os.path.join(self.root, folder, "energy_uj")
        os.remove(path)
        if how == "folder":
            os.makedirs(path)
        else:
            os.symlink(os.path.join(self.root, "nowhere"), path)

    def remove(self, folder: str) -> None:
        shutil.rmtree(os.path.join(self.root, folder))

    @contextlib.contextmanager
    def powered(self, watts: Dict[str, float], tick_s: float = 0.002):
        """While open, a thread advances each zone's counter at a constant power, as a CPU drawing
        `watts` would: a window of t seconds then reads close to watts × t."""
        stop = threading.Event()

        def run():
            last = time.monotonic()
            while not stop.wait(tick_s):
                now = time.monotonic()
                for folder, w in watts.items():
                    self.advance(folder, int(w * (now - last) * 1e6))
                last = now

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
