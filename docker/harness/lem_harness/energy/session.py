"""Energy, baseline and thermal figures around one measurement window. A figure that cannot be measured
is null with a reason; nothing is estimated here."""

import time
from typing import List, Optional

from .cpu_thermal import cpu_temperature_source, read_celsius
from .nvml import HW_SLOWDOWN_REASONS, POWER_REASONS, THERMAL_REASONS, NvmlError
from .nvml_meter import INTEGRATION_METHOD
from .sampler import PowerSampler

SHORT_WINDOW_S = 10.0
# The cross-check's goal: the counter and the integrated timeline agree within 2% on a window of at
# least 10 s with instantaneous power readings, sampled densely and without gaps.
CROSS_CHECK_TOLERANCE = 0.02
CROSS_CHECK_MIN_READINGS = 50
# Where those conditions do not hold, they may differ by this much plus the power reading's lag over the
# window: a 1 s average trails the load by about a second at each edge of the window.
CROSS_CHECK_BASE_TOLERANCE = 0.05
AVERAGED_POWER_LAG_S = 1.0
BASELINE_PLACEMENTS = ("before_warmup", "after_warmup")


SCOPE_ORDER = ("gpu", "cpu", "dram")


class Companion:
    """Another scope's counter read at the window's edges (and each sampler tick): RAPL beside NVML."""

    def __init__(self, scope: str, meter, reason: str):
        self.scope, self.meter, self.reason = scope, meter, reason or None
        self.start: Optional[float] = None
        self.end: Optional[float] = None

    def read(self) -> Optional[float]:
        if self.meter is None or self.reason:
            return None
        try:
            return sum(self.meter.energy_j())
        except (OSError, ValueError) as e:
            self.reason = f"counter failed during the window: {e}"
            return None


def covers(meter) -> List[str]:
    """What a meter reads: RAPL zone folders, GPU UUIDs (or names)."""
    if hasattr(meter, "covers"):
        return meter.covers()
    return [str(d.get("uuid") or d.get("name") or d["index"]) for d in meter.devices()]


