"""scenario serving with vLLM, which needs a GPU: the `vllm serve` command, /metrics parsing, and the path
end to end through the harness process against a stand-in `vllm` (tests/fake_vllm.py)."""

import json
import os
import shutil
import tempfile
import time
import unittest
from unittest import mock

import helpers
import fake_vllm
from fake_powercap import FakePowercap
from lem_harness.errors import ServerFailed
from lem_harness.serving import server_control
from lem_harness.serving.server import ServerStartError
from lem_harness.serving.vllm_server import (MetricsPoller, VllmServer, batch_utilisation, engine_args,
                                             running_requests)

ENGINE = {"max_num_seqs": 256, "gpu_memory_utilization": 0.9, "tensor_parallel_size": 1, "enforce_eager": False,
          "max_model_len": None, "enable_prefix_caching": False}


class VllmCommandTest(unittest.TestCase):
    def test_engine_flags_follow_the_config(self):
        self.assertEqual(engine_args(ENGINE, "bf16", 42, "0.6.3"),
                         ["--dtype", "bfloat16", "--seed", "42", "--max-num-seqs", "256",
                          "--gpu-memory-utilization", "0.9", "--tensor-parallel-size", "1"])
        custom = dict(ENGINE, enforce_eager=True, max_model_len=4096, tensor_parallel_size=2, max_num_seqs=8)
        args = engine_args(custom, "fp16", 0, None)
        self.assertIn("--enforce-eager", args)
        self.assertEqual(args[args.index("--max-model-len") + 1], "4096")
        self.assertEqual(args[args.index("--tensor-parallel-size") + 1], "2")
        self.assertEqual(args[args.index("--max-num-seqs") + 1], "8")
        self.assertEqual(args[args.index("--dtype") + 1], "float16")

    def test_prefix_caching_is_switched_off_explicitly_where_vllm_turns_it_on_by_default(self):
        self.assertIn("--no-enable-prefix-caching", engine_args(ENGINE, "bf16", 0, "0.8.5"))
        self.assertIn("--no-enable-prefix-caching", engine_args(ENGINE, "bf16", 0, "0.11.0rc1"))
        self.assertNotIn("--no-enable-prefix-caching", engine_args(ENGINE, "bf16", 0, "0.6.3.post1"))
        self.assertNotIn("--no-enable-prefix-caching", engine_args(ENGINE, "bf16", 0, None))  # unknown: vLLM's default
        on = engine_args(dict(ENGINE, enable_prefix_caching=True), "bf16", 0, "0.8.5")
        self.assertIn("--enable-prefix-caching", on)
        self.assertNotIn("--no-enable-prefix-caching", on)

    def test_command_line(self):
        server = VllmServer("/models/m", "/tmp/x.log", engine_flags=["--dtype", "bfloat16"], executable="/venv/bin/vllm")
        self.assertEqual(server.command(8123), ["/venv/bin/vllm", "serve", "/models/m", "--host", "127.0.0.1",
                                                "--port", "8123", "--served-model-name", "lem", "--dtype", "bfloat16"])
        self.assertEqual(server.label, "vllm serve")
        self.assertEqual(server.max_memory_percent, 0.9)  # the KV cache's cap: gpu_memory_utilization

    def test_make_server_from_a_config(self):
        config = helpers.tiny_config(backend="vllm", scenario="serving", precision="bf16", random_seed=7,
                                     serving={"request_rate": 1},
                                     vllm={"engine": dict(ENGINE, max_num_seqs=4, gpu_memory_utilization=0.5),
                                           "sampling": {"min_tokens": None, "presence_penalty": 0, "frequency_penalty": 0}})
        del config["pytorch"]
        with mock.patch("lem_harness.serving.vllm_server.vllm_version", return_value="0.9.0"):
            server = server_control.make_server(config, "vllm", "/models/m", "/tmp/x.log", "cuda", offline=True)
        self.assertIsInstance(server, VllmServer)
        command = server.command(1)
        for flag, value in (("--max-num-seqs", "4"), ("--gpu-memory-utilization", "0.5"), ("--seed", "7"),
                            ("--dtype", "bfloat16")):
            self.assertEqual(command[command.index(flag) + 1], value)
        self.assertIn("--no-enable-prefix-caching", command)
        self.assertTrue(server.offline)

    def test_without_a_vllm_command_it_cannot_start(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        server = VllmServer("org/model", os.path.join(folder, "log"), executable="")
        server.executable = None
        with self.assertRaises(ServerStartError) as caught:
            server.start()
        self.assertIn("vllm serve cannot run", caught.exception.message)
        self.assertIsInstance(caught.exception, ServerFailed)


class MetricsTest(unittest.TestCase):
    TEXT = ('# HELP vllm:num_requests_running Number of requests running.\n'
            '# TYPE vllm:num_requests_running gauge\n'
            'vllm:num_requests_running{model_name="a"} 3.0\n'
            'vllm:num_requests_running{model_name="b",engine="0"} 2\n'
            'vllm:num_requests_running_total{model_name="a"} 99.0\n'
            'vllm:num_requests_waiting{model_name="a"} 7.0\n')

    def test_the_running_gauge_summed_over_its_series(self):
        self.assertEqual(running_requests(self.TEXT), 5.0)
        self.assertEqual(running_requests("vllm:num_requests_running 4\n"), 4.0)
        self.assertIsNone(running_requests("vllm:num_requests_waiting 1\n"))
        self.assertIsNone(running_requests(""))

    def test_utilisation_is_the_mean_inside_the_window_over_b(self):
        samples = [(0.0, 0.0), (1.0, 4.0), (2.0, 2.0), (3.0, 4.0), (9.0, 0.0)]
        self.assertEqual(batch_utilisation(samples, 0.5, 3.5, 4), ((4 + 2 + 4) / 3 / 4, None))
        value, why = batch_utilisation(samples, 4.0, 5.0, 4)
        self.assertIsNone(value)
        self.assertIn("no /metrics reading", why)

    def test_the_poller_records_failures_without_stopping(self):
        poller = MetricsPoller("http://127.0.0.1:9", interval_s=0.05, timeout_s=0.2)
        poller.start()
        time.sleep(0.2)
        poller.stop()
        self.assertEqual(poller.samples, [])
        self.assertGreater(poller.failures, 0)
        self.assertIn("/metrics", poller.error)


@helpers.needs_transformers
class VllmPathThroughTheHarnessTest(unittest.TestCase):
    """backend vllm, scenario serving, through python -m lem_harness, with tests/fake_vllm.py as `vllm`."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lem-fake-vllm-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        fake_vllm.install(cls.dir)

    def config(self, **serving):
        config = helpers.tiny_config(
            backend="vllm", scenario="serving", max_input_tokens=16, max_output_tokens=8, precision="bf16",
            baseline={"enabled": False}, energy={"backend": "rapl", "sample_interval_ms": 20},
            serving={"request_rate": "inf", "num_requests": 16, "warmup_requests": 4, **serving},
            vllm={"engine": dict(ENGINE, max_num_seqs=4),
                  "sampling": {"min_tokens": None, "presence_penalty": 0, "frequency_penalty": 0}})
        del config["pytorch"]
        return config

    def run_harness(self, config, **env):
        exchange = helpers.ExchangeDir(config)
        self.addCleanup(exchange.cleanup)
        record = os.path.join(exchange.path, "bodies.jsonl")
        env = dict(PATH=f"{self.dir}{os.pathsep}{os.environ.get('PATH', '')}", LEM_CACHE_DIR=self.dir,
                   FAKE_VLLM_RECORD=record, FAKE_VLLM_TOKEN_S="0.04", **env)
        return exchange, exchange.run(timeout=180, **env), record

    def test_a_load_against_vllm_serve(self):
        tree = FakePowercap(self).zone("intel-rapl:0", "package-0")
        with tree.powered({"intel-rapl:0": 20.0}):
            exchange, proc, record = self.run_harness(self.config(), LEM_POWERCAP_ROOT=tree.root)
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        result = exchange.read(exchange.result_path)
        self.assertEqual(helpers.result_schema_errors(result), [])
        ajv = helpers.ajv_validate(exchange.result_path)
        if ajv is not None:
            self.assertTrue(ajv[0], ajv[1])
        s = result["serving"]
        self.assertEqual((s["completed"], s["failed"]), (16, 0))
        self.assertEqual(result["tokens"]["input"], 16 * 16)  # token ids, sent as they are
        self.assertEqual(result["tokens"]["output"], 16 * 8)
        server = s["server"]
        self.assertEqual((server["kind"], server["batch"]), ("vllm", 4))  # min(max_num_seqs 4, 16 requests)
        self.assertIn("vllm:num_requests_running", server["metrics"])
        self.assertIsNotNone(server["batch_utilisation"], server["metrics"])
        self.assertGreater(server["batch_utilisation"], 0.5)  # the stand-in runs 4 at a time while any wait
        self.assertLessEqual(server["batch_utilisation"], 1.0)
        self.assertIsNone(server["warmup_note"])
        steady = s["steady_state"]
        self.assertIsNone(steady["reason"], steady)
        self.assertAlmostEqual(steady["energy_per_token_j"], steady["energy_j"] / steady["tokens"], places=9)
        self.assertAlmostEqual(steady["energy_j"], 20.0 * steady["duration_s"], delta=0.25 * 20.0 * steady["duration_s"] + 0.3)
        self.assertEqual(result["memory"]["peak_bytes"], None)
        self.assertEqual(result["memory"]["device"], "cuda")
        self.assertTrue(result["hardware"].startswith("gpu:"))
        self.assertIn("untested on a GPU", result["effective_config"]["server"]["note"])
        command = result["effective_config"]["server"]["command"]
        self.assertEqual(command[1:3], ["serve", os.path.join(self.dir, "models", "tiny-42")])

        with open(record) as f:
            bodies = [json.loads(line) for line in f]
        self.assertEqual(len(bodies), 4 + 16)  # warmup, then the load
        body = bodies[-1]
        self.assertEqual(body["model"], "lem")
        self.assertTrue(body["ignore_eos"])
        self.assertEqual(body["stream_options"], {"include_usage": True})
        self.assertEqual(body["max_tokens"], 8)
        self.assertEqual(len(body["prompt"]), 16)
        self.assertEqual((body["temperature"], body["top_k"], body["top_p"]), (1.0, 50, 1.0))
        self.assertNotIn("generation_config", body)

    def test_a_server_that_fails_to_start_fails_the_node_with_its_log_tail(self):
        exchange, proc, _ = self.run_harness(self.config(), FAKE_VLLM_MODE="crash")
        self.assertEqual(proc.returncode, 1, proc.stderr[-2000:])
        self.assertFalse(os.path.exists(exchange.result_path))
        error = exchange.read(exchange.error_path)
        self.assertEqual(error["type"], "ServerStartError")
        self.assertIn("vllm serve exited with code 1 before it was ready", error["message"])
        self.assertIn("CUDA error: out of memory", error["message"])
        self.assertTrue(os.path.isfile(os.path.join(exchange.path, f"{helpers.HASH}_server.log")))


if __name__ == "__main__":
    unittest.main()

if __name__ == "__main__":
    unittest.main()
