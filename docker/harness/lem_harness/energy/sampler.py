"""A background thread that samples power, temperature and SM clock at a fixed interval, counting the
readings it could not get so an incomplete timeline is reported as such."""

import threading
import time
from typing import List, Optional


class PowerSampler:
    def __init__(self, meter, interval_s: float, companions=(), clock=time.monotonic):
        self.meter = meter
        self._clock = clock  # tests drive a window in virtual time
        # Other scopes' counters, read at each tick so a RAPL counter that wraps within the window is caught.
        self.companions = list(companions)
        self.interval_s = interval_s
        self.timeline: List[list] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._t0 = 0.0
        self.attempts = 0
        self.missing = 0  # power readings that failed or came back empty
        self.error: Optional[str] = None

    def _take(self) -> None:
        for companion in self.companions:
            try:
                companion.energy_j()
            except Exception:  # reported by the session's reading at the window's end
                pass
        self.attempts += 1
        try:
            watts, temp, clock = self.meter.sample()
        except Exception as e:  # a failing sensor must not kill the measurement; the gap is reported
            self.missing += 1
            self.error = f"sampling failed: {e}"
            return
        if watts is None:
            self.missing += 1
            self.error = getattr(self.meter, "last_error", None) or self.error
        self.timeline.append([round(self._clock() - self._t0, 4), watts, temp, clock])

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._take()

    def start(self) -> None:
        self._t0 = self._clock()
        self._take()
        self._thread = threading.Thread(target=self._run, name="lem-power-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._take()  # a last point at the window's end, so a short window still has a reading

    @property
    def start_monotonic(self) -> float:
        """When start() ran, on the sampler's clock (time.monotonic unless a test gave another): the
        timeline's t = 0, so a serving load's times can be lined up with it."""
        return self._t0

    def readings(self) -> int:
        return sum(1 for row in self.timeline if row[1] is not None)

    def peak_watts(self) -> Optional[float]:
        values = [row[1] for row in self.timeline if row[1] is not None]
        return max(values) if values else None

    def mean_watts(self) -> Optional[float]:
        values = [row[1] for row in self.timeline if row[1] is not None]
        return sum(values) / len(values) if values else None

    def integrated_j(self) -> Optional[float]:
        """Trapezoid integral of the power readings over their time span; None with fewer than two."""
        points = [(row[0], row[1]) for row in self.timeline if row[1] is not None]
        if len(points) < 2:
            return None
        return sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in zip(points, points[1:]))
