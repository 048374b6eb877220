"""Latency statistics: mean and linear-interpolation percentiles (numpy's default method), in ms."""

import math
from typing import List, Optional, Sequence

PERCENTILES = (50, 90, 95, 99)


def percentile(sorted_values: Sequence[float], p: float) -> Optional[float]:
    """Percentile p (0–100) of already sorted values, interpolating linearly between ranks."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * p / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    low, high = sorted_values[lo], sorted_values[hi]
    return low + (high - low) * (rank - lo)


def latency_stats(values_ms: List[float], method: str) -> dict:
    """{n, mean, p50, p90, p95, p99, method}; every figure null when there is no sample."""
    ordered = sorted(values_ms)
    stats = {"n": len(ordered), "mean": (sum(ordered) / len(ordered)) if ordered else None}
    for p in PERCENTILES:
        stats[f"p{p}"] = percentile(ordered, p)
    stats["method"] = method
    return stats


def unavailable_stats(reason: str) -> dict:
    return latency_stats([], reason)
