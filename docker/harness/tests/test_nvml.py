"""The GPU energy path through a fake libnvidia-ml at the ctypes boundary (tests/fake_nvml.py): the real
binding, meter, sampler and session run as they would against the driver. Device identity is in
test_nvml_identity.py, the counter-vs-timeline cross-check in test_nvml_crosscheck.py."""

import importlib.util
import json
import os
import shutil
import tempfile
import time
import unittest
from unittest import mock

import helpers
from fake_nvml import GPU_IS_LOST, TIMEOUT, FakeNvml, Gpu, Mig, ramp
from lem_harness import experiment, measuring
from lem_harness.backends.base import Backend, GenerationRecord, LoadedModel
from lem_harness.config import with_defaults
from lem_harness.energy.session import EnergySession
from nvml_helpers import A100, A100_NAME, H100, MIG_1, MIG_2, measure, meter_for, span


class FallbackAndErrorTest(unittest.TestCase):
    def test_without_an_energy_counter_sampled_power_is_integrated_and_the_method_named(self):
        _, meter, reason = meter_for(self, [Gpu(H100, energy_mj=None, power_mw=200_000)])
        self.assertEqual(reason, "")
        session, baseline, energy, _ = measure(self, meter, seconds=0.5, baseline_s=0.2)
        self.assertEqual(energy["method"], "nvml_power_integration")
        self.assertIn("energy_from_sampled_power", session.flags)
        self.assertAlmostEqual(energy["total_j"], 200 * span(energy), places=6)
        self.assertEqual(energy["devices"][0]["total_j"], energy["total_j"])
        self.assertIsNone(energy["cross_check"]["relative_difference"])
        self.assertEqual(baseline["power_w"], 200.0)
        self.assertAlmostEqual(energy["adjusted_j"], energy["total_j"] - 200 * energy["window_s"], places=6)

    def test_no_counter_and_no_power_reading_refuses_with_both_reasons(self):
        _, meter, reason = meter_for(self, [Gpu(H100, energy_mj=None, errors={"nvmlDeviceGetPowerUsage": GPU_IS_LOST})])
        self.assertIsNone(meter)
        self.assertIn("Not Supported", reason)
        self.assertIn("GPU is lost", reason)

    def test_transient_counter_errors_are_retried(self):
        fake, meter, reason = meter_for(self, [Gpu(H100, errors={"nvmlDeviceGetTotalEnergyConsumption": [TIMEOUT, TIMEOUT]})])
        self.assertEqual(reason, "")
        self.assertEqual(meter.method, "nvml_total_energy")
        self.assertEqual(fake.calls["nvmlDeviceGetTotalEnergyConsumption"], 3)

    def test_a_transient_error_that_persists_gives_up_saying_how_often_it_tried(self):
        _, meter, reason = meter_for(self, [Gpu(H100, errors={"nvmlDeviceGetTotalEnergyConsumption": TIMEOUT})])
        self.assertIsNone(meter)
        self.assertIn("Timeout (still failing after 3 tries)", reason)

    def test_a_lost_gpu_is_not_retried(self):
        fake, meter, reason = meter_for(self, [Gpu(H100, errors={"nvmlDeviceGetTotalEnergyConsumption": GPU_IS_LOST})])
        self.assertIsNone(meter)
        self.assertIn("GPU is lost", reason)
        self.assertEqual(fake.calls["nvmlDeviceGetTotalEnergyConsumption"], 1)

    def test_a_counter_lost_mid_window_falls_back_to_the_timeline_and_says_so(self):
        # Reads: probe, window start succeed; the window end fails for good.
        _, meter, _ = meter_for(self, [Gpu(H100, instant_mw=250_000,
                                           errors={"nvmlDeviceGetTotalEnergyConsumption": [0, 0] + [GPU_IS_LOST] * 3})])
        session, _, energy, _ = measure(self, meter, seconds=0.3)
        self.assertEqual(energy["status"], "measured")
        self.assertEqual(energy["method"], "nvml_power_integration")
        self.assertIn("energy_from_sampled_power", session.flags)
        self.assertTrue(any("counter failed during the window" in n for n in energy["notes"]))


