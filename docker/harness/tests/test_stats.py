import unittest

import helpers  # noqa: F401  (puts the harness on sys.path)
from lem_harness.stats import latency_stats, percentile


class PercentileTest(unittest.TestCase):
    def test_interpolates_linearly_between_ranks_like_numpy(self):
        values = [1.0, 2.0, 3.0, 4.0, 10.0]
        self.assertEqual(percentile(values, 50), 3.0)
        self.assertAlmostEqual(percentile(values, 90), 7.6)  # numpy.percentile(values, 90)
        self.assertAlmostEqual(percentile(values, 99), 9.76)
        self.assertEqual(percentile(values, 0), 1.0)
        self.assertEqual(percentile(values, 100), 10.0)

    def test_single_value_is_every_percentile(self):
        self.assertEqual(percentile([7.5], 95), 7.5)

    def test_empty_gives_none(self):
        self.assertIsNone(percentile([], 50))


class LatencyStatsTest(unittest.TestCase):
    def test_sorts_input_and_reports_mean_and_percentiles(self):
        stats = latency_stats([4.0, 1.0, 3.0, 2.0], "wall clock")
        self.assertEqual(stats["n"], 4)
        self.assertEqual(stats["mean"], 2.5)
        self.assertEqual(stats["p50"], 2.5)
        self.assertAlmostEqual(stats["p90"], 3.7)
        self.assertEqual(stats["method"], "wall clock")
        self.assertEqual(set(stats), {"n", "mean", "p50", "p90", "p95", "p99", "method"})

    def test_no_samples_gives_nulls_with_n_zero(self):
        stats = latency_stats([], "not measured: reason")
        self.assertEqual(stats["n"], 0)
        for key in ("mean", "p50", "p90", "p95", "p99"):
            self.assertIsNone(stats[key])


if __name__ == "__main__":
    unittest.main()
