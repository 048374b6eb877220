"""An open-loop load client: each request is sent at its arrival time (arrivals.arrival_times) whether or
not earlier ones have answered, streams POST /v1/completions, and records when it was scheduled, woke,
was sent, got each chunk with text and ended, with the tokens from `usage` and any error. Requests that
fail are recorded, never dropped or retried.

The only thing that holds a request back is max_concurrency, the client-side cap (as vLLM's benchmark
`--max-concurrency`): a request that finds the cap full waits for a slot, and that wait shows as
cap_wait_ms (metrics) apart from the client's own lateness (dispatch_lag_ms). The connection pool is
sized to the cap (or to the number of requests), so httpx never queues a request behind a hidden
limit of its own.

A fixed output length is asked for differently per server (server_kind):
- "transformers" (`transformers serve` 5.x): `generation_config` set to the JSON *string*
  '{"eos_token_id": -1}' (no token id is -1, so EOS never stops generation) with max_tokens. That string
  replaces the model's generation_config.json for the request: greedy unless it says otherwise (pass
  sampling fields in generation_config=...). `ignore_eos` / `min_tokens` are refused with HTTP 422. With
  --continuous-batching the batch's shared sampling settings come from the first request the server
  sees, so warm it up with the same body.
- "vllm": `ignore_eos: true` with max_tokens, and stream_options.include_usage so the token counts come.

Times are on time.monotonic() (the clock PowerSampler uses), as seconds since the load's t = 0, which
LoadResult.t0_monotonic gives, so a power timeline can be lined up with the requests.
"""

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

from .metrics import RequestRecord
from .sse import CompletionStream

SERVER_KINDS = ("transformers", "vllm")
ERROR_BODY_CHARS = 500


