"""The harness end to end, through the real protocol: a subprocess `python -m lem_harness` per test."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import helpers
from test_energy import fake_powercap

NO_RAPL = {"LEM_POWERCAP_ROOT": "/nonexistent/powercap"}


class FullRunTest(unittest.TestCase):
    def setUp(self):
        self.config = helpers.tiny_config()
        self.exchange = helpers.ExchangeDir(self.config)
        self.addCleanup(self.exchange.cleanup)

    def test_tiny_run_writes_a_schema_valid_result_beside_the_config(self):
        started = time.monotonic()
        proc = self.exchange.run(**NO_RAPL)
        elapsed = time.monotonic() - started
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(sorted(os.listdir(self.exchange.path)),
                         sorted([os.path.basename(self.exchange.config_path), os.path.basename(self.exchange.result_path)]))
        result = self.exchange.read(self.exchange.result_path)
        self.assertEqual(helpers.result_schema_errors(result), [])
        ajv = helpers.ajv_validate(self.exchange.result_path)
        if ajv is not None:
            self.assertEqual(ajv, (True, None))
        self.assertEqual((result["hash"], result["cycle"], result["names"]), (helpers.HASH, 2, ["tiny-test"]))
        self.assertEqual(result["config"], self.config)
        self.assertEqual(result["tokens"], {"input": 4 * 16, "output": 4 * 8, "total": 4 * 24, "prompts": 4})
        self.assertEqual(result["latency"]["ttft_ms"]["n"], 4)
        self.assertEqual(result["latency"]["itl_ms"]["n"], 4 * 7)
        self.assertEqual(result["latency"]["e2e_ms"]["n"], 4)
        self.assertTrue(result["hardware"].startswith("cpu:"))
        self.assertEqual(result["effective_config"]["device"], "cpu")
        self.assertEqual(result["effective_config"]["num_threads"], 1)
        self.assertAlmostEqual(result["throughput"]["output_tokens_per_s"], 32 / result["duration_s"])
        # No power source: every energy figure null, and the 30 s baseline is not slept for nothing.
        self.assertEqual(result["energy"]["status"], "unavailable")
        self.assertIsNone(result["energy"]["total_j"])
        self.assertIn("RAPL not readable", result["energy"]["reason"])
        self.assertEqual(result["baseline"]["duration_s"], 0)
        self.assertIn("baseline_skipped", result["quality_flags"])
        self.assertIn("hardware_mismatch", result["quality_flags"])  # the envelope said cpu:test
        self.assertLess(elapsed, 25)

    def test_rapl_source_gives_measured_energy_with_a_timeline(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root)
        fake_powercap(root, {0: (0, 2**32)})
        stop = threading.Event()

        def tick():  # 0.1 W in real time however often this thread runs, written atomically so a read never sees half a number
            energy, path, last = 0, os.path.join(root, "intel-rapl:0", "energy_uj"), time.monotonic()
            while not stop.wait(0.01):
                now = time.monotonic()
                energy, last = energy + int((now - last) * 100_000), now
                with open(path + ".new", "w") as f:
                    f.write(f"{energy}\n")
                os.replace(path + ".new", path)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        self.addCleanup(stop.set)
        # n 32 keeps the window well above the fake counter's 10 ms tick.
        exchange = helpers.ExchangeDir(helpers.tiny_config(n=32, baseline={"duration_seconds": 0.3},
                                                           energy={"sample_interval_ms": 20}))
        self.addCleanup(exchange.cleanup)
        proc = exchange.run(LEM_POWERCAP_ROOT=root)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        result = exchange.read(exchange.result_path)
        self.assertEqual(helpers.result_schema_errors(result), [])
        energy = result["energy"]
        self.assertEqual((energy["status"], energy["method"]), ("measured", "rapl"))
        self.assertGreater(energy["total_j"], 0)
        self.assertGreater(len(energy["timeline"]), 0)
        self.assertEqual(energy["devices"][0]["name"], "package-0")
        # The package is the headline (scope cpu); the tree has no DRAM zone, so that source says why.
        self.assertEqual([(s["scope"], s["status"]) for s in energy["sources"]], [("cpu", "measured"), ("dram", "unavailable")])
        self.assertEqual((energy["scope"], energy["combined_scope"], energy["combined_j"]), ("cpu", "cpu", energy["total_j"]))
        self.assertAlmostEqual(result["baseline"]["power_w"], 0.1, delta=0.05)
        self.assertIsNotNone(energy["adjusted_j"])
        self.assertIn("energy_window_under_10s", result["quality_flags"])


class ErrorPayloadTest(unittest.TestCase):
    def run_failing(self, config, **env):
        exchange = helpers.ExchangeDir(config)
        self.addCleanup(exchange.cleanup)
        proc = exchange.run(**env)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertFalse(os.path.exists(exchange.result_path))
        payload = exchange.read(exchange.error_path)
        self.assertEqual(set(payload), {"type", "message", "traceback"})
        return payload

    def test_unknown_preset_lists_the_presets(self):
        payload = self.run_failing(helpers.tiny_config(model="synthetic:huge"))
        self.assertEqual(payload["type"], "UnknownPreset")
        for preset in ("tiny", "small", "1b", "8b"):
            self.assertIn(f"synthetic:{preset}", payload["message"])

    def test_missing_dataset_names_the_path(self):
        path = "/nonexistent/prompts.jsonl"
        payload = self.run_failing(helpers.tiny_config(dataset=path))
        self.assertEqual(payload["type"], "DatasetError")
        self.assertIn(path, payload["message"])

    def test_cuda_requested_without_a_gpu_is_device_unavailable(self):
        import torch

        if torch.cuda.is_available():
            self.skipTest("this machine has a GPU")
        payload = self.run_failing(helpers.tiny_config(pytorch={"device": "cuda"}))
        self.assertEqual(payload["type"], "DeviceUnavailable")


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if proc.stderr:
        proc.stderr.close()


class SignalTest(unittest.TestCase):
    def long_run(self):
        exchange = helpers.ExchangeDir(helpers.tiny_config(n=1_000_000, warmup={"enabled": False}))
        self.addCleanup(exchange.cleanup)
        return exchange

    def test_sigterm_mid_run_exits_143_with_an_interrupted_payload_and_no_result(self):
        exchange = self.long_run()
        proc = exchange.start(**NO_RAPL)
        self.addCleanup(stop_process, proc)
        helpers.wait_for_line(proc.stderr, "measuring:")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 143)
        self.assertFalse(os.path.exists(exchange.result_path))
        self.assertEqual(exchange.read(exchange.error_path)["type"], "Interrupted")

    def test_exits_without_a_result_when_the_parent_process_dies(self):
        exchange = self.long_run()
        parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        self.addCleanup(stop_process, parent)
        proc = exchange.start(LEM_PARENT_PID=str(parent.pid), **NO_RAPL)
        self.addCleanup(stop_process, proc)
        helpers.wait_for_line(proc.stderr, "measuring:")
        parent.kill()
        parent.wait()
        self.assertEqual(proc.wait(timeout=30), 143)
        self.assertFalse(os.path.exists(exchange.result_path))
        self.assertFalse(os.path.exists(exchange.error_path))

    def test_without_a_config_path_it_says_so(self):
        env = {k: v for k, v in os.environ.items() if k not in ("LEM_CONFIG_PATH", "LLEM_CONFIG_PATH")}
        env["PYTHONPATH"] = helpers.HARNESS_DIR
        proc = subprocess.run([sys.executable, "-m", "lem_harness"], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("LEM_CONFIG_PATH", proc.stderr)


class EnvAliasTest(unittest.TestCase):
    """LEM_<NAME> is read first; LLEM_<NAME>, the old name, still works alone (lem_harness/env.py)."""

    def test_lem_env_prefers_the_lem_name_and_falls_back_to_the_old_one(self):
        from lem_harness.env import lem_env

        self.assertEqual(lem_env("CONFIG_PATH", {"LEM_CONFIG_PATH": "/a", "LLEM_CONFIG_PATH": "/b"}), "/a")
        self.assertEqual(lem_env("CONFIG_PATH", {"LLEM_CONFIG_PATH": "/b"}), "/b")
        self.assertEqual(lem_env("CONFIG_PATH", {"LEM_CONFIG_PATH": "", "LLEM_CONFIG_PATH": "/b"}), "/b")
        self.assertIsNone(lem_env("PARENT_PID", {}))

    def run_harness(self, **names) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_CONFIG_PATH")}
        env.update(names, PYTHONPATH=helpers.HARNESS_DIR)
        return subprocess.run([sys.executable, "-m", "lem_harness"], env=env, capture_output=True, text=True, timeout=60)

    def bad_config(self) -> str:
        """A config file that is not JSON: the harness reads it, fails before torch loads, and writes its error beside it."""
        folder = tempfile.mkdtemp(prefix="llem-test-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, f"{helpers.HASH}_config.json")
        with open(path, "w") as f:
            f.write("{not json")
        return path

    def test_each_name_alone_reaches_the_harness_and_lem_wins(self):
        for name in ("LEM_CONFIG_PATH", "LLEM_CONFIG_PATH"):
            path = self.bad_config()
            proc = self.run_harness(**{name: path})
            self.assertEqual(proc.returncode, 1, f"{name}: {proc.stderr}")
            self.assertTrue(os.path.exists(path.replace("_config.json", "_error.json")), name)
        lem, old = self.bad_config(), self.bad_config()
        proc = self.run_harness(LEM_CONFIG_PATH=lem, LLEM_CONFIG_PATH=old)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertTrue(os.path.exists(lem.replace("_config.json", "_error.json")))
        self.assertFalse(os.path.exists(old.replace("_config.json", "_error.json")))


if __name__ == "__main__":
    unittest.main()
