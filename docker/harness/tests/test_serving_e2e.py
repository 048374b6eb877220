"""End to end: a real `transformers serve --continuous-batching` on a tiny random Llama folder (no
download), a small capped KV cache, the open-loop client at a finite rate, the metrics and the
steady-state window; then nothing of the server may be left running.

Skips when `transformers serve` cannot run here, unless LEM_REQUIRE_TRANSFORMERS=1, where it fails."""

import os
import shutil
import sys
import tempfile
import unittest

import helpers
from lem_harness.serving.arrivals import arrival_times
from lem_harness.serving.client import run_load_sync
from lem_harness.serving.metrics import summarize
from lem_harness.serving.server import TransformersServer, serve_unavailable
from lem_harness.serving.steady_state import steady_state

N_REQUESTS, RATE, MAX_TOKENS, BATCH = 12, 8.0, 8, 2
PROMPTS = ["the quick brown fox jumps over a lazy dog", "hello world how are you", "what is this and why",
           "we have a dog . they have a fox"]


def needs_serve(cls):
    missing = serve_unavailable()
    if missing is None:
        return cls
    if os.environ.get("LEM_REQUIRE_TRANSFORMERS") == "1":
        def setUpClass(c):
            raise AssertionError(f"LEM_REQUIRE_TRANSFORMERS=1 but transformers serve cannot run: {missing}; "
                                 "pip install -r docker/harness/requirements.txt")
        cls.setUpClass = classmethod(setUpClass)
        return cls
    return unittest.skip(f"SKIPPED: transformers serve cannot run here ({missing})")(cls)


def gone(pid: int) -> bool:
    for probe in (os.kill, os.killpg):
        try:
            probe(pid, 0)
            return False
        except ProcessLookupError:
            pass
    return True


@needs_serve
class TransformersServeEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = helpers.tiny_hf_folder(cls)
        cls.work = tempfile.mkdtemp(prefix="lem-serve-e2e-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)

    def test_open_loop_load_against_the_real_server(self):
        log_path = os.path.join(self.work, "serve.log")
        server = TransformersServer(self.folder, log_path, device="cpu", num_blocks=16, block_size=32,
                                    max_batch_tokens=256, startup_timeout_s=180,
                                    env={"HF_HUB_CACHE": os.path.join(self.work, "hub"), "OMP_NUM_THREADS": "1"})
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(N_REQUESTS)]
        arrivals = arrival_times(N_REQUESTS, RATE, burstiness=1.0, random_seed=0)
        with server:
            pid = server.pid
            self.assertFalse(gone(pid))
            # The batching manager and its KV cache are built on the first request: warm up first.
            warm = run_load_sync(server.base_url, prompts[:2], [0.0, 0.0], max_tokens=MAX_TOKENS)
            self.assertEqual([r.error for r in warm.records], [None, None])
            load = run_load_sync(server.base_url, prompts, arrivals, max_tokens=MAX_TOKENS,
                                 server_kind="transformers")
            # vLLM's way of asking for a fixed length is refused by transformers serve, and recorded.
            refused = run_load_sync(server.base_url, prompts[:2], [0.0, 0.0], max_tokens=MAX_TOKENS,
                                    server_kind="vllm")
        self.assertTrue(gone(pid), "a server process outlived the context manager")

        for r in refused.records:
            self.assertEqual(r.status_code, 422)
            self.assertIn("ignore_eos", r.error)

        records = load.records
        self.assertEqual(len(records), N_REQUESTS)
        for r in records:
            with self.subTest(request=r.index):
                self.assertIsNone(r.error)
                self.assertEqual(r.output_tokens, MAX_TOKENS)  # from usage: EOS never stopped it
                self.assertEqual(r.finish_reason, "length")
                self.assertGreater(r.prompt_tokens, 0)
                self.assertTrue(1 <= len(r.content_times_s) <= MAX_TOKENS)
                # TTFT <= E2EL: equal where the whole stream came in one read (every event of a read has its time).
                self.assertLessEqual(r.first_token_s - r.sent_s, r.end_s - r.sent_s)
                self.assertTrue(load.texts[r.index].strip())

        s = summarize(records, load.duration_s, slo={"ttft_ms": 10_000, "e2e_ms": 30_000})
        self.assertEqual((s["requests"]["completed"], s["requests"]["failed"]), (N_REQUESTS, 0))
        self.assertEqual(s["output_tokens"], N_REQUESTS * MAX_TOKENS)
        self.assertGreater(s["itl_ms"]["n"], 0)
        self.assertLessEqual(s["ttft_ms"]["mean"], s["e2el_ms"]["mean"])
        self.assertEqual(s["tpot_ms"]["n"], N_REQUESTS)
        self.assertEqual(s["goodput"]["good_requests"], N_REQUESTS)
        # Open loop: sent on time (no cap here), however slow the answers.
        self.assertLess(s["arrival_error_ms"]["p99"], 250)
        self.assertGreaterEqual(s["peak_concurrency"], 1)
        self.assertAlmostEqual(records[-1].scheduled_s, N_REQUESTS / RATE)

        window = steady_state(records, BATCH, energy=lambda a, b: 10.0 * (b - a))  # a fake 10 W
        if window["status"] == "measured":
            self.assertGreater(window["tokens"], 0)
            self.assertAlmostEqual(window["j_per_token"], 10.0 * window["duration_s"] / window["tokens"])
        else:
            self.assertTrue(window["reason"])

        with open(log_path) as f:
            self.assertIn("Uvicorn running", f.read())
        span = "" if window["duration_s"] is None else f" {window['duration_s']:.2f} s, {window['tokens']:.0f} tokens"
        print(f"\n[serving e2e] start-up {server.startup_s:.1f} s; {N_REQUESTS} requests at {RATE}/s in "
              f"{load.duration_s:.2f} s: {s['output_token_throughput_per_s']:.0f} tok/s, "
              f"TTFT p50 {s['ttft_ms']['p50']:.0f} ms, ITL p50 {s['itl_ms']['p50']:.0f} ms, "
              f"arrival error p99 {s['arrival_error_ms']['p99']:.1f} ms, peak concurrency {s['peak_concurrency']}; "
              f"steady state (B={BATCH}): {window['status']}{span} {window['reason'] or ''}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