class EnergySession:
    def __init__(self, meter, unavailable_reason: str, sample_interval_ms: int, device: str, companions=(),
                 clock=time.monotonic):
        """companions: [(scope, meter or None, why not)] read over the same window (select_companions);
        clock: the sampler's time source (tests drive a window in virtual time)."""
        self.meter = meter
        self.unavailable_reason = unavailable_reason
        self.interval_s = sample_interval_ms / 1000.0
        self.companions = [Companion(*c) for c in companions] if meter else []
        live = [c.meter for c in self.companions if c.meter is not None]
        self.sampler = PowerSampler(meter, self.interval_s, live, clock) if meter else None
        self.flags: List[str] = list(meter.flags) if meter else []
        for c in self.companions:
            self.flags.extend(f for f in (c.meter.flags if c.meter else []) if f not in self.flags)
        self._start: Optional[List[float]] = None
        self._end: Optional[List[float]] = None
        self._counter_error: Optional[str] = None
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

    def measure_baseline(self, enabled: bool, duration_s: float, placement: str = "before_warmup",
                         cooldown_s: float = 0, sleep=time.sleep) -> dict:
        """Idle power over duration_s (after cooldown_s when placed after warmup); skipped (duration 0)
        when it cannot be had. Records the SM clock and performance state the idle GPU sat in."""
        block = {"power_w": None, "duration_s": 0, "reason": None, "placement": placement,
                 "cooldown_s": 0, "sm_clock_mhz": None, "pstate": None}
        if not enabled:
            block["reason"] = "disabled by config (baseline.enabled false)"
        elif self.meter is None:
            block["reason"] = f"no power source: {self.unavailable_reason}"
        elif duration_s <= 0:
            block["reason"] = "baseline.duration_seconds is 0"
        if block["reason"]:
            self.flags.append("baseline_skipped")
            return block
        if placement == "after_warmup" and cooldown_s > 0:
            sleep(cooldown_s)
            block["cooldown_s"] = cooldown_s
        try:
            power, elapsed, (block["sm_clock_mhz"], block["pstate"]) = self._idle_power(duration_s, sleep)
        except (NvmlError, OSError) as e:
            self.flags.append("baseline_skipped")
            block["reason"] = f"energy reading failed during the baseline: {e}"
            return block
        block["duration_s"] = elapsed
        if power is None:
            self.flags.append("baseline_skipped")
            block["reason"] = "no power reading during the baseline"
            return block
        if power <= 0:
            self.flags.append("zero_baseline_reading")
        block["power_w"] = power
        return block

    def _idle_power(self, duration_s: float, sleep):
        if self.meter.has_counter:
            before, t0 = sum(self.meter.energy_j()), time.monotonic()
            sleep(duration_s)
            idle = self.meter.idle_state()
            after, t1 = sum(self.meter.energy_j()), time.monotonic()
            return ((after - before) / (t1 - t0) if t1 > t0 else None), t1 - t0, idle
        # No counter: the mean of power sampled through the baseline, as the window integrates it.
        sampler, t0 = PowerSampler(self.meter, self.interval_s), time.monotonic()
        sampler.start()
        sleep(duration_s)
        idle = self.meter.idle_state()
        sampler.stop()
        return sampler.mean_watts(), time.monotonic() - t0, idle

    def _read_counter(self) -> Optional[List[float]]:
        if not self.meter.has_counter or self._counter_error:
            return None
        try:
            return self.meter.energy_j()
        except (NvmlError, OSError) as e:
            self._counter_error = str(e)
            return None

    def start_window(self) -> None:
        if not self.meter:
            self.temp_before = read_celsius(self._cpu_sensor)
            return
        self.temp_before = self.meter.temperature_c()
        self.meter.begin_window()
        self.sampler.start()
        self._start = self._read_counter()
        for c in self.companions:
            c.start = c.read()

    def stop_window(self) -> None:
        if not self.meter:
            self.temp_after = read_celsius(self._cpu_sensor)
            return
        self._end = self._read_counter()
        for c in self.companions:
            c.end = c.read()
        self.sampler.stop()
        self.temp_after = self.meter.temperature_c()

    def _unavailable(self, window_s: float, reason: str) -> dict:
        self.flags.append("energy_unavailable")
        return {
            "status": "unavailable", "method": None, "total_j": None, "adjusted_j": None,
            "per_output_token_j": None, "avg_power_w": None, "peak_power_w": None,
            "window_s": window_s, "reason": reason, "scope": None, "sources": [],
        }

    def _sources(self, method: str, total: float, window_s: float) -> List[dict]:
        """The headline meter's source, then each companion's: measured over the window, or why not."""
        def power(j):
            return (j / window_s) if j is not None and window_s > 0 else None
        unreadable = [z.reason for z in getattr(self.meter, "unreadable", [])]
        out = [{"scope": self.meter.source, "status": "measured", "method": method, "total_j": total,
                "avg_power_w": power(total), "covers": covers(self.meter), "reason": "; ".join(unreadable) or None}]
        for c in self.companions:
            total_c = None
            if c.reason is None and c.start is not None and c.end is not None:
                total_c = c.end - c.start
            reasons = [z.reason for z in getattr(c.meter, "unreadable", [])]
            if total_c is None:
                reasons.insert(0, c.reason or "no counter reading at the window's edges")
            elif total_c <= 0:
                reasons.append("the counter did not advance over the window")
            out.append({"scope": c.scope, "status": "measured" if total_c is not None else "unavailable",
                        "method": c.meter.method if c.meter else None, "total_j": total_c,
                        "avg_power_w": power(total_c), "covers": covers(c.meter) if c.meter else [],
                        "reason": "; ".join(reasons) or None})
        return out

    def energy_block(self, window_s: float, output_tokens: int, baseline: dict) -> dict:
        if self.meter is None or not self.sampler.attempts:
            return self._unavailable(window_s, self.unavailable_reason or "energy window not recorded")
        reasons, notes = [], list(self.meter.notes)
        integrated = self.sampler.integrated_j()
        counter = self._start is not None and self._end is not None
        if counter:
            deltas = [end - start for start, end in zip(self._start, self._end)]
            total, method = sum(deltas), self.meter.method
            if total <= 0 or any(d <= 0 for d in deltas):
                self.flags.append("zero_energy_reading")
                reasons.append("an energy counter did not advance over the window (window shorter than the counter's update period?)")
        elif self.meter.source != "gpu":  # RAPL's power readings come from the counter that failed
            return self._unavailable(window_s, f"energy counter failed during the window: {self._counter_error}")
        else:
            if integrated is None:
                why = f"energy counter failed ({self._counter_error}) and " if self._counter_error else ""
                return self._unavailable(window_s, f"{why}fewer than two power readings in the window")
            if self._counter_error:
                notes.append(f"the energy counter failed during the window ({self._counter_error}): "
                             "energy is sampled power integrated over the window")
                if "energy_from_sampled_power" not in self.flags:
                    self.flags.append("energy_from_sampled_power")
            total, method = integrated, INTEGRATION_METHOD
            deltas = [total] if len(self.meter.devices()) == 1 else None  # no per-GPU split of a summed timeline
        if window_s < SHORT_WINDOW_S:
            self.flags.append("energy_window_under_10s")
        adjusted = None
        if baseline["power_w"] is not None:
            adjusted = total - baseline["power_w"] * window_s
            if adjusted < 0:
                self.flags.append("negative_adjusted_energy")
        else:
            reasons.append(f"adjusted_j is null: baseline {baseline['reason']}")
        samples = {"attempted": self.sampler.attempts, "missing": self.sampler.missing}
        if self.sampler.missing:
            self.flags.append("power_timeline_incomplete")
            last = f" (last error: {self.sampler.error})" if self.sampler.error else ""
            reasons.append(f"power timeline incomplete: {self.sampler.missing} of {self.sampler.attempts} readings missing{last}")
        peak = self.sampler.peak_watts()
        if peak is None:
            reasons.append("peak_power_w is null: no power sample in the window")
        for m in [self.meter] + [c.meter for c in self.companions if c.meter is not None]:
            self.flags.extend(f for f in m.flags if f not in self.flags)  # raised while reading (a counter reset)
            notes.extend(n for n in (m.notes if m is not self.meter else []) if n not in notes)
        sources = self._sources(method, total, window_s)
        measured = sorted((s for s in sources if s["status"] == "measured"), key=lambda s: SCOPE_ORDER.index(s["scope"]))
        meter_devices = self.meter.devices()
        per_device = deltas if deltas is not None else [None] * len(meter_devices)
        devices = [dict(d, total_j=t) for d, t in zip(meter_devices, per_device)]
        return {
            "status": "measured", "method": method, "total_j": total, "adjusted_j": adjusted,
            "per_output_token_j": (total / output_tokens) if output_tokens > 0 else None,
            "avg_power_w": (total / window_s) if window_s > 0 else None, "peak_power_w": peak,
            "window_s": window_s, "reason": "; ".join(reasons) or None,
            "scope": self.meter.source, "sources": sources,
            "combined_scope": "+".join(s["scope"] for s in measured),
            "combined_j": sum(s["total_j"] for s in measured),
            "power_reading": self.meter.power_reading,
            "cross_check": self._cross_check(counter, total, integrated, window_s),
            "samples": samples, "notes": notes,
            "devices": devices, "timeline": self.sampler.timeline,
        }

    def _cross_check(self, counter: bool, total: float, integrated: Optional[float], window_s: float) -> dict:
        """Counter energy against the integrated power timeline, allowing for the reading's lag."""
        check = {"integrated_j": integrated, "relative_difference": None, "tolerance": None, "reason": None}
        if not counter:
            check["reason"] = "no energy counter reading: total_j is the integrated timeline itself"
            return check
        if self.meter.source != "gpu":
            check["reason"] = "the power timeline is derived from the same counter, so it cannot check it"
            return check
        if integrated is None or total <= 0:
            check["reason"] = "fewer than two power readings" if integrated is None else "the counter did not advance"
            return check
        check["relative_difference"] = (total - integrated) / total
        short_of_goal = self._short_of_cross_check_goal(window_s)
        if short_of_goal:
            lag_s = AVERAGED_POWER_LAG_S if self.meter.power_reading == "averaged_1s" else 2 * self.interval_s
            check["tolerance"] = CROSS_CHECK_BASE_TOLERANCE + (lag_s / window_s if window_s > 0 else 1.0)
            lag = "1 s" if self.meter.power_reading == "averaged_1s" else "two sample intervals"
            check["reason"] = (f"not held to {CROSS_CHECK_TOLERANCE:.0%}: {'; '.join(short_of_goal)}; the tolerance is "
                               f"{CROSS_CHECK_BASE_TOLERANCE:.0%} plus the reading's lag ({lag}) over the window")
        else:
            check["tolerance"] = CROSS_CHECK_TOLERANCE
        if abs(check["relative_difference"]) > check["tolerance"]:
            self.flags.append("energy_cross_check_mismatch")
        return check

    def _short_of_cross_check_goal(self, window_s: float) -> List[str]:
        """Why the timeline cannot check the counter to 2% here; [] where it can."""
        why = []
        if self.meter.power_reading != "instantaneous":
            why.append("the power readings are 1 s averages (this GPU has no instantaneous power field), "
                       "which trail the load at the window's edges")
        if window_s < SHORT_WINDOW_S:
            why.append(f"the window is {window_s:.2f} s, under {SHORT_WINDOW_S:.0f} s")
        if self.sampler.missing:
            why.append(f"{self.sampler.missing} of {self.sampler.attempts} power readings are missing")
        readings = self.sampler.readings()
        if readings < CROSS_CHECK_MIN_READINGS:
            why.append(f"{readings} power readings over the window, fewer than {CROSS_CHECK_MIN_READINGS} "
                       "(a shorter energy.sample_interval_ms gives more)")
        return why

    def thermal_block(self) -> dict:
        if self.meter is None:
            why = f"{self._no_sensor_reason}; " if self._no_sensor_reason else ""
            return {"temp_before_c": self.temp_before, "temp_after_c": self.temp_after, "throttle_reasons": [],
                    "reason": f"{why}throttle reasons are observable only through NVML on GPU runs"}
        reasons = self.meter.throttle_reasons()
        if any(r in THERMAL_REASONS for r in reasons):
            self.flags.append("thermal_throttling")
        if any(r in HW_SLOWDOWN_REASONS for r in reasons):
            self.flags.append("hw_slowdown")
        if any(r in POWER_REASONS for r in reasons):
            self.flags.append("power_throttling")
        return {
            "temp_before_c": self.temp_before, "temp_after_c": self.temp_after,
            "throttle_reasons": reasons, "reason": self.meter.temperature_note() or None,
        }
