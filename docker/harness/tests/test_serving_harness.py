"""scenario serving end to end through the real harness process (python -m lem_harness): a real
`transformers serve --continuous-batching` on synthetic:tiny (saved once as a Hugging Face folder in a
temporary LEM_CACHE_DIR), a small capped KV cache, a fake RAPL tree whose counter advances at a constant
power. Checks the result against the schema and its figures against each other; SIGTERM mid-load
(interrupted, no result, no server left); the server killed mid-load (the node fails with ServerFailed
and the server's log tail).

Skips when `transformers serve` cannot run here, unless LEM_REQUIRE_TRANSFORMERS=1, where it fails."""

import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unittest

import helpers
from fake_powercap import FakePowercap
from test_serving_e2e import needs_serve

WATTS = 40.0
N, MAX_TOKENS = 16, 8


def serving_config(**serving):
    return helpers.tiny_config(
        scenario="serving", max_input_tokens=16, max_output_tokens=MAX_TOKENS,
        baseline={"enabled": False}, energy={"backend": "rapl", "sample_interval_ms": 20},
        serving={"request_rate": "inf", "burstiness": 1, "max_concurrency": 2, "num_requests": N,
                 "warmup_requests": 2, "engine": {"num_blocks": 16, "block_size": 32, "max_batch_tokens": None},
                 **serving})


