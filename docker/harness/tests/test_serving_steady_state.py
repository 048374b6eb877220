"""ML.ENERGY's steady-state window on scripted timelines."""

import unittest

import helpers  # noqa: F401  (puts the harness on sys.path)
from lem_harness.serving.metrics import RequestRecord
from lem_harness.serving.steady_state import integrate_power, steady_state, steady_state_window, window_tokens


def staggered(n=6, out=None):
    """Request i is sent at i s, streams 4 chunks at i+0.5, i+1, i+1.5, i+2 and ends at i+2."""
    records = []
    for i in range(n):
        chunks = [i + 0.5, i + 1.0, i + 1.5, i + 2.0]
        records.append(RequestRecord(index=i, scheduled_s=float(i), dispatched_s=float(i), sent_s=float(i),
                                     content_times_s=chunks, end_s=i + 2.0, output_tokens=out or 4))
    return records


class WindowTest(unittest.TestCase):
    def test_opens_at_the_bth_first_token_and_closes_at_the_n_minus_b_minus_1th_finish(self):
        w = steady_state_window(staggered(), batch=2)
        # first tokens 0.5, 1.5, ...: the 2nd is 1.5; finishes 2, 3, 4, ...: N - B - 1 = 3rd is 4.0
        self.assertEqual((w["start_s"], w["end_s"], w["duration_s"]), (1.5, 4.0, 2.5))
        self.assertEqual((w["opens_after_first_tokens"], w["closes_after_finished"]), (2, 3))
        self.assertIsNone(w["reason"])

    def test_tokens_inside_count_chunks_after_the_open_up_to_the_close(self):
        # (1.5, 4.0]: request 0 -> 2.0; 1 -> 2, 2.5, 3; 2 -> 2.5 .. 4; 3 -> 3.5, 4; later ones none.
        self.assertEqual(window_tokens(staggered(), 1.5, 4.0), (10.0, 10))

    def test_chunks_weigh_usage_tokens_over_chunks(self):
        records = staggered()
        records[2].output_tokens = 8  # 4 chunks carried 8 tokens: each weighs 2
        self.assertEqual(window_tokens(records, 1.5, 4.0), (14.0, 10))

    def test_joules_per_token_from_a_number(self):
        s = steady_state(staggered(), batch=2, energy=25.0)
        self.assertEqual(s["status"], "measured")
        self.assertAlmostEqual(s["j_per_token"], 2.5)
        self.assertAlmostEqual(s["avg_power_w"], 10.0)
        self.assertAlmostEqual(s["tokens_per_s"], 4.0)
        self.assertIsNone(s["reason"])

    def test_energy_function_is_asked_for_the_window(self):
        asked = []
        s = steady_state(staggered(), batch=2, energy=lambda a, b: asked.append((a, b)) or 7.0 * (b - a))
        self.assertEqual(asked, [(1.5, 4.0)])
        self.assertAlmostEqual(s["energy_j"], 17.5)

    def test_energy_from_a_power_timeline(self):
        ramp = [[t / 2, t / 2, None, None] for t in range(0, 13)]  # watts = t, every 0.5 s from 0 to 6 s
        s = steady_state(staggered(), batch=2, power_timeline=ramp)
        self.assertAlmostEqual(s["energy_j"], (4.0 ** 2 - 1.5 ** 2) / 2)  # the integral of t dt
        self.assertAlmostEqual(s["j_per_token"], 6.875 / 10)

    def test_no_energy_keeps_the_window_and_says_why(self):
        s = steady_state(staggered(), batch=2)
        self.assertEqual(s["status"], "unavailable")
        self.assertEqual(s["tokens"], 10.0)
        self.assertIsNone(s["j_per_token"])
        self.assertIn("no energy given", s["reason"])
        empty = steady_state(staggered(), batch=2, energy=lambda a, b: None)
        self.assertIn("gave nothing", empty["reason"])

    def test_failed_requests_count_as_finished(self):
        records = staggered()
        failed = records[2]  # sent at 2 s, broke off after one chunk: its slot freed at 2.6 s
        failed.error, failed.content_times_s, failed.end_s = "RemoteProtocolError: cut", [2.5], 2.6
        w = steady_state_window(records, batch=2)
        self.assertEqual(w["end_s"], 3.0)  # finishes 2.0, 2.6 (the failure), 3.0


class DegenerateWindowTest(unittest.TestCase):
    def test_too_few_requests_for_the_batch(self):
        s = steady_state(staggered(3), batch=2, energy=1.0)
        self.assertIsNone(s["start_s"])
        self.assertIn("at least batch + 2 = 4", s["reason"])
        self.assertEqual(s["status"], "unavailable")

    def test_fewer_first_tokens_than_the_batch(self):
        records = staggered(8)
        for r in records[1:]:
            r.content_times_s, r.error = [], "HTTP 503: dead"
        self.assertIn("only 1 of 8 requests received a token", steady_state(records, batch=3)["reason"])

    def test_a_load_too_light_ever_to_hold_the_batch(self):
        # One request at a time: 3 first tokens only after the first has long finished.
        records = [RequestRecord(index=i, scheduled_s=2.0 * i, sent_s=2.0 * i, content_times_s=[2.0 * i + 0.5],
                                 end_s=2.0 * i + 1.0, output_tokens=1) for i in range(5)]
        s = steady_state(records, batch=3, energy=1.0)
        self.assertIn("never held a batch of 3", s["reason"])
        self.assertIsNone(s["duration_s"])

    def test_no_token_inside_the_window(self):
        records = [RequestRecord(index=0, scheduled_s=0, sent_s=0, content_times_s=[0.5], end_s=0.8),
                   RequestRecord(index=1, scheduled_s=0, sent_s=0, content_times_s=[0.5], end_s=0.9),
                   RequestRecord(index=2, scheduled_s=0, sent_s=0, content_times_s=[2.0], end_s=2.1),
                   RequestRecord(index=3, scheduled_s=0, sent_s=0, content_times_s=[2.0], end_s=2.1)]
        s = steady_state(records, batch=1, energy=1.0)
        self.assertEqual((s["start_s"], s["end_s"]), (0.5, 0.9))
        self.assertEqual(s["tokens"], 0.0)
        self.assertIn("no token", s["reason"])

    def test_batch_must_be_positive(self):
        for bad in (0, -1, 1.5, True):
            with self.subTest(batch=bad), self.assertRaises(ValueError):
                steady_state_window(staggered(), bad)


class IntegratePowerTest(unittest.TestCase):
    def test_constant_power_with_edges_interpolated(self):
        timeline = [[0.0, 10.0], [1.0, 10.0], [3.0, 10.0]]
        self.assertEqual(integrate_power(timeline, 0.25, 2.5), (22.5, None))

    def test_offset_puts_the_sampler_on_the_load_clock(self):
        timeline = [[0.0, 5.0], [10.0, 5.0]]  # the sampler started 2 s before the load's t = 0
        joules, why = integrate_power(timeline, 1.0, 3.0, offset_s=-2.0)
        self.assertEqual((joules, why), (10.0, None))

    def test_missing_readings_are_skipped_and_a_short_timeline_refused(self):
        self.assertEqual(integrate_power([[0.0, 2.0], [1.0, None], [2.0, 2.0]], 0.0, 2.0), (4.0, None))
        joules, why = integrate_power([[1.0, 5.0], [2.0, 5.0]], 0.5, 2.0)
        self.assertIsNone(joules)
        self.assertIn("do not cover", why)
        self.assertEqual(integrate_power([[1.0, 5.0]], 0.5, 2.0)[1], "fewer than two power readings")


if __name__ == "__main__":
    unittest.main()
