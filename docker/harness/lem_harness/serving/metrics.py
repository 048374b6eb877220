"""Latency and throughput figures of a serving load, per request and over the run, defined as vLLM's
benchmark defines them (vllm/benchmarks/serve.py, calculate_metrics) except where noted.

Per request (times from the client's clock, seconds since the load started):
    TTFT  first chunk with content − sent
    ITL   gaps between consecutive content chunks (one per chunk after the first)
    E2EL  end of the stream − sent
    TPOT  (E2EL − TTFT) / (output_tokens − 1); None, with the reason, when output_tokens ≤ 1
    input/output tokens from the stream's `usage`; output falls back to the number of content chunks
    (output_tokens_source says which) when a server sent no usage.
Failed requests are counted and their errors kept, never dropped; the latency figures cover the
completed ones. Over the run: mean and p50/p90/p95/p99 of each (stats.latency_stats), request and token
throughput over the run's duration, goodput (requests meeting every SLO ÷ duration), the arrival error
(sent − scheduled) and the peak number of requests in flight.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from ..stats import latency_stats

SLO_KEYS = ("ttft_ms", "tpot_ms", "e2e_ms")


@dataclass
class RequestRecord:
    """What the client saw of one request; times in seconds since the load's start (t = 0)."""

    index: int
    scheduled_s: float
    dispatched_s: Optional[float] = None  # the client woke for it (before any concurrency cap)
    sent_s: Optional[float] = None  # the POST went out (after the cap)
    content_times_s: List[float] = field(default_factory=list)  # each chunk with text
    end_s: Optional[float] = None  # the stream (or the failed attempt) ended
    prompt_tokens: Optional[int] = None
    output_tokens: Optional[int] = None  # from usage; None when the server sent none
    finish_reason: Optional[str] = None
    status_code: Optional[int] = None
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.sent_s is not None and self.end_s is not None

    @property
    def first_token_s(self) -> Optional[float]:
        return self.content_times_s[0] if self.content_times_s else None

    def output_token_count(self) -> Optional[int]:
        """usage's completion_tokens, else the number of content chunks (None for a failed request)."""
        if not self.ok:
            return None
        return self.output_tokens if self.output_tokens is not None else len(self.content_times_s)


def _ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else seconds * 1000.0


def request_metrics(r: RequestRecord) -> dict:
    """One request's figures in milliseconds; every latency None for a failed request."""
    out = {"index": r.index, "ok": r.ok, "error": r.error, "ttft_ms": None, "e2el_ms": None, "itl_ms": [],
           "tpot_ms": None, "tpot_reason": None, "input_tokens": r.prompt_tokens, "output_tokens": None,
           "output_tokens_source": None, "content_chunks": len(r.content_times_s),
           "arrival_error_ms": None, "dispatch_lag_ms": None, "cap_wait_ms": None}
    if r.sent_s is not None:
        out["arrival_error_ms"] = _ms(r.sent_s - r.scheduled_s)
    if r.dispatched_s is not None:
        out["dispatch_lag_ms"] = _ms(r.dispatched_s - r.scheduled_s)
        if r.sent_s is not None:
            out["cap_wait_ms"] = _ms(r.sent_s - r.dispatched_s)
    if not r.ok:
        out["tpot_reason"] = "the request failed"
        return out
    out["output_tokens"] = r.output_token_count()
    out["output_tokens_source"] = "usage" if r.output_tokens is not None else "content_chunks"
    out["e2el_ms"] = _ms(r.end_s - r.sent_s)
    if r.first_token_s is None:
        out["tpot_reason"] = "no chunk with content: no first token to time"
        return out
    out["ttft_ms"] = _ms(r.first_token_s - r.sent_s)
    out["itl_ms"] = [_ms(b - a) for a, b in zip(r.content_times_s, r.content_times_s[1:])]
    n = out["output_tokens"]
    if n is None or n <= 1:
        out["tpot_reason"] = f"TPOT needs at least 2 output tokens, got {n}"
    else:
        out["tpot_ms"] = (out["e2el_ms"] - out["ttft_ms"]) / (n - 1)
    return out


def check_slo(slo: Optional[dict]) -> Dict[str, float]:
    """Validated SLOs: any subset of ttft_ms, tpot_ms, e2e_ms, each a positive number of milliseconds."""
    if not slo:
        return {}
    unknown = sorted(set(slo) - set(SLO_KEYS))
    if unknown:
        raise ValueError(f"unknown SLO {', '.join(unknown)}; SLOs are {', '.join(SLO_KEYS)}")
    for key, value in slo.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"SLO {key} must be a positive number of milliseconds, got {value!r}")
    return {k: float(v) for k, v in slo.items()}