def processes_mentioning(text: str) -> list:
    """(pid, command line) of every process whose command line contains text, this one aside."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append((int(entry), cmdline))
    return found


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie of ours counts as gone
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ")[-1].startswith("Z"):
                    return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


@needs_serve
class ServingHarnessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cache = tempfile.mkdtemp(prefix="lem-serving-cache-")
        cls.addClassCleanup(shutil.rmtree, cls.cache, True)
        # The synthetic folder every test's server loads (saved by the first run); nothing may outlive a test.
        cls.model_folder = os.path.join(cls.cache, "models", "tiny-42")

    def env(self, **extra):
        return dict(LEM_CACHE_DIR=self.cache, HF_HUB_CACHE=os.path.join(self.cache, "hub"), OMP_NUM_THREADS="1",
                    **extra)

    def assertNoServerLeft(self):
        left = [p for p in processes_mentioning(self.model_folder) if not gone(p[0], 10)]
        self.assertEqual(left, [], "a server process outlived the harness")

    def exchange(self, config):
        exchange = helpers.ExchangeDir(config)
        self.addCleanup(exchange.cleanup)
        return exchange

    def test_result_is_valid_and_consistent_with_energy_at_a_constant_power(self):
        exchange = self.exchange(serving_config())
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0")
        t0 = time.monotonic()
        with tree.powered({"intel-rapl:0": WATTS}):
            proc = exchange.run(timeout=300, **self.env(LEM_POWERCAP_ROOT=tree.root))
        elapsed = time.monotonic() - t0
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        self.assertNoServerLeft()
        result = exchange.read(exchange.result_path)
        self.assertEqual(helpers.result_schema_errors(result), [])
        ajv = helpers.ajv_validate(exchange.result_path)
        if ajv is not None:
            self.assertTrue(ajv[0], ajv[1])
        self.assertTrue(os.path.isfile(os.path.join(exchange.path, f"{helpers.HASH}_server.log")))

        s, tokens, energy = result["serving"], result["tokens"], result["energy"]
        self.assertEqual((s["num_requests"], s["completed"], s["failed"], s["errors"]), (N, N, 0, []))
        self.assertEqual((s["request_rate"], s["max_concurrency"]), ("inf", 2))
        self.assertEqual(tokens["output"], N * MAX_TOKENS)
        self.assertEqual(tokens["prompts"], N)
        self.assertGreaterEqual(tokens["input"], N * 16)  # the server's own count, <s> included
        self.assertEqual(len(s["requests"]), N)
        for ttft, tpot, e2e, out, ok in s["requests"]:
            self.assertTrue(ok)
            self.assertEqual(out, MAX_TOKENS)
            self.assertLessEqual(ttft, e2e)  # equal where the whole stream came in one read
            self.assertAlmostEqual(tpot, (e2e - ttft) / (MAX_TOKENS - 1), places=6)
        self.assertEqual(s["ttft_ms"]["n"], N)
        self.assertEqual(result["latency"]["e2e_ms"], s["e2e_ms"])
        self.assertLessEqual(s["peak_concurrency"], 2)  # the cap
        self.assertAlmostEqual(s["output_throughput"], N * MAX_TOKENS / s["duration_s"], places=6)

        server = s["server"]
        self.assertEqual((server["kind"], server["batch"]), ("transformers", 2))
        self.assertIn("max_concurrency", server["batch_source"])
        self.assertEqual(server["metrics"], "transformers serve has no /metrics")
        self.assertIsNone(server["batch_utilisation"])
        self.assertIn("first request", server["warmup_note"])
        self.assertGreater(server["startup_s"], 0)
        self.assertIsNone(s["goodput"]["requests_per_s"])
        self.assertTrue(s["goodput"]["reason"])

        # Window (b): the whole load, at a constant power.
        self.assertEqual(energy["status"], "measured", energy["reason"])
        self.assertGreaterEqual(result["duration_s"], s["duration_s"])
        self.assertAlmostEqual(energy["total_j"], WATTS * result["duration_s"], delta=WATTS * 0.1 + 0.2 * energy["total_j"])
        self.assertAlmostEqual(energy["per_output_token_j"], energy["total_j"] / tokens["output"], places=9)

        # Window (a): the steady state, B = 2 (the cap): opens at the 2nd first token, closes at N - 3 finished.
        steady = s["steady_state"]
        self.assertIsNone(steady["reason"], steady)
        self.assertLess(steady["start_s"], steady["end_s"])
        self.assertAlmostEqual(steady["duration_s"], steady["end_s"] - steady["start_s"], places=9)
        self.assertGreater(steady["tokens"], 0)
        self.assertLess(steady["tokens"], tokens["output"])
        self.assertAlmostEqual(steady["energy_j"], WATTS * steady["duration_s"],
                               delta=0.25 * WATTS * steady["duration_s"] + 0.5)
        self.assertAlmostEqual(steady["energy_per_token_j"], steady["energy_j"] / steady["tokens"], places=9)
        expected_jpt = WATTS * steady["duration_s"] / steady["tokens"]
        self.assertAlmostEqual(steady["energy_per_token_j"], expected_jpt, delta=0.25 * expected_jpt + 0.5 / steady["tokens"])
        per_request = s["energy_per_request_j"]
        self.assertIsNone(per_request["reason"])
        self.assertAlmostEqual(per_request["mean"], steady["energy_per_token_j"] * MAX_TOKENS, places=9)
        self.assertAlmostEqual(per_request["p90"], steady["energy_per_token_j"] * MAX_TOKENS, places=9)

        flags = result["quality_flags"]
        self.assertIn("steady_window_under_20s", flags)
        self.assertNotIn("failed_requests", flags)
        self.assertNotIn("no_steady_state", flags)
        memory = result["memory"]
        self.assertEqual(memory["device"], "cpu")
        self.assertIn("VmHWM", memory["method"])
        self.assertGreater(memory["peak_bytes"], 50 * 2**20)
        self.assertLess(memory["peak_bytes"], 4 * 2**30)  # a capped cache: no 90 %-of-RAM allocation
        effective = result["effective_config"]
        self.assertEqual(effective["scenario"], "serving")
        command = " ".join(effective["server"]["command"])
        self.assertIn("--cb-num-blocks 16", command)
        self.assertIn("--cb-max-batch-tokens 512", command)  # null: min(8192, 16 x 32)
        self.assertIn("--dtype float32", command)
        self.assertEqual(effective["model_folder"], self.model_folder)
        self.assertGreater(result["flops"]["total"], 0)
        print(f"\n[serving harness] {elapsed:.1f} s in all, server start-up {server['startup_s']:.1f} s, load "
              f"{s['duration_s']:.2f} s, steady {steady['duration_s']:.2f} s / {steady['tokens']} tokens: "
              f"{steady['energy_per_token_j']:.4f} J/token (expected {expected_jpt:.4f})", file=sys.stderr)

    def slow_load(self):
        # About 4 s of arrivals, so a signal sent once the load starts lands in the middle of it.
        return serving_config(request_rate=4, max_concurrency=None, energy={"backend": "none"})

    def start_until_measuring(self, exchange):
        proc = exchange.start(**self.env())
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        line = helpers.wait_for_line(proc.stderr, "server pid", timeout=240)
        server_pid = int(re.search(r"server pid (\d+)", line).group(1))
        helpers.wait_for_line(proc.stderr, "measuring:", timeout=120)
        time.sleep(0.8)
        return proc, server_pid

    def test_sigterm_mid_load_stops_the_server_and_writes_no_result(self):
        exchange = self.exchange(self.slow_load())
        proc, server_pid = self.start_until_measuring(exchange)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
        proc.stderr.close()
        self.assertEqual(rc, 143)
        self.assertFalse(os.path.exists(exchange.result_path))
        self.assertEqual(exchange.read(exchange.error_path)["type"], "Interrupted")
        self.assertTrue(gone(server_pid), "the server outlived the harness")
        self.assertNoServerLeft()

    def test_a_harness_killed_outright_takes_its_server_with_it(self):
        # SIGKILL runs no handler: the server's parent-death signal (set by the launcher) is what stops it.
        exchange = self.exchange(self.slow_load())
        proc, server_pid = self.start_until_measuring(exchange)
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
        self.assertTrue(gone(server_pid, 30), "the server outlived a SIGKILLed harness")
        self.assertNoServerLeft()

    def test_a_server_killed_mid_load_fails_the_node_with_its_log_tail(self):
        exchange = self.exchange(self.slow_load())
        proc, server_pid = self.start_until_measuring(exchange)
        os.kill(server_pid, signal.SIGKILL)
        rc = proc.wait(timeout=60)
        proc.stderr.close()
        self.assertEqual(rc, 1)
        self.assertFalse(os.path.exists(exchange.result_path))
        error = exchange.read(exchange.error_path)
        self.assertEqual(error["type"], "ServerFailed")
        self.assertIn("was killed by SIGKILL during the load", error["message"])
        self.assertIn("log tail:", error["message"])
        self.assertIn("/v1/completions", error["message"])  # the server's own lines
        self.assertIn(f"{helpers.HASH}_server.log", error["message"])
        self.assertNoServerLeft()


if __name__ == "__main__":
    unittest.main()