def request_body(prompt: str, max_tokens: int, server_kind: str = "transformers", model: Optional[str] = None,
                 fixed_output_length: bool = True, generation_config: Optional[dict] = None,
                 extra_body: Optional[dict] = None) -> dict:
    """The JSON body of one streaming /v1/completions request for server_kind (see the module doc).
    generation_config: transformers only, fields of the per-request GenerationConfig (e.g. do_sample,
    temperature); extra_body: merged in last, for anything else."""
    if server_kind not in SERVER_KINDS:
        raise ValueError(f"server_kind must be one of {', '.join(SERVER_KINDS)}, got {server_kind!r}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    body = {"prompt": prompt, "max_tokens": max_tokens, "stream": True}
    if model is not None:
        body["model"] = model
    if server_kind == "transformers":
        config = dict(generation_config or {})
        if fixed_output_length:
            config["eos_token_id"] = -1
        if config:
            body["generation_config"] = json.dumps(config)
    else:
        if generation_config:
            raise ValueError("generation_config is for transformers serve; give vLLM sampling fields in extra_body")
        body["stream_options"] = {"include_usage": True}
        if fixed_output_length:
            body["ignore_eos"] = True
    body.update(extra_body or {})
    return body


@dataclass
class LoadResult:
    records: List[RequestRecord]
    t0_monotonic: float  # the load's t = 0 on time.monotonic()
    t0_unix: float  # the same instant on the wall clock
    duration_s: float  # t = 0 to the last request's end
    texts: List[str] = field(default_factory=list)  # each request's streamed text, by index


def _error(e: BaseException) -> str:
    text = str(e) or repr(e)
    return f"{type(e).__name__}: {text}"


async def _one(client, record: RequestRecord, url: str, body: dict, cap: Optional[asyncio.Semaphore],
               t0: float, texts: List[str]) -> None:
    def now() -> float:
        return time.monotonic() - t0

    record.dispatched_s = now()
    if cap is not None:
        await cap.acquire()
    stream = CompletionStream()
    try:
        record.sent_s = now()
        try:
            async with client.stream("POST", url, json=body) as response:
                record.status_code = response.status_code
                if response.status_code != 200:
                    detail = (await response.aread()).decode("utf-8", errors="replace")
                    record.error = f"HTTP {response.status_code}: {detail[:ERROR_BODY_CHARS]}"
                else:
                    async for chunk in response.aiter_bytes():
                        stream.feed(chunk, now())
            stream.close(now())
        except Exception as e:  # httpx's errors and anything else: the request failed, the load goes on
            record.error = _error(e)
        closed = now()
    finally:
        if cap is not None:
            cap.release()
    record.content_times_s = list(stream.content_times)
    texts[record.index] = stream.text
    usage = stream.usage or {}
    record.prompt_tokens = usage.get("prompt_tokens")
    record.output_tokens = usage.get("completion_tokens")
    record.finish_reason = stream.finish_reason
    if record.error is None and stream.error is not None:
        record.error = stream.error
    if record.error is None and not stream.content_times:
        record.error = "the stream finished without any text: no first token to time"
    # A finished stream ends at its last event (as vLLM's benchmark times it); anything else when it closed.
    record.end_s = stream.last_event_s if record.error is None and stream.last_event_s is not None else closed


async def run_load(base_url: str, prompts: Sequence[str], arrivals: Sequence[float],
                   max_tokens: Union[int, Sequence[int]], server_kind: str = "transformers",
                   model: Optional[str] = None, fixed_output_length: bool = True,
                   max_concurrency: Optional[int] = None, generation_config: Optional[dict] = None,
                   extra_body: Optional[dict] = None, endpoint: str = "/v1/completions",
                   timeout_s: float = 600.0, trust_env: bool = False, transport=None) -> LoadResult:
    """Send prompts[i] at arrivals[i] seconds after the start and wait for every answer.
    max_tokens: one for all or one per request. timeout_s: the longest wait for a connection or between
    two reads of one stream. trust_env: use HTTP(S)_PROXY from the environment (off: a local server must
    not be reached through a proxy). transport: an httpx transport to use instead of the network (tests)."""
    import httpx

    n = len(arrivals)
    if len(prompts) != n:
        raise ValueError(f"{len(prompts)} prompts for {n} arrival times")
    if n == 0:
        raise ValueError("no requests to send")
    if max_concurrency is not None and (isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
                                        or max_concurrency < 1):
        raise ValueError(f"max_concurrency must be a positive integer or None, got {max_concurrency!r}")
    lengths = [max_tokens] * n if isinstance(max_tokens, int) else list(max_tokens)
    if len(lengths) != n:
        raise ValueError(f"{len(lengths)} max_tokens for {n} requests")
    bodies = [request_body(p, m, server_kind, model, fixed_output_length, generation_config, extra_body)
              for p, m in zip(prompts, lengths)]
    records = [RequestRecord(index=i, scheduled_s=float(a)) for i, a in enumerate(arrivals)]
    texts = [""] * n
    cap = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    pool = max_concurrency or n
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    timeout = httpx.Timeout(timeout_s, pool=None)
    order = sorted(range(n), key=lambda i: records[i].scheduled_s)
    tasks: List[asyncio.Task] = []
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), limits=limits, timeout=timeout,
                                 trust_env=trust_env, transport=transport) as client:
        t0, t0_unix = time.monotonic(), time.time()
        try:
            for i in order:
                delay = t0 + records[i].scheduled_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_one(client, records[i], endpoint, bodies[i], cap, t0, texts)))
            await asyncio.gather(*tasks)
        finally:
            pending = [t for t in tasks if not t.done()]
            for task in pending:  # only when the load itself was cancelled or failed
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        duration = max((r.end_s for r in records if r.end_s is not None), default=time.monotonic() - t0)
    return LoadResult(records=records, t0_monotonic=t0, t0_unix=t0_unix, duration_s=duration, texts=texts)


def run_load_sync(*args, **kwargs) -> LoadResult:
    """run_load in a fresh event loop, for callers that are not async."""
    return asyncio.run(run_load(*args, **kwargs))