class SamplerGapTest(unittest.TestCase):
    def test_missing_power_readings_are_counted_and_flagged(self):
        _, meter, _ = meter_for(self, [Gpu(H100, errors={"nvmlDeviceGetPowerUsage": [GPU_IS_LOST, GPU_IS_LOST]})])
        session, _, energy, _ = measure(self, meter, seconds=0.3)
        self.assertEqual(energy["samples"]["missing"], 2)
        self.assertGreater(energy["samples"]["attempted"], 2)
        self.assertEqual(sum(1 for row in energy["timeline"] if row[1] is None), 2)
        self.assertIn("power_timeline_incomplete", session.flags)
        self.assertIn(f"2 of {energy['samples']['attempted']} readings missing", energy["reason"])
        self.assertIn("GPU is lost", energy["reason"])

    def test_with_no_power_reading_at_all_the_counter_still_measures_and_the_gaps_are_said(self):
        _, meter, _ = meter_for(self, [Gpu(H100, energy_mj=ramp(300), errors={"nvmlDeviceGetPowerUsage": GPU_IS_LOST})])
        session, _, energy, _ = measure(self, meter, seconds=0.2)
        self.assertEqual(energy["status"], "measured")
        self.assertEqual(energy["samples"]["missing"], energy["samples"]["attempted"])
        self.assertIsNone(energy["peak_power_w"])
        self.assertEqual(energy["cross_check"]["reason"], "fewer than two power readings")
        self.assertIn("power_timeline_incomplete", session.flags)


class ThrottleFlagTest(unittest.TestCase):
    def flags_for(self, mask):
        _, meter, _ = meter_for(self, [Gpu(H100, throttle_mask=mask)])
        session, _, _, thermal = measure(self, meter, seconds=0.1)
        return session.flags, thermal["throttle_reasons"]

    def test_hw_slowdown_is_its_own_flag_not_thermal(self):
        flags, reasons = self.flags_for(0x8)
        self.assertEqual(reasons, ["hw_slowdown"])
        self.assertIn("hw_slowdown", flags)
        self.assertNotIn("thermal_throttling", flags)

    def test_thermal_bits_flag_thermal_throttling_and_power_bits_power_throttling(self):
        flags, _ = self.flags_for(0x20 | 0x4)
        self.assertIn("thermal_throttling", flags)
        self.assertIn("power_throttling", flags)
        self.assertNotIn("hw_slowdown", flags)


class BaselineTest(unittest.TestCase):
    def test_the_baseline_records_the_idle_sm_clock_and_performance_state(self):
        _, meter, _ = meter_for(self, [Gpu(H100, energy_mj=ramp(60), sm_clock_mhz=210, pstate=8)])
        session = EnergySession(meter, "", 50, "cuda")
        baseline = session.measure_baseline(True, 0.4)
        self.assertEqual((baseline["sm_clock_mhz"], baseline["pstate"]), (210, "P8"))
        self.assertAlmostEqual(baseline["power_w"], 60, delta=6)
        self.assertEqual(baseline["placement"], "before_warmup")

    def test_after_warmup_the_baseline_waits_its_cool_down_first(self):
        _, meter, _ = meter_for(self, [Gpu(H100)])
        slept = []
        baseline = EnergySession(meter, "", 50, "cuda").measure_baseline(True, 3, "after_warmup", 7, sleep=slept.append)
        self.assertEqual(slept, [7, 3])
        self.assertEqual((baseline["placement"], baseline["cooldown_s"]), ("after_warmup", 7))


class GpuSettingsFlagTest(unittest.TestCase):
    def flags(self, limit, default_limit, clocks, default_clocks):
        from lem_harness.energy.gpu_settings import settings_flags

        return settings_flags([{"uuid": H100, "power_limit_w": limit, "default_power_limit_w": default_limit,
                                "applications_clocks_mhz": clocks, "default_applications_clocks_mhz": default_clocks}])

    def test_only_a_setting_read_and_different_from_its_default_is_flagged(self):
        default = {"sm": 1980, "memory": 2619}
        self.assertEqual(self.flags(700.0, 700.0, default, default), [])
        self.assertEqual(self.flags(450.0, 700.0, default, default), ["power_limit_not_default"])
        self.assertEqual(self.flags(None, 700.0, {"sm": 1410, "memory": 2619}, default), ["application_clocks_not_default"])
        self.assertEqual(self.flags(700.0, None, {"sm": 1980, "memory": None}, default), [], "an unread clock is no difference")
        self.assertEqual(self.flags(700.0, 700.0, None, default), [])


