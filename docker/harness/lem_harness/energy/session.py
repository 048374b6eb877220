"""Energy, baseline and thermal figures around one measurement window. A figure that cannot be measured
is null with a reason; nothing is estimated here."""

import time
from typing import List, Optional

from .cpu_thermal import cpu_temperature_source, read_celsius
from .nvml import POWER_REASONS, THERMAL_REASONS
from .sampler import PowerSampler

SHORT_WINDOW_S = 10.0


class EnergySession:
    def __init__(self, meter, unavailable_reason: str, sample_interval_ms: int, device: str):
        self.meter = meter
        self.unavailable_reason = unavailable_reason
        self.sampler = PowerSampler(meter, sample_interval_ms / 1000.0) if meter else None
        self.flags: List[str] = []
        self._start: Optional[List[float]] = None
        self._end: Optional[List[float]] = None
        self.temp_before: Optional[float] = None
        self.temp_after: Optional[float] = None
        # Without a meter, a CPU run may still read its temperature from sysfs.
        self._cpu_sensor, self._no_sensor_reason = None, ""
        if meter is None:
            self._cpu_sensor, self._no_sensor_reason = (
                cpu_temperature_source() if device == "cpu" else (None, "GPU temperature needs NVML"))

    @property
    def method(self) -> Optional[str]:
        return self.meter.method if self.meter else None

    def measure_baseline(self, enabled: bool, duration_s: float, sleep=time.sleep) -> dict:
        """Idle power from the energy counter over duration_s; skipped (duration 0) when it cannot be had."""
        reason = None
        if not enabled:
            reason = "disabled by config (baseline.enabled false)"
        elif self.meter is None:
            reason = f"no power source: {self.unavailable_reason}"
        elif duration_s <= 0:
            reason = "baseline.duration_seconds is 0"
        if reason:
            self.flags.append("baseline_skipped")
            return {"power_w": None, "duration_s": 0, "reason": reason}
        before, t0 = sum(self.meter.energy_j()), time.monotonic()
        sleep(duration_s)
        after, t1 = sum(self.meter.energy_j()), time.monotonic()
        if after - before <= 0:
            self.flags.append("zero_baseline_reading")
        return {"power_w": (after - before) / (t1 - t0), "duration_s": t1 - t0, "reason": None}

    def start_window(self) -> None:
        if not self.meter:
            self.temp_before = read_celsius(self._cpu_sensor)
            return
        self.temp_before = self.meter.temperature_c()
        self.meter.begin_window()
        self.sampler.start()
        self._start = self.meter.energy_j()

    def stop_window(self) -> None:
        if not self.meter:
            self.temp_after = read_celsius(self._cpu_sensor)
            return
        self._end = self.meter.energy_j()
        self.sampler.stop()
        self.temp_after = self.meter.temperature_c()

    def energy_block(self, window_s: float, output_tokens: int, baseline: dict) -> dict:
        if self.meter is None or self._start is None or self._end is None:
            self.flags.append("energy_unavailable")
            return {
                "status": "unavailable", "method": None, "total_j": None, "adjusted_j": None,
                "per_output_token_j": None, "avg_power_w": None, "peak_power_w": None,
                "window_s": window_s, "reason": self.unavailable_reason or "energy window not recorded",
            }
        deltas = [end - start for start, end in zip(self._start, self._end)]
        total = sum(deltas)
        reasons = []
        if window_s < SHORT_WINDOW_S:
            self.flags.append("energy_window_under_10s")
        if total <= 0 or any(d <= 0 for d in deltas):
            self.flags.append("zero_energy_reading")
            reasons.append("an energy counter did not advance over the window (window shorter than the counter's update period?)")
        adjusted = None
        if baseline["power_w"] is not None:
            adjusted = total - baseline["power_w"] * window_s
            if adjusted < 0:
                self.flags.append("negative_adjusted_energy")
        else:
            reasons.append(f"adjusted_j is null: baseline {baseline['reason']}")
        if self.sampler.error:
            reasons.append(f"power timeline incomplete: {self.sampler.error}")
        peak = self.sampler.peak_watts()
        if peak is None:
            reasons.append("peak_power_w is null: no power sample in the window")
        devices = [dict(d, total_j=delta) for d, delta in zip(self.meter.devices(), deltas)]
        return {
            "status": "measured", "method": self.meter.method, "total_j": total, "adjusted_j": adjusted,
            "per_output_token_j": (total / output_tokens) if output_tokens > 0 else None,
            "avg_power_w": (total / window_s) if window_s > 0 else None, "peak_power_w": peak,
            "window_s": window_s, "reason": "; ".join(reasons) or None,
            "devices": devices, "timeline": self.sampler.timeline,
        }

    def thermal_block(self) -> dict:
        if self.meter is None:
            why = f"{self._no_sensor_reason}; " if self._no_sensor_reason else ""
            return {"temp_before_c": self.temp_before, "temp_after_c": self.temp_after, "throttle_reasons": [],
                    "reason": f"{why}throttle reasons are observable only through NVML on GPU runs"}
        reasons = self.meter.throttle_reasons()
        if any(r in THERMAL_REASONS for r in reasons):
            self.flags.append("thermal_throttling")
        if any(r in POWER_REASONS for r in reasons):
            self.flags.append("power_throttling")
        return {
            "temp_before_c": self.temp_before, "temp_after_c": self.temp_after,
            "throttle_reasons": reasons, "reason": self.meter.temperature_note() or None,
        }
