"""ML.ENERGY's steady-state window over a serving load, and the energy per token inside it.

With a server that runs at most B requests at once (its max batch, or the client's max_concurrency) and
N requests in the load, the window (as the ML.ENERGY benchmark's RequestTracker defines it):
- opens when B requests have received their first token: the batch has filled past the prefill burst;
- closes when N − B − 1 requests have finished (failed ones included, as their slot frees too): from then
  on the queue is empty and the server ramps down; the −1 closes it one request early, to keep every
  bit of the ramp-down out.
Tokens inside the window are those streamed after it opened and up to when it closed, t in (start, end]
(the chunk that opens it was counted before, as ML.ENERGY reads its token counter after that chunk).
A chunk is one token unless the request's usage says otherwise: each of a request's content chunks
weighs output_tokens / content_chunks, so a request's chunks sum to its usage count.

J/token = energy over the window ÷ those tokens. The energy comes from the caller: a number measured
over exactly this window, a function (start_s, end_s) -> joules, or a power timeline integrated here.
Everything is None, with the reason, when the window is empty or degenerate (too few requests for B,
a load too light ever to hold B requests, no token inside).
"""

from typing import Callable, Optional, Sequence, Tuple, Union

from .metrics import RequestRecord

METHOD = ("ML.ENERGY steady state: opens when B requests have had their first token, closes when "
          "N - B - 1 requests have finished; tokens streamed in (start, end]")


def steady_state_window(records: Sequence[RequestRecord], batch: int) -> dict:
    """{start_s, end_s, duration_s, reason}: the window on the load's clock, or None times with a reason."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch (the server's max batch or max_concurrency) must be a positive integer, got {batch!r}")
    n = len(records)
    close_after = n - batch - 1
    window = {"start_s": None, "end_s": None, "duration_s": None, "batch": batch, "n_requests": n,
              "opens_after_first_tokens": batch, "closes_after_finished": close_after, "reason": None}
    if close_after < 1:
        window["reason"] = (f"{n} requests leave no steady state with a batch of {batch}: "
                            f"it needs at least batch + 2 = {batch + 2} requests")
        return window
    first_tokens = sorted(r.first_token_s for r in records if r.first_token_s is not None)
    finishes = sorted(r.end_s for r in records if r.sent_s is not None and r.end_s is not None)
    if len(first_tokens) < batch:
        window["reason"] = (f"only {len(first_tokens)} of {n} requests received a token, fewer than the "
                            f"batch of {batch} that opens the window")
        return window
    if len(finishes) < close_after:
        window["reason"] = f"only {len(finishes)} requests finished, fewer than the {close_after} that close the window"
        return window
    start, end = first_tokens[batch - 1], finishes[close_after - 1]
    window.update(start_s=start, end_s=end)
    if end <= start:
        window["reason"] = (f"the window closed ({close_after} requests finished at {end:.3f} s) before it "
                            f"opened ({batch} first tokens at {start:.3f} s): the server never held a batch of "
                            f"{batch}; raise the request rate or lower the batch")
        return window
    window["duration_s"] = end - start
    return window


def window_tokens(records: Sequence[RequestRecord], start_s: float, end_s: float) -> Tuple[float, int]:
    """(tokens, content chunks) streamed in (start_s, end_s]: chunks weighted by usage as the module says."""
    tokens, chunks = 0.0, 0
    for r in records:
        if not r.content_times_s:
            continue
        inside = sum(1 for t in r.content_times_s if start_s < t <= end_s)
        if not inside:
            continue
        weight = 1.0
        if r.output_tokens is not None and r.output_tokens > 0:
            weight = r.output_tokens / len(r.content_times_s)
        tokens += inside * weight
        chunks += inside
    return tokens, chunks


def integrate_power(timeline: Sequence[Sequence], start_s: float, end_s: float,
                    offset_s: float = 0.0) -> Tuple[Optional[float], Optional[str]]:
    """Joules over [start_s, end_s] from power readings [(t_s, watts, ...)] (a PowerSampler timeline):
    trapezoids, with the power at the window's edges interpolated linearly. offset_s is added to each t
    (the sampler's start on the load's clock). (None, why) when the readings do not cover the window."""
    points = sorted((row[0] + offset_s, row[1]) for row in timeline if row[1] is not None)
    if len(points) < 2:
        return None, "fewer than two power readings"
    if points[0][0] > start_s or points[-1][0] < end_s:
        return None, (f"the power readings ({points[0][0]:.3f} s to {points[-1][0]:.3f} s) do not cover the "
                      f"window ({start_s:.3f} s to {end_s:.3f} s)")

    def power_at(t: float) -> float:
        for (t0, w0), (t1, w1) in zip(points, points[1:]):
            if t0 <= t <= t1:
                return w0 if t1 == t0 else w0 + (w1 - w0) * (t - t0) / (t1 - t0)
        raise AssertionError("unreachable: t is inside the covered span")

    inner = [(t, w) for t, w in points if start_s < t < end_s]
    path = [(start_s, power_at(start_s))] + inner + [(end_s, power_at(end_s))]
    return sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in zip(path, path[1:])), None


EnergySource = Union[float, int, Callable[[float, float], Optional[float]], None]


def steady_state(records: Sequence[RequestRecord], batch: int, energy: EnergySource = None,
                 power_timeline: Optional[Sequence[Sequence]] = None, timeline_offset_s: float = 0.0) -> dict:
    """The window, the tokens inside it and, given the energy (see the module doc), J/token.
    status "measured" when J/token could be had, else "unavailable" with the reason."""
    window = steady_state_window(records, batch)
    result = dict(window, status="unavailable", method=METHOD, tokens=None, content_chunks=None,
                  tokens_per_s=None, energy_j=None, avg_power_w=None, j_per_token=None)
    if window["reason"]:
        return result
    start, end = window["start_s"], window["end_s"]
    tokens, chunks = window_tokens(records, start, end)
    result.update(tokens=tokens, content_chunks=chunks, tokens_per_s=tokens / (end - start))
    if tokens <= 0:
        result["reason"] = "no token was streamed inside the window"
        return result
    joules, why = None, None
    if power_timeline is not None:
        joules, why = integrate_power(power_timeline, start, end, timeline_offset_s)
    elif callable(energy):
        joules = energy(start, end)
        why = None if joules is not None else "the energy source gave nothing for the window"
    elif energy is not None:
        joules = float(energy)
    else:
        why = "no energy given for the window"
    if joules is None:
        result["reason"] = f"J/token is null: {why}"
        return result
    result.update(status="measured", energy_j=joules, avg_power_w=joules / (end - start),
                  j_per_token=joules / tokens)
    return result
