"""The whole machine, each source in its own scope: RAPL zones (CPU package, DRAM) read from a fake powercap
tree (tests/fake_powercap.py) beside the headline meter, over the same window, with wraps, missing and
unreadable zones; and GPU + CPU + DRAM with the fake NVML (tests/fake_nvml.py)."""

import os
import threading
import time
import unittest
from unittest import mock

import helpers
from fake_nvml import FakeNvml, Gpu, ramp
from fake_powercap import FakePowercap
from lem_harness import experiment
from lem_harness.config import with_defaults
from lem_harness.energy import rapl, select_companions, select_meter
from lem_harness.energy.rapl import RaplMeter, RaplUnavailable, list_zones
from lem_harness.energy.session import EnergySession
from test_nvml import H100, FakeCudaBackend

NO_BASELINE = {"power_w": None, "duration_s": 0, "reason": "disabled by config", "placement": "before_warmup"}


def use_root(test, root: str) -> None:
    patcher = mock.patch.dict(os.environ, {"LEM_POWERCAP_ROOT": root})
    patcher.start()
    test.addCleanup(patcher.stop)


def cpu_session(test, tree: FakePowercap, advance: dict, window_s: float = 12.0, output_tokens: int = 100):
    """A CPU run's session on the fake tree: counters advanced by `advance` {zone: µJ} inside the window."""
    use_root(test, tree.root)
    meter, reason = select_meter("auto", "cpu", [])
    test.assertIsNotNone(meter, reason)
    session = EnergySession(meter, reason, 1000, "cpu", select_companions("auto", meter))
    session.start_window()
    for zone, uj in advance.items():
        tree.advance(zone, uj)
    session.stop_window()
    return session, session.energy_block(window_s, output_tokens, NO_BASELINE)


def by_scope(energy) -> dict:
    return {s["scope"]: s for s in energy["sources"]}


class ZoneTest(unittest.TestCase):
    def test_zones_are_classified_by_their_name_file(self):
        tree = FakePowercap(self).intel_server(packages=2)
        tree.zone("amd-rapl:5", "package-5")
        zones = {z.zone: (z.name, z.scope, z.readable) for z in list_zones(tree.root)}
        self.assertEqual(zones, {
            "amd-rapl:5": ("package-5", "cpu", True),
            "intel-rapl:0": ("package-0", "cpu", True), "intel-rapl:0:0": ("core", None, True),
            "intel-rapl:0:1": ("dram", "dram", True),
            "intel-rapl:1": ("package-1", "cpu", True), "intel-rapl:1:0": ("core", None, True),
            "intel-rapl:1:1": ("dram", "dram", True),
            "intel-rapl:2": ("psys", None, True),
        })  # intel-rapl-mmio:0 repeats package 0's counter: never a zone

    def test_a_missing_root_says_where_it_looked(self):
        with self.assertRaises(RaplUnavailable) as caught:
            list_zones("/nonexistent/powercap")
        self.assertIn("/nonexistent/powercap", str(caught.exception))


