import os
import shutil
import tempfile
import unittest

import helpers  # noqa: F401
from lem_harness.energy import select_meter
from lem_harness.energy.nvml import decode_throttle_reasons
from lem_harness.energy.rapl import RaplMeter, RaplUnavailable
from lem_harness.energy.session import EnergySession


def fake_powercap(root: str, packages: dict) -> None:
    """packages: {index: (energy_uj, max_energy_range_uj)}, plus a core sub-domain that must be ignored."""
    for index, (energy, max_range) in packages.items():
        folder = os.path.join(root, f"intel-rapl:{index}")
        os.makedirs(folder, exist_ok=True)
        for name, value in (("name", f"package-{index}"), ("energy_uj", energy), ("max_energy_range_uj", max_range)):
            with open(os.path.join(folder, name), "w") as f:
                f.write(f"{value}\n")
        sub = os.path.join(root, f"intel-rapl:{index}:0")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "name"), "w") as f:
            f.write("core\n")


def set_energy(root: str, index: int, energy_uj: int) -> None:
    with open(os.path.join(root, f"intel-rapl:{index}", "energy_uj"), "w") as f:
        f.write(f"{energy_uj}\n")


class FakeMeter:
    """A meter above the NVML layer, for the session's arithmetic; tests/test_nvml.py runs the real one."""
    method = "fake"
    source = "gpu"
    has_counter = True
    power_reading = "instantaneous"

    def __init__(self, joules_per_read):
        self.reads = iter(joules_per_read)
        self.names = ["fake"]
        self.flags, self.notes = [], []

    def idle_state(self):
        return 210, "P8"

    def devices(self):
        return [{"index": 0, "name": "fake"}]

    def energy_j(self):
        return [next(self.reads)]

    def sample(self):
        return 50.0, 40.0, 1000.0

    def temperature_c(self):
        return 40.0

    def begin_window(self):
        pass

    def throttle_reasons(self):
        return ["sw_thermal_slowdown"]

    def temperature_note(self):
        return ""


class RaplTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.root)

    def test_sums_package_domains_and_handles_counter_wraparound(self):
        fake_powercap(self.root, {0: (900_000, 1_000_000), 1: (0, 1_000_000)})
        meter = RaplMeter(self.root)
        self.assertEqual([d["name"] for d in meter.devices()], ["package-0", "package-1"])
        set_energy(self.root, 0, 100_000)  # wrapped: 900k → 1M → 100k is 200k µJ
        set_energy(self.root, 1, 500_000)
        self.assertEqual(meter.energy_j(), [0.2, 0.5])

    def test_missing_powercap_says_where_it_looked(self):
        with self.assertRaises(RaplUnavailable) as caught:
            RaplMeter(os.path.join(self.root, "absent"))
        self.assertIn("absent", str(caught.exception))

    def test_auto_on_cpu_without_rapl_or_nvml_explains_both(self):
        os.environ["LEM_POWERCAP_ROOT"] = os.path.join(self.root, "absent")
        self.addCleanup(os.environ.pop, "LEM_POWERCAP_ROOT")
        meter, reason = select_meter("auto", "cpu", [])
        self.assertIsNone(meter)
        self.assertIn("RAPL not readable", reason)

    def test_backend_none_is_disabled_by_config(self):
        self.assertEqual(select_meter("none", "cpu", []), (None, "disabled by config (energy.backend none)"))


class EnergySessionTest(unittest.TestCase):
    def test_unavailable_source_gives_nulls_and_skips_the_baseline_without_sleeping(self):
        session = EnergySession(None, "no source here", 100, "cpu")
        baseline = session.measure_baseline(True, 30, sleep=lambda s: self.fail("slept for nothing"))
        self.assertEqual(baseline["power_w"], None)
        self.assertEqual(baseline["duration_s"], 0)
        self.assertEqual(baseline["reason"], "no power source: no source here")
        session.start_window()
        session.stop_window()
        energy = session.energy_block(1.0, 10, baseline)
        self.assertEqual(energy["status"], "unavailable")
        self.assertIsNone(energy["method"])
        for key in ("total_j", "adjusted_j", "per_output_token_j", "avg_power_w", "peak_power_w"):
            self.assertIsNone(energy[key])
        self.assertEqual(energy["reason"], "no source here")
        self.assertIn("baseline_skipped", session.flags)

    def test_measured_window_subtracts_baseline_and_flags_short_windows_and_throttling(self):
        # energy_j reads: baseline start 0, end 20 (over ~0 s of fake sleep), window start 100, end 160.
        session = EnergySession(FakeMeter([0.0, 20.0, 100.0, 160.0]), "", 10, "cuda")
        baseline = session.measure_baseline(True, 2, sleep=lambda s: None)
        baseline["power_w"] = 10.0  # the fake sleep lasted ~0 s; fix the rate for an exact check
        session.start_window()
        session.stop_window()
        energy = session.energy_block(2.0, 30, baseline)
        self.assertEqual(energy["status"], "measured")
        self.assertEqual(energy["total_j"], 60.0)
        self.assertEqual(energy["adjusted_j"], 40.0)
        self.assertEqual(energy["per_output_token_j"], 2.0)
        self.assertEqual(energy["avg_power_w"], 30.0)
        self.assertEqual(energy["peak_power_w"], 50.0)
        self.assertEqual(energy["devices"], [{"index": 0, "name": "fake", "total_j": 60.0}])
        self.assertEqual((baseline["sm_clock_mhz"], baseline["pstate"]), (210, "P8"))
        thermal = session.thermal_block()
        self.assertEqual(thermal["throttle_reasons"], ["sw_thermal_slowdown"])
        self.assertIn("energy_window_under_10s", session.flags)
        self.assertIn("thermal_throttling", session.flags)

    def test_a_counter_that_does_not_move_is_flagged(self):
        session = EnergySession(FakeMeter([5.0, 5.0]), "", 10, "cuda")
        session.start_window()
        session.stop_window()
        energy = session.energy_block(12.0, 10, {"power_w": None, "duration_s": 0, "reason": "disabled by config"})
        self.assertEqual(energy["total_j"], 0.0)
        self.assertIn("zero_energy_reading", session.flags)
        self.assertIsNone(energy["adjusted_j"])
        self.assertIn("baseline disabled by config", energy["reason"])


class ThrottleReasonTest(unittest.TestCase):
    def test_decodes_nvml_bits_to_names(self):
        self.assertEqual(decode_throttle_reasons(0x4 | 0x40), ["sw_power_cap", "hw_thermal_slowdown"])
        self.assertEqual(decode_throttle_reasons(0), [])
        self.assertEqual(decode_throttle_reasons(0x10000), ["unknown_0x10000"])


if __name__ == "__main__":
    unittest.main()
