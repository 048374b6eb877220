"""What the NVML tests share (test_nvml*.py): the fake GPUs' UUIDs, a meter over a fake libnvidia-ml
(tests/fake_nvml.py), a real-time window and a window in a load's virtual time."""

import os
import time
from unittest import mock

import helpers  # noqa: F401  (puts the harness on sys.path)
from fake_nvml import FakeNvml, Gpu, Load
from lem_harness.energy import select_meter
from lem_harness.energy.sampler import PowerSampler
from lem_harness.energy.session import EnergySession

H100 = "GPU-aaaa1111-2222-3333-4444-555555555555"
A10 = "GPU-bbbb1111-2222-3333-4444-555555555555"
MIG_1 = "MIG-cccc1111-2222-3333-4444-555555555555"
MIG_2 = "MIG-dddd1111-2222-3333-4444-555555555555"
A100 = "GPU-eeee1111-2222-3333-4444-555555555555"
A100_NAME = "NVIDIA A100-SXM4-40GB"


def meter_for(test, gpus, cuda_devices=(0,), uuids=None, visible=None, order="PCI_BUS_ID"):
    fake = FakeNvml(gpus)
    fake.install(test)
    with mock.patch.dict(os.environ, {"CUDA_DEVICE_ORDER": order}):
        meter, reason = select_meter("auto", "cuda", list(cuda_devices), uuids, visible)
    return fake, meter, reason


def measure(test, meter, seconds=0.5, interval_ms=50, baseline_s=0.0):
    """A real window of `seconds` (the sampler runs in real time), energy and thermal blocks."""
    session = EnergySession(meter, "", interval_ms, "cuda")
    baseline = session.measure_baseline(baseline_s > 0, baseline_s)
    session.start_window()
    t0 = time.perf_counter()
    time.sleep(seconds)
    window = time.perf_counter() - t0
    session.stop_window()
    energy = session.energy_block(window, 100, baseline)
    thermal = session.thermal_block()
    return session, baseline, energy, thermal


def span(energy) -> float:
    """Seconds from the window's first power reading to its last."""
    return energy["timeline"][-1][0] - energy["timeline"][0][0]


def virtual_window(test, load, seconds, instantaneous=True, interval_ms=100, errors=None):
    """A window of `seconds` in the load's virtual time: the fake GPU's counter and power readings follow
    the load, and the sampler reads its clock and takes a reading each interval as its thread would."""
    readings = {"instant_mw": load.instant_mw} if instantaneous else {"power_mw": load.averaged_mw}
    _, meter, _ = meter_for(test, [Gpu(H100, energy_mj=load.counter_mj, errors=errors, **readings)])
    session = EnergySession(meter, "", interval_ms, "cuda", clock=load.now)
    baseline = session.measure_baseline(False, 0)
    interval, steps = interval_ms / 1000.0, round(seconds * 1000 / interval_ms)
    with mock.patch.object(PowerSampler, "_run", lambda self: None):  # no thread: the test ticks
        session.start_window()
        for step in range(steps):
            load.advance(interval)
            if step < steps - 1:
                session.sampler._take()
        session.stop_window()  # the counter's last reading and the sampler's last point, at the end
    return session, session.energy_block(seconds, 100, baseline)


def inference_load(**kwargs) -> Load:
    """Idle at 60 W before the window; ramp to 420 W, a lower plateau, back down at the end; a ±60 W
    ripple at 7.3 Hz, faster than the 10 Hz sampling can follow."""
    return Load([(0, 120), (0.3, 420), (6.0, 380), (11.7, 150)], ripple_w=60, idle_w=60, **kwargs)