class CounterTest(unittest.TestCase):
    def test_a_delta_across_a_wrap_counts_what_the_counter_did(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0", 999_000, max_range_uj=1_000_000)
        meter = RaplMeter(tree.root)
        tree.advance("intel-rapl:0", 5_000)  # 999 000 → 1 000 000 wraps to 0 → 4 000
        self.assertEqual(tree.counters["intel-rapl:0"], 4_000)
        self.assertAlmostEqual(meter.energy_j()[0], 0.005)

    def test_reads_between_wraps_accumulate_more_than_one_range(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0", 0, max_range_uj=1_000_000)
        meter = RaplMeter(tree.root)
        for _ in range(3):
            tree.advance("intel-rapl:0", 700_000)
            meter.energy_j()
        self.assertAlmostEqual(meter.energy_j()[0], 2.1)

    def test_a_counter_that_goes_backwards_without_a_range_counts_zero_and_says_so(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0", 500, max_range_uj=None)
        meter = RaplMeter(tree.root)
        tree.set("intel-rapl:0", 100)
        self.assertEqual(meter.energy_j(), [0.0])
        self.assertIn("energy_counter_reset", meter.flags)
        self.assertIn("intel-rapl:0 went backwards", meter.notes[0])

    def test_the_sampler_reads_companions_so_a_wrap_in_a_long_window_is_not_lost(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0", 0).zone("intel-rapl:0:1", "dram", 0, max_range_uj=1_000_000)
        use_root(self, tree.root)
        meter, _ = select_meter("rapl", "cpu", [])
        session = EnergySession(meter, "", 10, "cpu", select_companions("rapl", meter))
        session.start_window()
        for _ in range(3):  # 2.1 ranges of DRAM energy: only reads between the wraps can tell
            tree.advance("intel-rapl:0:1", 700_000)
            time.sleep(0.05)
        session.stop_window()
        self.assertAlmostEqual(by_scope(session.energy_block(1.0, 1, NO_BASELINE))["dram"]["total_j"], 2.1)


class ScopeTest(unittest.TestCase):
    def test_a_cpu_run_reads_packages_as_its_headline_and_dram_beside_it(self):
        tree = FakePowercap(self).intel_server(packages=2)
        session, energy = cpu_session(self, tree, {"intel-rapl:0": 30_000_000, "intel-rapl:1": 18_000_000,
                                                   "intel-rapl:0:1": 4_000_000, "intel-rapl:1:1": 2_000_000,
                                                   "intel-rapl:0:0": 99_000_000, "intel-rapl:2": 99_000_000})
        # total_j keeps its meaning: the scope the run computed on (CPU packages), never DRAM or psys.
        self.assertEqual((energy["status"], energy["scope"], energy["method"]), ("measured", "cpu", "rapl"))
        self.assertAlmostEqual(energy["total_j"], 48.0)
        self.assertAlmostEqual(energy["per_output_token_j"], 0.48)
        self.assertAlmostEqual(energy["avg_power_w"], 4.0)
        self.assertEqual([d["total_j"] for d in energy["devices"]], [30.0, 18.0])
        sources = by_scope(energy)
        self.assertEqual(list(sources), ["cpu", "dram"])
        self.assertEqual(sources["cpu"]["covers"], ["intel-rapl:0", "intel-rapl:1"])
        self.assertEqual(sources["dram"]["covers"], ["intel-rapl:0:1", "intel-rapl:1:1"])
        self.assertAlmostEqual(sources["dram"]["total_j"], 6.0)
        self.assertAlmostEqual(sources["dram"]["avg_power_w"], 0.5)
        self.assertEqual((sources["dram"]["status"], sources["dram"]["method"], sources["dram"]["reason"]), ("measured", "rapl", None))
        self.assertEqual(energy["combined_scope"], "cpu+dram")
        self.assertAlmostEqual(energy["combined_j"], 54.0)
        self.assertNotIn("energy_source_incomplete", session.flags)

    def test_an_unreadable_dram_zone_is_its_own_unavailable_source_with_the_reason(self):
        for how, why in (("folder", "Is a directory"), ("link", "No such file or directory")):
            with self.subTest(how=how):
                tree = FakePowercap(self).zone("intel-rapl:0", "package-0").zone("intel-rapl:0:1", "dram")
                tree.unreadable("intel-rapl:0:1", how)
                _, energy = cpu_session(self, tree, {"intel-rapl:0": 12_000_000})
                dram = by_scope(energy)["dram"]
                self.assertEqual((dram["status"], dram["total_j"], dram["method"]), ("unavailable", None, None))
                self.assertIn(f"intel-rapl:0:1/energy_uj unreadable ({why})", dram["reason"])
                self.assertAlmostEqual(energy["total_j"], 12.0)
                self.assertEqual((energy["combined_scope"], energy["combined_j"]), ("cpu", energy["total_j"]))

    def test_a_denied_counter_names_the_chmod_that_fixes_it(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0").zone("intel-rapl:0:1", "dram")
        real = rapl._read_int

        def denied(path):  # root reads anything, so the kernel's EACCES is injected at the file read
            if path.endswith("intel-rapl:0:1/energy_uj"):
                raise PermissionError(13, "Permission denied", path)
            return real(path)
        with mock.patch.object(rapl, "_read_int", denied):
            _, energy = cpu_session(self, tree, {"intel-rapl:0": 1_000_000})
        reason = by_scope(energy)["dram"]["reason"]
        self.assertIn("permission denied", reason)
        self.assertIn(f"sudo chmod a+r {tree.root}/intel-rapl:0:1/energy_uj", reason)

    def test_a_missing_dram_zone_says_there_is_none(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0")  # AMD and many client CPUs
        _, energy = cpu_session(self, tree, {"intel-rapl:0": 1_000_000})
        self.assertEqual(by_scope(energy)["dram"]["reason"], f"RAPL not readable at {tree.root} (no dram zone)")

    def test_one_unreadable_package_of_two_is_measured_but_flagged_incomplete(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0").zone("intel-rapl:1", "package-1")
        tree.unreadable("intel-rapl:1")
        session, energy = cpu_session(self, tree, {"intel-rapl:0": 2_000_000})
        cpu = by_scope(energy)["cpu"]
        self.assertEqual(cpu["covers"], ["intel-rapl:0"])
        self.assertIn("intel-rapl:1/energy_uj unreadable", cpu["reason"])
        self.assertIn("energy_source_incomplete", session.flags)
        self.assertTrue(any(n.startswith("cpu energy covers intel-rapl:0 only") for n in energy["notes"]))

    def test_no_readable_package_leaves_energy_null_with_every_zones_reason(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0").zone("intel-rapl:0:1", "dram")
        tree.unreadable("intel-rapl:0")
        use_root(self, tree.root)
        meter, reason = select_meter("auto", "cpu", [])
        self.assertIsNone(meter)
        self.assertIn("intel-rapl:0/energy_uj unreadable (Is a directory)", reason)
        energy = EnergySession(meter, reason, 100, "cpu").energy_block(1.0, 1, NO_BASELINE)
        self.assertEqual((energy["status"], energy["scope"], energy["sources"]), ("unavailable", None, []))
        self.assertEqual(energy["reason"], reason)

    def test_a_zone_that_vanishes_mid_window_makes_its_source_unavailable(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0").zone("intel-rapl:0:1", "dram")
        use_root(self, tree.root)
        meter, _ = select_meter("auto", "cpu", [])
        session = EnergySession(meter, "", 1000, "cpu", select_companions("auto", meter))
        session.start_window()
        tree.advance("intel-rapl:0", 1_000_000)
        tree.remove("intel-rapl:0:1")
        session.stop_window()
        dram = by_scope(session.energy_block(1.0, 1, NO_BASELINE))["dram"]
        self.assertEqual(dram["status"], "unavailable")
        self.assertIn("counter failed during the window", dram["reason"])

    def test_energy_backend_none_reads_no_source(self):
        self.assertEqual(select_companions("none", object()), [])


class WholeMachineTest(unittest.TestCase):
    """GPU (fake NVML) + CPU package + DRAM (fake powercap) through the experiment: one window, three scopes."""

    def test_a_gpu_run_reads_gpu_cpu_and_dram_and_the_result_validates(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0").zone("intel-rapl:0:1", "dram")
        use_root(self, tree.root)
        stop = threading.Event()
        self.addCleanup(stop.set)

        def load():  # 60 W CPU package, 6 W DRAM, in real time however often this thread gets to run
            last = time.monotonic()
            while not stop.wait(0.005):
                now = time.monotonic()
                tree.advance("intel-rapl:0", int((now - last) * 60e6))
                tree.advance("intel-rapl:0:1", int((now - last) * 6e6))
                last = now
        threading.Thread(target=load, daemon=True).start()
        FakeNvml([Gpu(H100, energy_mj=ramp(300), instant_mw=300_000)]).install(self)
        config = with_defaults(helpers.tiny_config(n=2, warmup={"enabled": False, "n_warmup": 0},
                                                   baseline={"enabled": False, "duration_seconds": 0},
                                                   energy={"backend": "auto", "sample_interval_ms": 50}))
        envelope = {"hash": helpers.HASH, "cycle": 1, "names": ["whole-machine"], "config": config}
        with mock.patch.object(experiment, "log", lambda message: None), \
                mock.patch.dict(os.environ, {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}):
            result = experiment._measure(envelope, config, config, FakeCudaBackend([]), None, experiment.utc_now())
        energy = result["energy"]
        self.assertEqual(helpers.result_schema_errors(result), [])
        sources = by_scope(energy)
        self.assertEqual(list(sources), ["gpu", "cpu", "dram"])
        self.assertEqual([s["method"] for s in sources.values()], ["nvml_total_energy", "rapl", "rapl"])
        self.assertEqual(sources["gpu"]["covers"], [H100])
        # total_j and every figure derived from it stay the GPU's, as before sources existed.
        self.assertEqual(energy["scope"], "gpu")
        self.assertEqual(energy["total_j"], sources["gpu"]["total_j"])
        self.assertAlmostEqual(energy["per_output_token_j"], energy["total_j"] / result["tokens"]["output"])
        self.assertAlmostEqual(energy["avg_power_w"], 300, delta=60)
        window = energy["window_s"]
        self.assertAlmostEqual(sources["cpu"]["avg_power_w"], 60, delta=30)
        self.assertAlmostEqual(sources["dram"]["avg_power_w"], 6, delta=3)
        self.assertAlmostEqual(sources["cpu"]["avg_power_w"], sources["cpu"]["total_j"] / window)
        self.assertEqual(energy["combined_scope"], "gpu+cpu+dram")
        self.assertAlmostEqual(energy["combined_j"], sum(s["total_j"] for s in sources.values()))

    def test_a_gpu_host_without_rapl_lists_cpu_and_dram_as_unavailable(self):
        use_root(self, "/nonexistent/powercap")
        fake = FakeNvml([Gpu(H100, energy_mj=ramp(300), instant_mw=300_000)])
        fake.install(self)
        with mock.patch.dict(os.environ, {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}):
            meter, _ = select_meter("auto", "cuda", [0])
        session = EnergySession(meter, "", 50, "cuda", select_companions("auto", meter))
        session.start_window()
        time.sleep(0.1)
        session.stop_window()
        energy = session.energy_block(0.1, 10, NO_BASELINE)
        self.assertEqual([(s["scope"], s["status"]) for s in energy["sources"]],
                         [("gpu", "measured"), ("cpu", "unavailable"), ("dram", "unavailable")])
        self.assertIn("RAPL not readable at /nonexistent/powercap", energy["sources"][1]["reason"])
        self.assertEqual((energy["combined_scope"], energy["combined_j"]), ("gpu", energy["total_j"]))


if __name__ == "__main__":
    unittest.main()
