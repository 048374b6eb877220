"""bench/gpu-check's serving run: its arguments, the config it gives the harness, how an absent engine
counts (skipped: no pass), and its report; then the run itself, through the harness's run_serving, on
this machine's CPU (a real transformers serve on synthetic:tiny, a fake RAPL tree at a constant power,
since NVML meters GPUs only), so the code a GPU host runs is exercised here too."""

import contextlib
import importlib.util
import io
import os
import shutil
import tempfile
import unittest
from unittest import mock

import helpers
from fake_powercap import FakePowercap
from lem_harness.serving.inputs import serving_section
from test_serving_e2e import needs_serve


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", os.path.join(helpers.REPO_ROOT, "bench", "gpu_check.py"))
    gpu_check = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ):  # it sets CUDA_DEVICE_ORDER for its own process
        spec.loader.exec_module(gpu_check)
    return gpu_check


gpu_check = load_gpu_check()
CLEAN = {"quality_flags": ["steady_window_under_20s"], "energy": {"status": "measured"}}


class ServingArgumentsTest(unittest.TestCase):
    def test_rates_and_engines_are_parsed_and_checked(self):
        args = gpu_check.parse_args(["--serving-rates", "2.5, 8,inf", "--serving-engines", "vllm"])
        self.assertEqual((args.serving_rates, args.serving_engines), ([2.5, 8.0, "inf"], ["vllm"]))
        defaults = gpu_check.parse_args([])
        self.assertEqual((defaults.serving_engines, defaults.serving_rates), (["transformers", "vllm"], [4.0, 16.0, "inf"]))
        for bad in (["--serving-rates", "0"], ["--serving-rates", "fast"], ["--serving-rates", "-1,2"],
                    ["--serving-engines", "tgi"], ["--serving-engines", ","]):
            with self.subTest(argv=bad), contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
                gpu_check.parse_args(bad)

    def test_a_transformers_run_is_scenario_serving_on_cuda_metered_by_nvml(self):
        args = gpu_check.parse_args(["--serving-requests", "20", "--input-tokens", "100", "--output-tokens", "60"])
        config = gpu_check.serving_config("transformers", "inf", args)
        self.assertEqual((config["scenario"], config["backend"], config["model"]), ("serving", "pytorch", "synthetic:small"))
        self.assertEqual((config["pytorch"]["device"], config["energy"]["backend"]), ("cuda", "nvml"))
        section = serving_section(config)  # the harness accepts it
        self.assertEqual((section["rate"], section["num_requests"], section["warmup_requests"]), (float("inf"), 20, 4))
        engine = section["engine"]
        self.assertGreaterEqual(engine["num_blocks"] * engine["block_size"], 20 * 160, "every request fits the KV cache")

    def test_a_vllm_run_caps_the_context(self):
        args = gpu_check.parse_args(["--input-tokens", "100", "--output-tokens", "60"])
        config = gpu_check.serving_config("vllm", 4.0, args)
        self.assertEqual((config["backend"], config["vllm"]["engine"]["max_model_len"]), ("vllm", 160))
        self.assertNotIn("pytorch", config)
        self.assertEqual(serving_section(config)["rate"], 4.0)


