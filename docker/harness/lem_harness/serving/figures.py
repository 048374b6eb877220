"""scenario serving's figures from a load's records: the steady-state batch B and window, and one row per
request for SLOs applied later."""


from typing import List, Optional, Tuple

from ..stats import percentile
from .metrics import RequestRecord
from .steady_state import steady_state




def choose_batch(section: dict, kind: str, config: dict, peak: int) -> Tuple[Optional[int], str]:
    n = section["num_requests"]
    if section.get("max_concurrency"):
        return min(section["max_concurrency"], n), "serving.max_concurrency (the client's cap), at most num_requests"
    if kind == "vllm":
        return (min(config["vllm"]["engine"]["max_num_seqs"], n),
                "min(vllm.engine.max_num_seqs, num_requests)")
    source = ("the client's observed peak concurrency: transformers serve has no max-requests-per-batch flag "
              "(its batch is bounded by the KV blocks and --cb-max-batch-tokens), so this counts requests in "
              "flight, queued ones included")
    return (peak if peak >= 1 else None), source


def request_rows(records: List[RequestRecord]) -> List[list]:
    """[ttft_ms, tpot_ms, e2e_ms, output_tokens, ok] per request, by index."""
    from .metrics import request_metrics

    rows = []
    for r in sorted(records, key=lambda r: r.index):
        m = request_metrics(r)
        rows.append([m["ttft_ms"], m["tpot_ms"], m["e2el_ms"], m["output_tokens"], bool(m["ok"])])
    return rows


def steady_block(records, batch, sampler, load_t0: float) -> Tuple[dict, dict, Optional[float]]:
    """(serving.steady_state, serving.energy_per_request_j, steady duration or None)."""
    if batch is None:
        window = {"start_s": None, "end_s": None, "duration_s": None, "tokens": None, "j_per_token": None,
                  "energy_j": None, "reason": "no batch size B: no request was ever in flight"}
    elif sampler is None:
        window = steady_state(records, batch)
        if not window["reason"] or window["reason"] == "J/token is null: no energy given for the window":
            window["reason"] = "J/token is null: no power source (see energy.reason)"
    else:
        window = steady_state(records, batch, power_timeline=sampler.timeline,
                              timeline_offset_s=sampler.start_monotonic - load_t0)
    tokens = window.get("tokens")
    block = {"start_s": window["start_s"], "end_s": window["end_s"], "duration_s": window["duration_s"],
             "tokens": tokens, "energy_j": window.get("energy_j"),
             "energy_per_token_j": window.get("j_per_token"), "reason": window["reason"]}
    per_request = {"mean": None, "p90": None, "reason": None}
    j_per_token = window.get("j_per_token")
    if j_per_token is None:
        per_request["reason"] = f"no steady-state J/token: {window['reason']}"
    else:
        values = sorted(j_per_token * r.output_token_count() for r in records if r.ok)
        if values:
            per_request.update(mean=sum(values) / len(values), p90=percentile(values, 90))
        else:
            per_request["reason"] = "no request completed"
    return block, per_request, window["duration_s"]


# ----- a shared server -----
