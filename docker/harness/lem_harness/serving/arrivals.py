"""Request send times for an open-loop load, as vLLM's benchmark (`vllm bench serve`, `get_request` in
vllm/benchmarks/serve.py) defines them:

- the gap before each request (the first one included) is drawn from a gamma distribution with shape
  b = burstiness and scale 1/(rate·b), so the mean gap is 1/rate; b = 1 is a Poisson process (exponential
  gaps), b < 1 burstier, b > 1 more regular, b = inf a constant 1/rate;
- the send times are the running sums of the gaps, then rescaled so the last request is sent at exactly
  N/rate (vLLM does this so that throughput does not drift with the seed by the 1-2 % a random sum would);
- request_rate = inf sends every request at t = 0.

Unlike vLLM (numpy's global RNG), the gaps come from a numpy Generator seeded by random_seed, so one
config always gives the same schedule.
"""

import math
from typing import List, Optional


def _check(n: int, request_rate: float, burstiness: float) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"the number of requests must be a positive integer, got {n!r}")
    if not request_rate > 0:  # also rejects NaN
        raise ValueError(f"request_rate must be positive (or inf), got {request_rate!r}")
    if not burstiness > 0:
        raise ValueError(f"burstiness must be positive (or inf), got {burstiness!r}")


def draw_gaps(n: int, request_rate: float, burstiness: float = 1.0, random_seed: Optional[int] = 0) -> List[float]:
    """The n raw gaps in seconds (before the rescaling): gamma(shape=b, scale=1/(rate·b)); all 0 at rate inf,
    all 1/rate at burstiness inf."""
    _check(n, request_rate, burstiness)
    if math.isinf(request_rate):
        return [0.0] * n
    if math.isinf(burstiness):
        return [1.0 / request_rate] * n
    import numpy as np

    rng = np.random.default_rng(random_seed)
    return [float(g) for g in rng.gamma(shape=burstiness, scale=1.0 / (request_rate * burstiness), size=n)]


def arrival_times(n: int, request_rate: float, burstiness: float = 1.0, random_seed: Optional[int] = 0) -> List[float]:
    """Send time of each of n requests, in seconds from the start of the load, non-decreasing; the last is
    exactly n / request_rate (0 for every request at rate inf)."""
    gaps = draw_gaps(n, request_rate, burstiness, random_seed)
    times, total = [], 0.0
    for gap in gaps:
        total += gap
        times.append(total)
    if total == 0:
        return times
    target = n / request_rate
    times = [t * (target / total) for t in times]
    times[-1] = target  # exact, whatever the rounding of the product
    return times