def meets_slo(m: dict, slo: Dict[str, float]) -> bool:
    """Whether one request (request_metrics) meets every SLO. A failed request never does; a request of
    one output token has no TPOT and, as in vLLM, counts as TPOT 0 (it meets any TPOT SLO)."""
    if not m["ok"]:
        return False
    figures = {"ttft_ms": m["ttft_ms"], "tpot_ms": m["tpot_ms"] if m["tpot_ms"] is not None else 0.0,
               "e2e_ms": m["e2el_ms"]}
    for key, limit in slo.items():
        value = figures[key]
        if value is None or value > limit:
            return False
    return True


def peak_concurrency(records: Sequence[RequestRecord]) -> int:
    """Most requests in flight at once, each over [sent, end); a request ending as another is sent does
    not overlap it. Failed requests count for as long as they were open."""
    events = []
    for r in records:
        if r.sent_s is not None and r.end_s is not None:
            events.append((r.sent_s, 1))
            events.append((r.end_s, -1))
    events.sort()  # at equal times -1 sorts before +1
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def _error_counts(records: Sequence[RequestRecord]) -> List[dict]:
    counts: Dict[str, int] = {}
    for r in records:
        if not r.ok:
            message = r.error or "the request was never sent"
            counts[message] = counts.get(message, 0) + 1
    return [{"message": m, "count": c} for m, c in sorted(counts.items(), key=lambda kv: -kv[1])]


def summarize(records: Sequence[RequestRecord], duration_s: Optional[float] = None,
              slo: Optional[dict] = None) -> dict:
    """The run's figures. duration_s: the load's length (default: from t = 0 to the last request's end),
    the denominator of every throughput and of goodput. slo: see check_slo."""
    slo = check_slo(slo)
    per_request = [request_metrics(r) for r in records]
    done = [m for m in per_request if m["ok"]]
    if duration_s is None:
        ends = [r.end_s for r in records if r.end_s is not None]
        duration_s = max(ends) if ends else 0.0

    def rate(count) -> Optional[float]:
        return (count / duration_s) if duration_s and duration_s > 0 else None

    def values(key) -> List[float]:
        return [m[key] for m in done if m[key] is not None]

    input_tokens = sum(m["input_tokens"] or 0 for m in done)
    output_tokens = sum(m["output_tokens"] or 0 for m in done)
    goodput = {"slo": slo, "good_requests": None, "requests_per_s": None, "reason": None}
    if slo:
        good = sum(1 for m in per_request if meets_slo(m, slo))
        goodput.update(good_requests=good, requests_per_s=rate(good))
    else:
        goodput["reason"] = "no SLO given"
    sent = [m for m in per_request if m["arrival_error_ms"] is not None]
    return {
        "requests": {"total": len(records), "completed": len(done), "failed": len(records) - len(done),
                     "errors": _error_counts(records)},
        "duration_s": duration_s,
        "ttft_ms": latency_stats(values("ttft_ms"), "first chunk with content - sent, completed requests"),
        "tpot_ms": latency_stats(values("tpot_ms"),
                                 "(e2el - ttft) / (output_tokens - 1), completed requests of 2+ tokens"),
        "itl_ms": latency_stats([x for m in done for x in m["itl_ms"]],
                                "gap between consecutive content chunks, pooled over completed requests"),
        "e2el_ms": latency_stats(values("e2el_ms"), "end of stream - sent, completed requests"),
        "tpot_undefined_requests": sum(1 for m in done if m["tpot_ms"] is None),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "output_tokens_from_chunks": sum(1 for m in done if m["output_tokens_source"] == "content_chunks"),
        "request_throughput_per_s": rate(len(done)),
        "output_token_throughput_per_s": rate(output_tokens),
        "total_token_throughput_per_s": rate(input_tokens + output_tokens),
        "goodput": goodput,
        "arrival_error_ms": latency_stats([m["arrival_error_ms"] for m in sent],
                                          "sent - scheduled, every request sent (includes the cap's wait)"),
        "dispatch_lag_ms": latency_stats([m["dispatch_lag_ms"] for m in per_request
                                          if m["dispatch_lag_ms"] is not None],
                                         "client woke - scheduled: the client's own lateness"),
        "cap_wait_ms": latency_stats([m["cap_wait_ms"] for m in per_request if m["cap_wait_ms"] is not None],
                                     "sent - woke: time waiting for the max_concurrency cap"),
        "peak_concurrency": peak_concurrency(records),
    }
