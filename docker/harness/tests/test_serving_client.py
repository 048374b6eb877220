"""The open-loop client against a scripted server (httpx.MockTransport): it sends on schedule without
waiting for earlier answers, honours only max_concurrency, times the chunks and records failures."""

import asyncio
import json
import time
import unittest

import helpers  # noqa: F401  (puts the harness on sys.path)

try:
    import httpx
except ImportError:  # the bookworm image has no httpx: these tests need it, the package's parsers do not
    httpx = None

from lem_harness.serving.client import request_body, run_load_sync
from lem_harness.serving.metrics import summarize


def event(payload) -> bytes:
    return ("data: " + json.dumps(payload) + "\n\n").encode()


def scripted_server(think_s=0.0, gap_s=0.02, tokens=None, log=None, status=200, cut_short=False):
    """A transformers-serve-like handler: waits think_s, then streams max_tokens chunks gap_s apart and a
    finish chunk with usage (no [DONE])."""
    async def handler(request):
        body = json.loads(request.content)
        if log is not None:
            log.append((time.monotonic(), body))
        if status != 200:
            return httpx.Response(status, json={"detail": "Unexpected fields in the request: {'ignore_eos'}"})
        n = tokens or body["max_tokens"]

        async def stream():
            await asyncio.sleep(think_s)
            for i in range(n):
                if i:
                    await asyncio.sleep(gap_s)
                yield event({"choices": [{"index": 0, "text": f" w{i}"}]})
            if not cut_short:
                yield event({"choices": [{"index": 0, "text": "", "finish_reason": "length"}],
                             "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n}})
        return httpx.Response(200, content=stream(), headers={"content-type": "text/event-stream"})
    return httpx.MockTransport(handler)


class RequestBodyTest(unittest.TestCase):
    def test_transformers_fixed_length_is_a_generation_config_string(self):
        body = request_body("hi", 8, "transformers")
        self.assertEqual(body, {"prompt": "hi", "max_tokens": 8, "stream": True,
                                "generation_config": '{"eos_token_id": -1}'})
        self.assertIsInstance(body["generation_config"], str)
        self.assertNotIn("ignore_eos", body)

    def test_transformers_generation_config_fields_are_merged(self):
        body = request_body("hi", 8, "transformers", generation_config={"do_sample": True, "temperature": 0.7})
        self.assertEqual(json.loads(body["generation_config"]),
                         {"do_sample": True, "temperature": 0.7, "eos_token_id": -1})
        free = request_body("hi", 8, "transformers", fixed_output_length=False)
        self.assertNotIn("generation_config", free)

    def test_vllm_fixed_length_is_ignore_eos_with_usage(self):
        body = request_body("hi", 8, "vllm", model="m")
        self.assertEqual(body, {"prompt": "hi", "max_tokens": 8, "stream": True, "model": "m",
                                "stream_options": {"include_usage": True}, "ignore_eos": True})
        with self.assertRaises(ValueError):
            request_body("hi", 8, "vllm", generation_config={"temperature": 0})

    def test_extra_body_last_and_bad_arguments(self):
        self.assertEqual(request_body("hi", 2, "vllm", extra_body={"temperature": 0})["temperature"], 0)
        for args in (("hi", 8, "tgi"), ("hi", 0, "vllm"), ("hi", True, "vllm")):
            with self.subTest(args=args), self.assertRaises(ValueError):
                request_body(*args)


@unittest.skipIf(httpx is None, "httpx is not installed")
class OpenLoopTest(unittest.TestCase):
    def test_requests_go_out_on_schedule_without_waiting_for_answers(self):
        log = []
        arrivals = [0.0, 0.05, 0.10, 0.15]
        result = run_load_sync("http://server", ["p"] * 4, arrivals, max_tokens=3,
                               transport=scripted_server(think_s=0.3, log=log))
        for r in result.records:
            self.assertIsNone(r.error)
            self.assertAlmostEqual(r.sent_s, r.scheduled_s, delta=0.04)
            self.assertEqual(len(r.content_times_s), 3)
            self.assertEqual((r.output_tokens, r.prompt_tokens, r.finish_reason), (3, 3, "length"))
        # Each answer takes 0.3 s, so all four were in flight together.
        self.assertEqual(summarize(result.records)["peak_concurrency"], 4)
        self.assertEqual([json.loads(b["generation_config"]) for _, b in log], [{"eos_token_id": -1}] * 4)
        self.assertEqual(result.texts[0], " w0 w1 w2")

    def test_chunk_times_give_ttft_and_itl(self):
        result = run_load_sync("http://server", ["p"], [0.0], max_tokens=4,
                               transport=scripted_server(think_s=0.1, gap_s=0.05))
        s = summarize(result.records)
        self.assertAlmostEqual(s["ttft_ms"]["mean"], 100, delta=40)
        self.assertEqual(s["itl_ms"]["n"], 3)
        self.assertAlmostEqual(s["itl_ms"]["mean"], 50, delta=25)
        self.assertLess(s["ttft_ms"]["mean"], s["e2el_ms"]["mean"])
        self.assertAlmostEqual(s["tpot_ms"]["mean"], 50, delta=25)

    def test_max_concurrency_is_the_only_brake(self):
        result = run_load_sync("http://server", ["p"] * 3, [0.0, 0.0, 0.0], max_tokens=2, max_concurrency=1,
                               transport=scripted_server(think_s=0.1))
        records = sorted(result.records, key=lambda r: r.sent_s)
        for before, after in zip(records, records[1:]):
            self.assertGreaterEqual(after.sent_s, before.end_s - 0.01)
        s = summarize(result.records)
        self.assertEqual(s["peak_concurrency"], 1)
        self.assertGreater(s["cap_wait_ms"]["p99"], 150)  # the last waited for two answers
        self.assertLess(s["dispatch_lag_ms"]["p99"], 50)  # ... but the client itself was on time

    def test_refused_request_is_recorded_not_dropped(self):
        result = run_load_sync("http://server", ["p"] * 2, [0.0, 0.01], max_tokens=2,
                               transport=scripted_server(status=422))
        self.assertEqual(len(result.records), 2)
        for r in result.records:
            self.assertEqual(r.status_code, 422)
            self.assertTrue(r.error.startswith("HTTP 422: "), r.error)
            self.assertIn("ignore_eos", r.error)
        self.assertEqual(summarize(result.records)["requests"]["failed"], 2)

    def test_stream_cut_short_and_connection_errors_are_failures(self):
        cut = run_load_sync("http://server", ["p"], [0.0], max_tokens=2, transport=scripted_server(cut_short=True))
        self.assertIn("without a finish_reason", cut.records[0].error)
        self.assertEqual(len(cut.records[0].content_times_s), 2)  # what came is kept

        def refuse(request):
            raise httpx.ConnectError("connection refused", request=request)
        down = run_load_sync("http://server", ["p"] * 2, [0.0, 0.0], max_tokens=2,
                             transport=httpx.MockTransport(refuse))
        for r in down.records:
            self.assertTrue(r.error.startswith("ConnectError: "), r.error)
            self.assertIsNotNone(r.end_s)

    def test_argument_checks(self):
        for kwargs in ({"prompts": ["a"], "arrivals": [0, 1]}, {"prompts": [], "arrivals": []},
                       {"prompts": ["a"], "arrivals": [0], "max_concurrency": 0},
                       {"prompts": ["a", "b"], "arrivals": [0, 1], "max_tokens": [1]}):
            args = {"max_tokens": 2, **kwargs}
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError):
                run_load_sync("http://server", args.pop("prompts"), args.pop("arrivals"), **args)


if __name__ == "__main__":
    unittest.main()
