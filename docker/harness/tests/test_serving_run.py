"""scenario serving's parts that need no server: the serving section's defaults, B, the decoding, the
server log's place, and the steady-state block. vLLM's command and path are in test_serving_vllm, the
model cache in test_serving_model_cache, the real transformers serve path in test_serving_harness."""

import json
import os
import shutil
import tempfile
import time
import unittest

import helpers
from lem_harness.serving import figures, inputs, server_control
from lem_harness.serving.metrics import RequestRecord


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

if __name__ == "__main__":
    unittest.main()