class AbsentEngineTest(unittest.TestCase):
    def test_an_absent_engine_is_skipped_with_its_reason_and_is_no_pass(self):
        args = gpu_check.parse_args(["--serving-engines", "transformers,vllm", "--serving-rates", "4,inf"])
        why = {"transformers": None, "vllm": "vllm does not import"}
        with mock.patch.object(gpu_check, "serving_unavailable", lambda engine: why[engine]):
            runs, skipped = gpu_check.serving_runs(args)
        self.assertEqual([label for label, _ in runs], ["serving-transformers-rate-4", "serving-transformers-rate-inf"])
        self.assertEqual([label for label, _ in skipped], ["serving-vllm"])
        self.assertTrue(skipped[0][1].startswith("vllm does not import"))

        self.assertEqual(gpu_check.verdict([("a", CLEAN)]), (0, []))
        status, lines = gpu_check.verdict([("a", CLEAN)], skipped)
        self.assertEqual(status, 2)
        self.assertEqual(lines, [f"gpu-check: serving-vllm: skipped: {skipped[0][1]}"])
        flagged = dict(CLEAN, quality_flags=["zero_energy_reading"])
        self.assertEqual(gpu_check.verdict([("a", flagged)], skipped)[0], 1, "a validity failure outranks a skip")
        self.assertEqual(gpu_check.verdict([("a", CLEAN)], skipped, [("b", "server died")]),
                         (1, ["gpu-check: b: failed: server died", lines[0]]))

    def test_vllm_absent_here_is_said_so(self):
        why = gpu_check.serving_unavailable("vllm")
        if why is None:
            self.skipTest("vllm is installed here: nothing absent to report")
        self.assertIn("vllm", why)

    def test_the_dry_run_prints_runs_and_skips_and_measures_nothing(self):
        out = io.StringIO()
        with mock.patch.object(gpu_check, "serving_unavailable", lambda engine: "no vllm here" if engine == "vllm" else None), \
                contextlib.redirect_stdout(out):
            status = gpu_check.main(["--dry-run", "--only", "serving", "--serving-rates", "4"])
        self.assertEqual(status, 0)
        self.assertEqual(out.getvalue().splitlines(), [
            "would run serving-transformers-rate-4: synthetic:small on pytorch ({'request_rate': 4.0, 'num_requests': 32, "
            "'warmup_requests': 4, 'engine': {'num_blocks': 384, 'block_size': 32}})",
            "SKIPPED serving-vllm: no vllm here; not a pass (--serving-engines names the engines to run)",
            "dry run: nothing measured"])


@needs_serve
class ServingRunOnTheCpuTest(unittest.TestCase):
    WATTS = 30.0

    def test_the_serving_run_measures_and_reports_every_figure(self):
        cache = tempfile.mkdtemp(prefix="lem-gpu-check-serving-")
        self.addCleanup(shutil.rmtree, cache, True)
        args = gpu_check.parse_args(["--serving-model", "synthetic:tiny", "--serving-requests", "8",
                                     "--input-tokens", "16", "--output-tokens", "8", "--baseline", "0.2",
                                     "--cooldown", "0"])
        config = gpu_check.serving_config("transformers", 16.0, args)
        # What this machine has instead of a GPU and NVML: its CPU, metered by a fake RAPL tree.
        config["pytorch"]["device"] = "cpu"
        config["energy"]["backend"] = "rapl"
        config["baseline"]["enabled"] = False  # at one constant power the idle-adjusted energy is ~0 J, flagged
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0")
        env = {"LEM_CACHE_DIR": cache, "HF_HUB_CACHE": os.path.join(cache, "hub"), "OMP_NUM_THREADS": "1",
               "LEM_POWERCAP_ROOT": tree.root}
        with mock.patch.dict(os.environ, env), tree.powered({"intel-rapl:0": self.WATTS}), \
                contextlib.redirect_stderr(io.StringIO()):
            result = gpu_check.measure_serving("serving-transformers-rate-16", config)
        s = result["serving"]
        self.assertEqual((s["completed"], s["failed"], s["request_rate"]), (8, 0, 16.0))
        self.assertEqual(result["energy"]["status"], "measured")
        text = gpu_check.serving_report("serving-transformers-rate-16", result)
        startup = s["server"]["startup_s"]
        for wanted in (f"server: transformers ready in {startup:.1f} s", "load: 8/8 completed, 0 failed",
                       f"TTFT p50 {s['ttft_ms']['p50']:.2f} ms", f"TPOT p50 {s['tpot_ms']['p50']:.2f} ms",
                       f"throughput: {s['output_throughput']:.1f} output tokens/s",
                       f"arrival error p99: {s['arrival_error_ms']['p99']:.2f} ms", "energy, whole load: measured",
                       "validity: ok"):
            self.assertIn(wanted, text)
        steady, per = s["steady_state"], s["energy_per_request_j"]
        if steady["energy_per_token_j"] is None:  # a figure that could not be measured says why
            self.assertIn(f"J/token (steady state): null ({steady['reason']})", text)
            self.assertIn(f"J/request: mean null, p90 null ({per['reason']})", text)
        else:
            self.assertIn(f"J/token (steady state): {steady['energy_per_token_j']:.5f}", text)
            self.assertIn(f"J/request: mean {per['mean']:.4f}, p90 {per['p90']:.4f}", text)
        self.assertEqual(gpu_check.verdict([("serving", result)]), (0, []))


if __name__ == "__main__":
    unittest.main()
