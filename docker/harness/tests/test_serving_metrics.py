"""Per-request and run figures on hand-computed cases."""

import unittest

import helpers  # noqa: F401  (puts the harness on sys.path)
from lem_harness.serving.metrics import RequestRecord, check_slo, peak_concurrency, request_metrics, summarize


def rec(index, sent, chunks, end, out=None, prompt=5, scheduled=None, dispatched=None, error=None):
    return RequestRecord(index=index, scheduled_s=sent if scheduled is None else scheduled,
                         dispatched_s=dispatched if dispatched is not None else sent, sent_s=sent,
                         content_times_s=list(chunks), end_s=end, prompt_tokens=prompt,
                         output_tokens=len(chunks) if out is None else out, finish_reason="length", error=error)


class RequestMetricsTest(unittest.TestCase):
    def test_ttft_itl_e2el_tpot_and_arrival_of_one_request(self):
        r = rec(0, 1.0, [1.2, 1.3, 1.5], 1.5, scheduled=0.99, dispatched=0.995)
        m = request_metrics(r)
        self.assertTrue(m["ok"])
        self.assertAlmostEqual(m["ttft_ms"], 200.0)
        self.assertEqual(len(m["itl_ms"]), 2)
        self.assertAlmostEqual(m["itl_ms"][0], 100.0)
        self.assertAlmostEqual(m["itl_ms"][1], 200.0)
        self.assertAlmostEqual(m["e2el_ms"], 500.0)
        self.assertAlmostEqual(m["tpot_ms"], (500.0 - 200.0) / (3 - 1))
        self.assertAlmostEqual(m["arrival_error_ms"], 10.0)
        self.assertAlmostEqual(m["dispatch_lag_ms"], 5.0)
        self.assertAlmostEqual(m["cap_wait_ms"], 5.0)
        self.assertEqual((m["input_tokens"], m["output_tokens"], m["output_tokens_source"]), (5, 3, "usage"))

    def test_tpot_uses_usage_tokens_not_chunks(self):
        # 2 chunks carried 5 tokens: TPOT divides by 5 - 1.
        m = request_metrics(rec(0, 0.0, [0.1, 0.5], 0.5, out=5))
        self.assertAlmostEqual(m["tpot_ms"], 400.0 / 4)

    def test_one_output_token_has_no_tpot_but_a_reason(self):
        m = request_metrics(rec(0, 0.0, [0.3], 0.3, out=1))
        self.assertIsNone(m["tpot_ms"])
        self.assertIn("at least 2 output tokens", m["tpot_reason"])
        self.assertEqual(m["itl_ms"], [])

    def test_no_usage_falls_back_to_content_chunks(self):
        r = rec(0, 0.0, [0.1, 0.2, 0.3], 0.3)
        r.output_tokens = None
        m = request_metrics(r)
        self.assertEqual((m["output_tokens"], m["output_tokens_source"]), (3, "content_chunks"))

    def test_failed_request_has_no_latency(self):
        m = request_metrics(rec(0, 0.0, [], 0.4, error="HTTP 422: nope"))
        self.assertFalse(m["ok"])
        self.assertIsNone(m["ttft_ms"])
        self.assertIsNone(m["e2el_ms"])
        self.assertEqual(m["arrival_error_ms"], 0.0)  # it was sent, so its arrival error counts


class PeakConcurrencyTest(unittest.TestCase):
    def test_touching_intervals_do_not_overlap(self):
        records = [rec(0, 0.0, [0.5], 1.0), rec(1, 0.5, [1.0], 1.5), rec(2, 1.0, [1.5], 2.0)]
        self.assertEqual(peak_concurrency(records), 2)

    def test_nested_intervals(self):
        records = [rec(0, 0.0, [1.0], 2.0), rec(1, 0.5, [0.9], 1.0), rec(2, 0.7, [0.75], 0.8)]
        self.assertEqual(peak_concurrency(records), 3)

    def test_unsent_requests_do_not_count(self):
        never = RequestRecord(index=1, scheduled_s=0.0, error="cancelled")
        self.assertEqual(peak_concurrency([rec(0, 0.0, [0.1], 1.0), never]), 1)


