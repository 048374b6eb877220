"""energy.phase_split: a prefill-only pass over the same prompts after the measured one; decode is
the measured pass less it. Run end to end (real harness process, real tiny model) on a fake RAPL
tree whose counters advance at a constant power, so every derived figure is checked with energy
present, and once with no energy source at all."""

import unittest

import helpers
from fake_powercap import FakePowercap

WATTS = 40.0


def phase_config(**energy):
    # Enough work that the windows are tens of ms, not a few counter ticks.
    return helpers.tiny_config(n=6, max_input_tokens=32, max_output_tokens=24,
                               baseline={"enabled": False}, warmup={"enabled": True, "n_warmup": 1},
                               energy={"backend": "rapl", **energy})


class PhaseSplitTest(unittest.TestCase):
    def run_harness(self, config, **env):
        exchange = helpers.ExchangeDir(config)
        self.addCleanup(exchange.cleanup)
        proc = exchange.run(timeout=300, **env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        result = exchange.read(exchange.result_path)
        self.assertEqual(helpers.result_schema_errors(result), [])
        return result

    def test_prefill_and_decode_split_the_measured_energy(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0").zone("intel-rapl:0:1", "dram")
        with tree.powered({"intel-rapl:0": WATTS, "intel-rapl:0:1": 2.0}):
            result = self.run_harness(phase_config(phase_split=True), LEM_POWERCAP_ROOT=tree.root)
        energy, tokens = result["energy"], result["tokens"]
        self.assertEqual(energy["status"], "measured", energy["reason"])
        phases = energy["phases"]
        prefill, decode = phases["prefill"], phases["decode"]
        self.assertIsNone(phases["reason"])
        self.assertEqual(phases["scope"], "cpu")
        self.assertIn("min_new_tokens = 1", phases["method"])
        # The same prompts, one new token each.
        self.assertEqual((prefill["prompts"], prefill["input_tokens"]), (tokens["prompts"], tokens["input"]))
        self.assertEqual(decode["output_tokens"], tokens["output"] - tokens["prompts"])
        # A constant power: each pass's energy follows its own window.
        self.assertGreater(prefill["window_s"], 0)
        self.assertAlmostEqual(prefill["total_j"], WATTS * prefill["window_s"], delta=WATTS * (0.5 * prefill["window_s"] + 0.02))
        self.assertLess(prefill["total_j"], energy["total_j"])
        self.assertAlmostEqual(decode["total_j"], energy["total_j"] - prefill["total_j"], places=9)
        self.assertAlmostEqual(decode["window_s"], energy["window_s"] - prefill["window_s"], places=9)
        self.assertAlmostEqual(prefill["per_input_token_j"], prefill["total_j"] / tokens["input"], places=12)
        self.assertAlmostEqual(prefill["per_request_j"], prefill["total_j"] / tokens["prompts"], places=12)
        self.assertAlmostEqual(decode["per_output_token_j"], decode["total_j"] / decode["output_tokens"], places=12)
        # The short prefill window's flag stays in its block; the measured figures are untouched.
        self.assertIn("energy_window_under_10s", prefill["flags"])
        self.assertAlmostEqual(energy["per_output_token_j"], energy["total_j"] / tokens["output"], places=12)
        # RAPL's readings are counter differences: the window's first one is not a missing reading.
        self.assertNotIn("power_timeline_incomplete", result["quality_flags"])
        self.assertEqual(energy["samples"]["missing"], 0)

    def test_without_phase_split_there_is_no_extra_pass(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0")
        with tree.powered({"intel-rapl:0": WATTS}):
            result = self.run_harness(phase_config(), LEM_POWERCAP_ROOT=tree.root)
        self.assertNotIn("phases", result["energy"])

    def test_with_no_energy_source_the_windows_are_measured_and_the_energies_null_with_the_reason(self):
        result = self.run_harness(phase_config(backend="none", phase_split=True))
        phases = result["energy"]["phases"]
        self.assertIsNone(phases["prefill"]["total_j"])
        self.assertIsNone(phases["decode"]["per_output_token_j"])
        self.assertEqual(phases["reason"], result["energy"]["reason"])
        self.assertTrue(phases["reason"])
        self.assertGreater(phases["prefill"]["window_s"], 0)


if __name__ == "__main__":
    unittest.main()
