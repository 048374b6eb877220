"""Arrival times as vLLM's get_request defines them: gamma gaps (shape b, scale 1/(rate·b)), rescaled so
the last request goes at N/rate; rate inf sends all at 0. The gaps' law is checked with a
Kolmogorov-Smirnov test against the gamma CDF (torch.special.gammainc, the regularised lower incomplete
gamma function)."""

import importlib.util
import math
import unittest

import helpers  # noqa: F401  (puts the harness on sys.path)
from lem_harness.serving.arrivals import arrival_times, draw_gaps

HAVE_NUMPY = importlib.util.find_spec("numpy") is not None
HAVE_TORCH = importlib.util.find_spec("torch") is not None
# KS critical value at significance 0.01 for large n: 1.628 / sqrt(n).
KS_C_001 = 1.628


def gamma_cdf(values, shape: float, scale: float):
    import torch

    x = torch.tensor(values, dtype=torch.float64) / scale
    a = torch.full_like(x, shape)
    return torch.special.gammainc(a, x).tolist()


def ks_statistic(samples, cdf) -> float:
    """sup |F_n(x) - F(x)|: at each sorted sample the empirical CDF jumps from (i-1)/n to i/n."""
    ordered = sorted(samples)
    n = len(ordered)
    expected = cdf(ordered)
    return max(max(i / n - f, f - (i - 1) / n) for i, f in enumerate(expected, start=1))


def gaps_of(times):
    return [b - a for a, b in zip([0.0] + times[:-1], times)]


@unittest.skipUnless(HAVE_TORCH, "the gamma CDF needs torch (torch.special.gammainc)")
class KsHelpersTest(unittest.TestCase):
    def test_gamma_cdf_of_shape_one_is_the_exponential_cdf(self):
        for x in (0.1, 1.0, 3.0):
            self.assertAlmostEqual(gamma_cdf([x], 1.0, 0.5)[0], 1 - math.exp(-x / 0.5), places=12)

    def test_ks_statistic_of_a_perfect_uniform_grid(self):
        n = 10
        samples = [(i - 0.5) / n for i in range(1, n + 1)]  # midpoints: every step misses by half a step
        self.assertAlmostEqual(ks_statistic(samples, lambda xs: list(xs)), 0.5 / n)


@unittest.skipUnless(HAVE_TORCH and HAVE_NUMPY, "needs numpy (the gaps) and torch (the gamma CDF)")
class GapLawTest(unittest.TestCase):
    N = 4000
    RATE = 8.0

    def assert_fits(self, samples, shape, scale):
        d = ks_statistic(samples, lambda xs: gamma_cdf(xs, shape, scale))
        self.assertLess(d, KS_C_001 / math.sqrt(len(samples)), f"KS D={d:.4f} for gamma({shape}, {scale})")
        return d

    def test_poisson_gaps_are_exponential_with_mean_one_over_rate(self):
        gaps = draw_gaps(self.N, self.RATE, 1.0, random_seed=1)
        self.assert_fits(gaps, 1.0, 1.0 / self.RATE)
        self.assertAlmostEqual(sum(gaps) / len(gaps), 1.0 / self.RATE, delta=0.1 / self.RATE)

    def test_bursty_and_regular_gaps_are_gamma_with_scale_one_over_rate_b(self):
        for b in (0.5, 4.0):
            with self.subTest(burstiness=b):
                self.assert_fits(draw_gaps(self.N, self.RATE, b, random_seed=2), b, 1.0 / (self.RATE * b))

    def test_rescaled_gaps_still_fit_the_law(self):
        # The rescaling multiplies every gap by one factor close to 1 (it only removes the sum's noise).
        for b in (1.0, 2.0):
            with self.subTest(burstiness=b):
                times = arrival_times(self.N, self.RATE, b, random_seed=3)
                self.assert_fits(gaps_of(times), b, 1.0 / (self.RATE * b))

    def test_the_ks_test_rejects_the_wrong_law(self):
        # Regular gaps (b = 4) against the exponential law of the same mean: the test must see it.
        gaps = draw_gaps(self.N, self.RATE, 4.0, random_seed=4)
        d = ks_statistic(gaps, lambda xs: gamma_cdf(xs, 1.0, 1.0 / self.RATE))
        self.assertGreater(d, 3 * KS_C_001 / math.sqrt(self.N))


@unittest.skipUnless(HAVE_NUMPY, "the gaps are drawn with numpy")
class ScheduleTest(unittest.TestCase):
    def test_last_arrival_is_exactly_n_over_rate(self):
        for n, rate, b in ((1, 2.0, 1.0), (12, 3.0, 1.0), (100, 7.5, 0.3), (50, 0.5, 9.0)):
            with self.subTest(n=n, rate=rate, b=b):
                times = arrival_times(n, rate, b, random_seed=5)
                self.assertEqual(len(times), n)
                self.assertEqual(times[-1], n / rate)
                self.assertGreater(times[0], 0.0)  # the first request waits one gap too, as in vLLM
                self.assertEqual(times, sorted(times))

    def test_rescaling_is_one_factor_on_the_running_sums(self):
        gaps = draw_gaps(20, 4.0, 1.0, random_seed=6)
        sums = [sum(gaps[:i + 1]) for i in range(20)]
        times = arrival_times(20, 4.0, 1.0, random_seed=6)
        factor = (20 / 4.0) / sums[-1]
        for t, s in zip(times, sums):
            self.assertAlmostEqual(t, s * factor, places=12)

    def test_same_seed_same_schedule_other_seed_other_schedule(self):
        self.assertEqual(arrival_times(30, 5.0, 1.0, random_seed=42), arrival_times(30, 5.0, 1.0, random_seed=42))
        self.assertNotEqual(arrival_times(30, 5.0, 1.0, random_seed=42), arrival_times(30, 5.0, 1.0, random_seed=43))

    def test_infinite_rate_sends_everything_at_zero(self):
        self.assertEqual(arrival_times(5, float("inf")), [0.0] * 5)
        self.assertEqual(arrival_times(5, math.inf, 0.2, random_seed=1), [0.0] * 5)

    def test_infinite_burstiness_is_evenly_spaced(self):
        times = arrival_times(4, 2.0, float("inf"))
        for t, expected in zip(times, (0.5, 1.0, 1.5, 2.0)):
            self.assertAlmostEqual(t, expected)

    def test_invalid_arguments_are_refused(self):
        for args in ((0, 1.0), (3, 0.0), (3, -1.0), (3, float("nan")), (3, 1.0, 0.0), (3, 1.0, -2.0), (2.5, 1.0)):
            with self.subTest(args=args), self.assertRaises(ValueError):
                arrival_times(*args)


if __name__ == "__main__":
    unittest.main()
