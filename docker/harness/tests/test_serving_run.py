"""scenario serving's parts that need no real server: the `vllm serve` command, /metrics parsing, the
synthetic model cache, the serving section's defaults, B, the steady-state block; and the vLLM path end to
end through the harness process against a stand-in `vllm` (tests/fake_vllm.py), since vLLM itself needs a
GPU. The real transformers serve path is test_serving_harness."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock

import helpers
import fake_vllm
from fake_powercap import FakePowercap
from lem_harness.errors import ModelUnavailable, ServerFailed, UnknownPreset
from lem_harness.serving import figures, inputs, model_cache, server_control
from lem_harness.serving.metrics import RequestRecord
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


def fake_save(calls):
    def save(folder, preset, seed, dtype=None, device="cpu"):
        calls.append((folder, preset, seed, dtype, device))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"preset": preset, "seed": seed}, f)
        return folder
    return save


class ModelCacheTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="lem-cache-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.parent = os.path.join(self.root, "models")

    def test_cache_root_is_lems(self):
        self.assertEqual(model_cache.cache_root({"LEM_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"}), "/c")
        self.assertEqual(model_cache.cache_root({"XDG_CACHE_HOME": "/x"}), "/x/lem")
        self.assertEqual(model_cache.cache_root({"HOME": "/h"}),
                         os.path.join(os.path.expanduser("~"), ".cache", "lem"))

    def test_saved_once_then_reused(self):
        calls = []
        folder, built = model_cache.synthetic_folder("tiny", 3, root=self.root, save=fake_save(calls))
        self.assertEqual((folder, built), (os.path.join(self.parent, "tiny-3"), True))
        self.assertEqual(len(calls), 1)
        self.assertNotEqual(calls[0][0], folder)  # written elsewhere, then renamed into place
        self.assertTrue(os.path.isfile(os.path.join(folder, model_cache.MARKER)))
        self.assertEqual(os.listdir(self.parent), ["tiny-3"])  # no temporary folder left
        self.assertEqual(model_cache.synthetic_folder("tiny", 3, root=self.root, save=fake_save(calls)),
                         (folder, False))
        self.assertEqual(len(calls), 1)
        model_cache.synthetic_folder("tiny", 4, root=self.root, save=fake_save(calls))  # another seed: another folder
        self.assertEqual(sorted(os.listdir(self.parent)), ["tiny-3", "tiny-4"])
        model_cache.synthetic_folder("1b", 0, root=self.root, save=fake_save(calls), device="cuda")
        self.assertEqual(calls[-1][3:], ("bfloat16", "cuda"))  # large presets in bf16, built where asked
        model_cache.synthetic_folder("small", 0, root=self.root, save=fake_save(calls), device="cuda")
        self.assertEqual(calls[-1][3:], (None, "cpu"))  # small ones on the CPU: seconds, and no CUDA context here

    def test_a_save_that_fails_leaves_nothing_behind(self):
        def broken(folder, *a, **k):
            with open(os.path.join(folder, "config.json"), "w") as f:
                f.write("{half")
            raise OSError(28, "No space left on device")

        with self.assertRaises(OSError):
            model_cache.synthetic_folder("tiny", 0, root=self.root, save=broken)
        self.assertEqual(os.listdir(self.parent), [])
        calls = []
        folder, built = model_cache.synthetic_folder("tiny", 0, root=self.root, save=fake_save(calls))
        self.assertTrue(built)

    def test_a_half_written_folder_of_a_dead_run_is_never_used_and_is_cleared(self):
        os.makedirs(self.parent)
        done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        dead = os.path.join(self.parent, f".tiny-0.tmp-{int(done.stdout)}-abc")
        live = os.path.join(self.parent, f".tiny-0.tmp-{os.getpid()}-def")  # a run still saving (this one)
        other = os.path.join(self.parent, f".small-0.tmp-{int(done.stdout)}-ghi")
        for path in (dead, live, other):
            os.makedirs(path)
            open(os.path.join(path, "config.json"), "w").close()
        calls = []
        folder, built = model_cache.synthetic_folder("tiny", 0, root=self.root, save=fake_save(calls))
        self.assertTrue(built)
        self.assertFalse(os.path.exists(dead))
        self.assertTrue(os.path.exists(live))
        self.assertTrue(os.path.exists(other))  # another preset's: its own run clears it

    def test_two_runs_saving_at_once_both_get_the_folder(self):
        def racing(folder, preset, seed, dtype=None, device="cpu"):
            # Another run finishes first, while this one is still writing.
            model_cache.synthetic_folder(preset, seed, root=self.root, save=fake_save([]))
            return fake_save([])(folder, preset, seed)

        folder, built = model_cache.synthetic_folder("tiny", 0, root=self.root, save=racing)
        self.assertFalse(built)
        self.assertEqual(os.listdir(self.parent), ["tiny-0"])
        self.assertTrue(os.path.isfile(os.path.join(folder, model_cache.MARKER)))

    def test_resolve_model(self):
        self.assertEqual(model_cache.resolve_model("org/model", 0, root=self.root),
                         ("org/model", {"model_source": "Hugging Face id (the server loads it from its cache or the Hub)"}))
        here = os.getcwd()
        os.chdir(self.root)
        self.addCleanup(os.chdir, here)
        os.makedirs("local")
        self.assertEqual(model_cache.resolve_model("local", 0, root=self.root)[0], os.path.join(self.root, "local"))
        with self.assertRaises(ModelUnavailable):
            model_cache.resolve_model("/nowhere/model", 0, root=self.root)
        with self.assertRaises(ModelUnavailable):
            model_cache.resolve_model("./missing", 0, root=self.root)
        with self.assertRaises(UnknownPreset):
            model_cache.resolve_model("synthetic:huge", 0, root=self.root)
        self.assertFalse(os.path.exists(self.parent))  # nothing written for an unknown preset


@helpers.needs_transformers
class RealSyntheticFolderTest(unittest.TestCase):
    def test_the_folder_loads_with_transformers(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root, True)
        folder, facts = model_cache.resolve_model("synthetic:tiny", 5, root=root)
        self.assertTrue(facts["model_folder_built"])
        self.assertEqual(folder, os.path.join(root, "models", "tiny-5"))
        from transformers import AutoConfig, AutoTokenizer

        self.assertEqual(AutoConfig.from_pretrained(folder).vocab_size, 512)
        self.assertEqual(len(AutoTokenizer.from_pretrained(folder)), 512)
        self.assertEqual(os.stat(folder).st_mode & 0o777, 0o755)
        self.assertFalse(model_cache.resolve_model("synthetic:tiny", 5, root=root)[1]["model_folder_built"])

    def test_the_child_process_saver(self):
        # What 1b and 8b use on a GPU, run here on the CPU with the tiny preset.
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root, True)
        folder, built = model_cache.synthetic_folder("tiny", 1, "cpu", root, save=model_cache.save_in_subprocess)
        self.assertTrue(built)
        self.assertTrue(os.path.isfile(os.path.join(folder, "model.safetensors")))
        with self.assertRaises(ModelUnavailable) as caught:
            model_cache.save_in_subprocess(os.path.join(root, "x"), "nope", 0, device="cpu")
        self.assertIn("invalid choice", caught.exception.message)


class ServingConfigTest(unittest.TestCase):
    def test_defaults_are_the_schemas(self):
        section = inputs.serving_section({"serving": {"request_rate": "inf"}})
        self.assertEqual(section["rate"], float("inf"))
        self.assertEqual((section["burstiness"], section["max_concurrency"], section["num_requests"],
                          section["warmup_requests"]), (1, None, 100, 8))
        self.assertEqual(section["engine"], {"num_blocks": 256, "block_size": 32, "max_batch_tokens": None})
        self.assertEqual(inputs.serving_section({"serving": {"request_rate": 2.5, "engine": {"num_blocks": 8}}})["engine"],
                         {"num_blocks": 8, "block_size": 32, "max_batch_tokens": None})

    def test_bad_sections_are_config_errors(self):
        from lem_harness.errors import ConfigError

        for serving in (None, {}, {"request_rate": 0}, {"request_rate": "fast"}, {"request_rate": True},
                        {"request_rate": 1, "num_requests": 0}, {"request_rate": 1, "warmup_requests": -1}):
            with self.subTest(serving=serving), self.assertRaises(ConfigError):
                inputs.serving_section({"serving": serving} if serving is not None else {})

    def test_max_batch_tokens_is_never_left_to_transformers(self):
        self.assertEqual(server_control.max_batch_tokens({"num_blocks": 16, "block_size": 32, "max_batch_tokens": None}), 512)
        self.assertEqual(server_control.max_batch_tokens({"num_blocks": 256, "block_size": 32, "max_batch_tokens": None}), 8192)
        self.assertEqual(server_control.max_batch_tokens({"num_blocks": 1024, "block_size": 32, "max_batch_tokens": None}), 8192)
        self.assertEqual(server_control.max_batch_tokens({"num_blocks": 16, "block_size": 32, "max_batch_tokens": 64}), 64)

    def test_batch(self):
        config = {"vllm": {"engine": {"max_num_seqs": 32}}}
        self.assertEqual(figures.choose_batch({"num_requests": 100, "max_concurrency": 8}, "vllm", config, 50)[0], 8)
        self.assertEqual(figures.choose_batch({"num_requests": 4, "max_concurrency": 8}, "transformers", config, 3)[0], 4)
        self.assertEqual(figures.choose_batch({"num_requests": 100, "max_concurrency": None}, "vllm", config, 50),
                         (32, "min(vllm.engine.max_num_seqs, num_requests)"))
        self.assertEqual(figures.choose_batch({"num_requests": 10, "max_concurrency": None}, "vllm", config, 50)[0], 10)
        batch, source = figures.choose_batch({"num_requests": 100, "max_concurrency": None}, "transformers", config, 7)
        self.assertEqual(batch, 7)
        self.assertIn("peak concurrency", source)
        self.assertIsNone(figures.choose_batch({"num_requests": 100, "max_concurrency": None}, "transformers", config, 0)[0])

    def test_decoding(self):
        config = helpers.tiny_config(model="org/m", decoder={"temperature": 0.7, "do_sample": True, "top_k": 20,
                                                             "top_p": 0.9, "repetition_penalty": 1.1, "ignore_eos": False})
        generation, sampling, fixed, _ = inputs.decoding(config, "transformers")
        self.assertEqual(generation, {"do_sample": True, "temperature": 0.7, "top_k": 20, "top_p": 0.9,
                                      "repetition_penalty": 1.1})
        self.assertEqual((sampling, fixed), (None, False))
        config["vllm"] = {"sampling": {"min_tokens": 2, "presence_penalty": 0.5, "frequency_penalty": 0}}
        generation, sampling, fixed, _ = inputs.decoding(dict(config, decoder=dict(config["decoder"], temperature=0)), "vllm")
        self.assertIsNone(generation)
        self.assertEqual(sampling, {"temperature": 0.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.1,
                                    "presence_penalty": 0.5, "frequency_penalty": 0.0, "min_tokens": 2})
        self.assertTrue(inputs.decoding(helpers.tiny_config(decoder={"ignore_eos": False}), "transformers")[2])  # synthetic

    def test_the_server_log_goes_to_the_exchange_dir(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        config_path = os.path.join(folder, "abc_config.json")
        self.assertEqual(inputs.server_log_path({"hash": "abc"}, {"LEM_CONFIG_PATH": config_path}),
                         os.path.join(folder, "abc_server.log"))
        self.assertEqual(inputs.server_log_path({"hash": "abc"}, {"LLEM_CONFIG_PATH": config_path}),
                         os.path.join(folder, "abc_server.log"))
        self.assertTrue(inputs.server_log_path({"hash": "abc"}, {}).startswith(tempfile.gettempdir()))


class SteadyBlockTest(unittest.TestCase):
    def records(self, n=10, batch=2, tokens=4, step=0.1):
        """n requests, batch at a time, each `tokens` chunks `step` apart: a full batch throughout."""
        out = []
        for i in range(n):
            start = (i // batch) * tokens * step
            times = [start + (k + 1) * step for k in range(tokens)]
            out.append(RequestRecord(index=i, scheduled_s=0.0, dispatched_s=0.0, sent_s=start,
                                     content_times_s=times, end_s=times[-1], output_tokens=tokens))
        return out

    def test_constant_power_gives_power_times_duration_over_tokens(self):
        class Sampler:
            start_monotonic = 99.0  # the load started 1 s after the sampler
            timeline = [[t / 100, 30.0, None, None] for t in range(0, 700)]

        records = self.records()
        steady, per_request, duration = figures.steady_block(records, 2, Sampler(), load_t0=100.0)
        self.assertIsNone(steady["reason"])
        self.assertAlmostEqual(steady["energy_j"], 30.0 * duration, places=6)
        self.assertAlmostEqual(steady["energy_per_token_j"], 30.0 * duration / steady["tokens"], places=9)
        self.assertAlmostEqual(per_request["mean"], steady["energy_per_token_j"] * 4, places=9)
        self.assertAlmostEqual(per_request["p90"], steady["energy_per_token_j"] * 4, places=9)

    def test_without_a_power_source_the_window_stays_and_j_per_token_is_null(self):
        steady, per_request, duration = figures.steady_block(self.records(), 2, None, load_t0=0.0)
        self.assertGreater(duration, 0)
        self.assertGreater(steady["tokens"], 0)
        self.assertIsNone(steady["energy_per_token_j"])
        self.assertIn("no power source", steady["reason"])
        self.assertIn("no steady-state J/token", per_request["reason"])

    def test_too_few_requests_for_b(self):
        steady, per_request, duration = figures.steady_block(self.records(n=4), 4, None, load_t0=0.0)
        self.assertIsNone(duration)
        self.assertIn("at least batch + 2", steady["reason"])
        rows = figures.request_rows(self.records(n=2))
        self.assertEqual([r[3:] for r in rows], [[4, True], [4, True]])


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