class SummarizeTest(unittest.TestCase):
    def setUp(self):
        # TTFTs 100, 200, 300, 400 ms; each 4 tokens, e2el = ttft + 300 ms; one failed request.
        self.records = [rec(i, float(i), [i + t, i + t + 0.1, i + t + 0.2, i + t + 0.3], i + t + 0.3)
                        for i, t in enumerate((0.1, 0.2, 0.3, 0.4))]
        self.records.append(rec(4, 4.0, [], 4.05, error="ConnectError: refused"))

    def test_distributions_over_completed_requests(self):
        s = summarize(self.records, duration_s=8.0)
        self.assertEqual(s["requests"], {"total": 5, "completed": 4, "failed": 1,
                                         "errors": [{"message": "ConnectError: refused", "count": 1}]})
        t = s["ttft_ms"]
        self.assertEqual(t["n"], 4)
        self.assertAlmostEqual(t["mean"], 250.0)
        self.assertAlmostEqual(t["p50"], 250.0)
        self.assertAlmostEqual(t["p90"], 370.0)  # rank 0.9 * 3 = 2.7 between 300 and 400
        self.assertAlmostEqual(t["p99"], 397.0)
        self.assertAlmostEqual(s["tpot_ms"]["mean"], 100.0)  # 300 ms over 3 tokens after the first
        self.assertEqual(s["itl_ms"]["n"], 12)
        self.assertAlmostEqual(s["itl_ms"]["p99"], 100.0)
        self.assertAlmostEqual(s["e2el_ms"]["mean"], 550.0)
        self.assertEqual(s["tpot_undefined_requests"], 0)

    def test_throughput_over_the_duration(self):
        s = summarize(self.records, duration_s=8.0)
        self.assertEqual((s["input_tokens"], s["output_tokens"]), (20, 16))
        self.assertAlmostEqual(s["request_throughput_per_s"], 4 / 8.0)
        self.assertAlmostEqual(s["output_token_throughput_per_s"], 16 / 8.0)
        self.assertAlmostEqual(s["total_token_throughput_per_s"], 36 / 8.0)

    def test_default_duration_runs_to_the_last_end(self):
        s = summarize(self.records)
        self.assertAlmostEqual(s["duration_s"], 4.05)  # the failed request ended last

    def test_goodput_counts_requests_meeting_every_slo(self):
        s = summarize(self.records, duration_s=2.0, slo={"ttft_ms": 250})
        self.assertEqual(s["goodput"]["good_requests"], 2)
        self.assertAlmostEqual(s["goodput"]["requests_per_s"], 1.0)
        both = summarize(self.records, duration_s=2.0, slo={"ttft_ms": 350, "e2e_ms": 550})
        self.assertEqual(both["goodput"]["good_requests"], 2)  # ttft 300 has e2el 600 > 550
        tpot = summarize(self.records, duration_s=2.0, slo={"tpot_ms": 99.0})
        self.assertEqual(tpot["goodput"]["good_requests"], 0)
        limit = summarize(self.records, duration_s=2.0, slo={"tpot_ms": 100.0 + 1e-9, "ttft_ms": 400, "e2e_ms": 700})
        self.assertEqual(limit["goodput"]["good_requests"], 4)  # at the limit is good; the failure never is

    def test_one_token_request_meets_any_tpot_slo(self):
        s = summarize([rec(0, 0.0, [0.1], 0.1, out=1)], duration_s=1.0, slo={"tpot_ms": 0.001})
        self.assertEqual(s["goodput"]["good_requests"], 1)
        self.assertEqual(s["tpot_undefined_requests"], 1)

    def test_no_slo_no_goodput(self):
        g = summarize(self.records)["goodput"]
        self.assertIsNone(g["requests_per_s"])
        self.assertEqual(g["reason"], "no SLO given")

    def test_slo_validation(self):
        self.assertEqual(check_slo({"e2e_ms": 5}), {"e2e_ms": 5.0})
        for bad in ({"itl_ms": 5}, {"ttft_ms": 0}, {"ttft_ms": "fast"}, {"tpot_ms": True}):
            with self.subTest(slo=bad), self.assertRaises(ValueError):
                check_slo(bad)

    def test_arrival_error_and_cap_wait(self):
        records = [rec(0, 0.010, [0.1], 0.2, scheduled=0.0, dispatched=0.001),
                   rec(1, 0.530, [0.6], 0.7, scheduled=0.5, dispatched=0.502)]
        s = summarize(records)
        self.assertAlmostEqual(s["arrival_error_ms"]["mean"], 20.0)
        self.assertAlmostEqual(s["arrival_error_ms"]["p99"], 10.0 + 20.0 * 0.99)
        self.assertAlmostEqual(s["dispatch_lag_ms"]["mean"], 1.5)
        self.assertAlmostEqual(s["cap_wait_ms"]["mean"], (9.0 + 28.0) / 2)
        self.assertEqual(s["peak_concurrency"], 1)

    def test_empty_run(self):
        s = summarize([])
        self.assertEqual(s["requests"]["total"], 0)
        self.assertIsNone(s["request_throughput_per_s"])
        self.assertIsNone(s["ttft_ms"]["mean"])


if __name__ == "__main__":
    unittest.main()