class FakeCudaBackend(Backend):
    """A backend that says it ran on CUDA ordinal 0 and records what the experiment asked of it, when."""

    def __init__(self, events, uuid=None, gpu_name="NVIDIA H100 80GB HBM3"):
        self.events, self.uuid, self.gpu_name = events, uuid, gpu_name

    def load(self):
        return LoadedModel(n_params=1000, n_params_method="fake", vocab_size=50, device="cuda", cuda_devices=[0],
                           effective={"backend": "pytorch", "device": "cuda"},
                           cuda_uuids=[self.uuid] if self.uuid else None, gpu_name=self.gpu_name)

    def encode(self, text):
        return [1, 2, 3]

    def generate(self, prompts):
        self.events.append(f"generate {len(prompts)}")
        time.sleep(0.2)
        n = len(prompts)
        return GenerationRecord(ttft_ms=[5.0] * n, itl_ms=[1.0] * n, e2e_ms=[10.0] * n, input_tokens=4 * n,
                                output_tokens=8 * n, prompts=n, ttft_method="fake", itl_method="fake", e2e_method="fake")

    def peak_memory(self):
        return {"peak_bytes": None, "device": "cuda", "method": "fake"}


class ExperimentTest(unittest.TestCase):
    """The experiment around the real GPU path: device identity, baseline placement, a valid result."""

    def run_experiment(self, baseline, visible=None, uuid=None, gpus=None, gpu_name="NVIDIA H100 80GB HBM3", energy="auto"):
        FakeNvml(gpus or [Gpu(H100, energy_mj=ramp(300), instant_mw=300_000, sm_clock_mhz=345, pstate=2)]).install(self)
        events = []
        config = with_defaults(helpers.tiny_config(n=2, warmup={"enabled": True, "n_warmup": 1}, baseline=baseline,
                                                   energy={"backend": energy, "sample_interval_ms": 50}))
        envelope = {"hash": helpers.HASH, "cycle": 1, "names": ["gpu-path"], "config": config}
        logged = lambda message: events.append(message.split(":")[0])  # noqa: E731
        with mock.patch.object(experiment, "log", logged), mock.patch.object(measuring, "log", logged), \
                mock.patch.dict(os.environ, {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}):
            result = experiment._measure(envelope, config, config, FakeCudaBackend(events, uuid, gpu_name), None,
                                         experiment.utc_now(), visible)
        return result, events

    def test_after_warmup_the_baseline_follows_the_warmup_and_the_result_says_so(self):
        result, events = self.run_experiment({"duration_seconds": 0.4, "placement": "after_warmup", "cooldown_seconds": 0.1})
        self.assertEqual([e for e in events if e.startswith(("generate", "baseline"))], ["generate 1", "baseline", "generate 2"])
        baseline = result["baseline"]
        self.assertEqual((baseline["placement"], baseline["cooldown_s"]), ("after_warmup", 0.1))
        self.assertEqual((baseline["sm_clock_mhz"], baseline["pstate"]), (345, "P2"))
        self.assertAlmostEqual(baseline["power_w"], 300, delta=30)

    def test_by_default_the_baseline_comes_before_warmup(self):
        result, events = self.run_experiment({"duration_seconds": 0.2})
        self.assertEqual([e for e in events if e.startswith(("generate", "baseline"))], ["baseline", "generate 1", "generate 2"])
        self.assertEqual((result["baseline"]["placement"], result["baseline"]["cooldown_s"]), ("before_warmup", 0))

    def test_the_result_records_the_uuid_metered_and_validates_against_the_schema(self):
        result, _ = self.run_experiment({"duration_seconds": 0.1}, visible="GPU-aaaa")
        self.assertEqual(result["energy"]["devices"][0]["uuid"], H100)
        self.assertEqual(result["energy"]["method"], "nvml_total_energy")
        self.assertEqual(result["energy"]["power_reading"], "instantaneous")
        self.assertEqual(helpers.result_schema_errors(result), [])
        path = os.path.join(tempfile.mkdtemp(), "result.json")
        self.addCleanup(shutil.rmtree, os.path.dirname(path))
        with open(path, "w") as f:
            json.dump(result, f)
        checked = helpers.ajv_validate(path)
        if checked is not None:  # node and ajv are here in lem's checkout and CI
            self.assertEqual(checked, (True, None))

    def test_a_gpu_without_mig_is_fingerprinted_by_its_name_and_its_settings_recorded(self):
        result, _ = self.run_experiment({"duration_seconds": 0.1})
        self.assertEqual(result["hardware"], "gpu:NVIDIA H100 80GB HBM3 x1")
        self.assertEqual(result["environment"]["gpu_settings"], [{
            "uuid": H100, "power_limit_w": 700.0, "default_power_limit_w": 700.0,
            "applications_clocks_mhz": {"sm": 1980, "memory": 2619},
            "default_applications_clocks_mhz": {"sm": 1980, "memory": 2619}}])
        self.assertFalse({"power_limit_not_default", "application_clocks_not_default"} & set(result["quality_flags"]))

    def a100_with_slices(self, mig_names=("MIG 1g.10gb", "MIG 3g.20gb")):
        return Gpu(A100, name=A100_NAME, energy_mj=ramp(250), instant_mw=250_000, mig_mode=True,
                   migs=[Mig(MIG_1, f"{A100_NAME} {mig_names[0]}".strip()), Mig(MIG_2, f"{A100_NAME} {mig_names[1]}".strip())])

    def test_a_mig_slice_is_fingerprinted_as_the_slice_not_the_whole_gpu(self):
        result, _ = self.run_experiment({"duration_seconds": 0.1}, visible=MIG_2, gpus=[self.a100_with_slices()],
                                        gpu_name=f"{A100_NAME} MIG 3g.20gb")
        self.assertEqual(result["hardware"], f"gpu:{A100_NAME} MIG 3g.20gb x1")
        self.assertEqual(result["energy"]["devices"][0]["uuid"], A100, "energy is still the whole GPU's")
        self.assertEqual(result["energy"]["devices"][0]["mig_profile"], "3g.20gb")
        self.assertIn("mig_whole_gpu_energy", result["quality_flags"])
        self.assertEqual(result["environment"]["gpu_settings"][0]["uuid"], A100, "settings are the whole GPU's")
        self.assertEqual(helpers.result_schema_errors(result), [])

    def test_a_mig_enabled_gpu_named_by_index_is_fingerprinted_as_its_first_slice_which_cuda_uses(self):
        result, _ = self.run_experiment({"duration_seconds": 0.1}, visible="0", gpus=[self.a100_with_slices()],
                                        gpu_name=f"{A100_NAME} MIG 1g.10gb")
        self.assertEqual(result["hardware"], f"gpu:{A100_NAME} MIG 1g.10gb x1")

    def test_a_slice_nvml_names_without_its_profile_takes_the_frameworks(self):
        result, _ = self.run_experiment({"duration_seconds": 0.1}, visible=MIG_1, gpus=[self.a100_with_slices(("", ""))],
                                        gpu_name=f"{A100_NAME} MIG 1g.10gb")
        self.assertEqual(result["hardware"], f"gpu:{A100_NAME} MIG 1g.10gb x1")

    def test_without_an_energy_meter_the_slice_is_still_the_fingerprint_and_settings_are_read(self):
        result, _ = self.run_experiment({"enabled": False, "duration_seconds": 0}, visible=MIG_2, energy="none",
                                        gpus=[self.a100_with_slices()], gpu_name=f"{A100_NAME} MIG 3g.20gb")
        self.assertEqual(result["hardware"], f"gpu:{A100_NAME} MIG 3g.20gb x1")
        self.assertEqual(result["environment"]["gpu_settings"][0]["power_limit_w"], 700.0)

    def test_a_changed_power_limit_or_application_clocks_is_recorded_and_flagged(self):
        gpu = Gpu(H100, energy_mj=ramp(300), instant_mw=300_000, power_limit_mw=450_000, app_clocks_mhz=(1410, 2619))
        result, _ = self.run_experiment({"duration_seconds": 0.1}, gpus=[gpu])
        settings = result["environment"]["gpu_settings"][0]
        self.assertEqual((settings["power_limit_w"], settings["default_power_limit_w"]), (450.0, 700.0))
        self.assertEqual(settings["applications_clocks_mhz"], {"sm": 1410, "memory": 2619})
        self.assertIn("power_limit_not_default", result["quality_flags"])
        self.assertIn("application_clocks_not_default", result["quality_flags"])
        self.assertEqual(helpers.result_schema_errors(result), [])

    def test_settings_nvml_cannot_read_are_null_and_raise_no_flag(self):
        gpu = Gpu(H100, energy_mj=ramp(300), instant_mw=300_000, power_limit_mw=None, default_power_limit_mw=None,
                  app_clocks_mhz=None, default_app_clocks_mhz=None)
        result, _ = self.run_experiment({"duration_seconds": 0.1}, gpus=[gpu])
        self.assertEqual(result["environment"]["gpu_settings"], [{
            "uuid": H100, "power_limit_w": None, "default_power_limit_w": None,
            "applications_clocks_mhz": None, "default_applications_clocks_mhz": None}])
        self.assertFalse({"power_limit_not_default", "application_clocks_not_default"} & set(result["quality_flags"]))
        self.assertEqual(helpers.result_schema_errors(result), [])

    def gpu_check(self):
        spec = importlib.util.spec_from_file_location("gpu_check", os.path.join(helpers.REPO_ROOT, "bench", "gpu_check.py"))
        gpu_check = importlib.util.module_from_spec(spec)
        with mock.patch.dict(os.environ):  # it sets CUDA_DEVICE_ORDER for its own process
            spec.loader.exec_module(gpu_check)
        return gpu_check

    def test_bench_gpu_check_prints_what_the_issue_asks_of_a_real_run(self):
        gpu_check = self.gpu_check()
        result, _ = self.run_experiment({"duration_seconds": 0.1})
        text = gpu_check.report("synthetic:tiny", result)
        for wanted in (f"= {H100} (NVIDIA H100 80GB HBM3)", "J/token", "tokens/s", "window:", "baseline:", "P2",
                       "counter vs integrated:", "relative difference", "power: instantaneous",
                       f"settings: {H100}: power limit 700 W (default 700 W); application clocks SM 1980/memory 2619 MHz",
                       "validity: "):
            self.assertIn(wanted, text)

    def test_bench_gpu_check_fails_on_a_validity_flag_and_names_it(self):
        gpu_check = self.gpu_check()
        result, _ = self.run_experiment({"duration_seconds": 0.1})
        result["quality_flags"] = [f for f in result["quality_flags"] if f not in gpu_check.VALIDITY_FLAGS]
        clean = dict(result, quality_flags=result["quality_flags"] + ["energy_window_under_10s", "mig_whole_gpu_energy"])
        self.assertEqual(gpu_check.verdict([("a", clean), ("b", clean)]), (0, []), "qualifying flags pass")
        self.assertIn("validity: ok", gpu_check.report("a", clean))
        for flag in gpu_check.VALIDITY_FLAGS:
            flagged = dict(result, quality_flags=result["quality_flags"] + [flag])
            self.assertEqual(gpu_check.verdict([("a", clean), ("b", flagged)]), (1, [f"gpu-check: b: validity flags {flag}"]))
            self.assertIn(f"validity: FAILED: {flag}", gpu_check.report("b", flagged))
        unmeasured = dict(result, energy=dict(result["energy"], status="unavailable"))
        self.assertEqual(gpu_check.verdict([("c", unmeasured)])[0], 1)
        self.assertEqual(gpu_check.validity_flags(unmeasured), ["energy_unavailable"])

    def test_every_validity_flag_is_one_the_harness_raises(self):
        source = ""
        for folder, _, files in os.walk(os.path.join(helpers.HARNESS_DIR, "lem_harness")):
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(folder, name)) as f:
                        source += f.read()
        for flag in self.gpu_check().VALIDITY_FLAGS:
            self.assertIn(f'"{flag}"', source, flag)


if __name__ == "__main__":
    unittest.main()
