"""An open-loop load client: each request is sent at its arrival time (arrivals.arrival_times) whether or
not earlier ones have answered, streams POST /v1/completions, and records when it was scheduled, woke,
was sent, got each chunk with text and ended, with the tokens from `usage` and any error. Requests that
fail are recorded, never dropped or retried.

The only thing that holds a request back is max_concurrency, the client-side cap (as vLLM's benchmark
`--max-concurrency`): a request that finds the cap full waits for a slot, and that wait shows as
cap_wait_ms (metrics) apart from the client's own lateness (dispatch_lag_ms).

A fixed output length is asked for differently per server (server_kind):
- "transformers" (`transformers serve` 5.x): `generation_config` set to the JSON *string*
  '{"eos_token_id": -1}' (no token id is -1, so EOS never stops generation) with max_tokens. That string
  replaces the model's generation_config.json for the request: greedy unless it says otherwise (pass
  sampling fields in generation_config=...). `ignore_eos` / `min_tokens` are refused with HTTP 422. With
  --continuous-batching the batch's shared sampling settings come from the first request the server
  sees, so warm it up with the same body.
- "vllm": `ignore_eos: true` with max_tokens, and stream_options.include_usage so the token counts come.

Keeping up (issue 20 §5: arrival error p99 ≤ 2 ms with the client under 10 % of a core):
- the load runs on a thread and event loop of its own (_LoadThread), each send a timer at its arrival
  time; that loop's selector waits to the microsecond (load_loop.py: asyncio's epoll waits whole
  milliseconds, rounded up, which alone put up to 1 ms into every send), so a send is one wake-up of
  one thread, whatever loop the caller runs (a scheduler thread handing sends to the caller's loop was
  tried: the second wake-up cost 0.2-0.5 ms at the median here);
- every request's bytes (HTTP head and JSON body) are built before t = 0, so a send is one write;
- connections are HTTP/1.1 keep-alive, opened before t = 0 (max_concurrency of them, else
  PREOPEN_CONNECTIONS) and kept one spare ahead of need, so a send rarely waits for a connect; an idle
  one older than FRESH_S is replaced, since uvicorn (under transformers serve and vLLM) closes idle
  connections after 5 s and a request written as it closes would fail;
- HTTP/1.1 is spoken here over asyncio's transports (ResponseParser: chunked, Content-Length or until
  close), not through httpx: httpx cost 2-3 ms of CPU per request (its pool scans every connection on
  each request), 10 % of a core at 50 requests/s on its own.
Only plain http:// is spoken, never through a proxy: the servers measured are local.

Times are on time.monotonic() (the clock PowerSampler uses), as seconds since the load's t = 0, which
LoadResult.t0_monotonic gives, so a power timeline can be lined up with the requests. Per request:
scheduled_s the arrival time; dispatched_s when the event loop started the request (the timer's
wake-up: the client's own lateness); sent_s just before the request's bytes were
written to an open connection, after any wait for the cap and, where no connection was open, after the
connect; each chunk's time is when its network read arrived. The arrival error is sent_s − scheduled_s.
"""

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from .http1 import ERROR_BODY_CHARS, HttpProtocolError, ResponseParser, _Exchange, _Pool, request_bytes  # noqa: F401
from .load_loop import _LoadThread, fine_selector  # noqa: F401
from .metrics import RequestRecord
from .sse import CompletionStream

SERVER_KINDS = ("transformers", "vllm")
PREOPEN_CONNECTIONS = 16  # opened before t = 0 without a cap (with one: that many); more open as needed
SWEEP_S = 0.25  # how often stale idle connections are replaced and stalled responses timed out

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


# ----- the load -----

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


async def _one(pool: _Pool, record: RequestRecord, request: bytes, cap: Optional[asyncio.Semaphore],
               t0: float, texts: List[str]) -> None:
    loop = asyncio.get_running_loop()

    def now() -> float:
        return time.monotonic() - t0

    record.dispatched_s = now()
    if cap is not None:
        await cap.acquire()
    stream = CompletionStream()
    conn, reusable = None, False
    try:
        exchange = _Exchange(stream, t0, loop)
        try:
            conn = await pool.take()
            record.sent_s = now()
            conn.send(exchange, request)
            await exchange.done
            if exchange.parser.status != 200:
                detail = exchange.detail.decode("utf-8", errors="replace")
                record.error = f"HTTP {exchange.parser.status}: {detail[:ERROR_BODY_CHARS]}"
            stream.close(now())
            reusable = exchange.parser.keep_alive and exchange.parser.clean
        except Exception as e:  # the connection's errors and anything else: the request failed, the load goes on
            record.error = _error(e)
        record.status_code = exchange.parser.status
        closed = now()
    finally:
        if conn is not None:
            pool.give_back(conn, reusable)  # before the cap's slot, so that its next holder finds it idle
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


def _server_address(base_url: str, endpoint: str) -> Tuple[str, int, str, str]:
    """(host to connect to, port, Host header, request path) of base_url + endpoint."""
    url = urlsplit(base_url)
    if url.scheme != "http" or not url.hostname:
        raise ValueError(f"the load client speaks plain http:// to a local server, got {base_url!r}")
    port = url.port or 80
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    return url.hostname, port, f"{host}:{port}", url.path.rstrip("/") + endpoint


async def _resolved(loop: asyncio.AbstractEventLoop, host: str, port: int) -> str:
    """host's address, looked up once (not once per connection); host itself when the lookup fails, so
    that each send fails with the reason."""
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return host
    return infos[0][4][0] if infos else host


async def run_load(base_url: str, prompts: Sequence[str], arrivals: Sequence[float],
                   max_tokens: Union[int, Sequence[int]], server_kind: str = "transformers",
                   model: Optional[str] = None, fixed_output_length: bool = True,
                   max_concurrency: Optional[int] = None, generation_config: Optional[dict] = None,
                   extra_body: Optional[dict] = None, endpoint: str = "/v1/completions",
                   timeout_s: float = 600.0) -> LoadResult:
    """Send prompts[i] at arrivals[i] seconds after the start and wait for every answer.
    max_tokens: one for all or one per request. timeout_s: the longest wait for a connection or between
    two reads of one stream (checked every SWEEP_S). The load runs on its own thread and event loop
    (_LoadThread); cancelling this coroutine stops it."""
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
    host, port, host_header, path = _server_address(base_url, endpoint)
    requests = [request_bytes(host_header, path,
                              request_body(p, m, server_kind, model, fixed_output_length, generation_config, extra_body))
                for p, m in zip(prompts, lengths)]
    runner = _LoadThread(_load(host, port, requests, [float(a) for a in arrivals], max_concurrency, timeout_s))
    runner.start()
    try:
        return await asyncio.wrap_future(runner.result)
    finally:
        if runner.is_alive():  # this wait was cancelled: stop the load, and its connections with it
            runner.cancel()
            runner.join()


async def _load(host: str, port: int, requests: List[bytes], arrivals: List[float],
                max_concurrency: Optional[int], timeout_s: float) -> LoadResult:
    n = len(requests)
    records = [RequestRecord(index=i, scheduled_s=a) for i, a in enumerate(arrivals)]
    texts = [""] * n
    cap = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    loop = asyncio.get_running_loop()
    pool = _Pool(loop, await _resolved(loop, host, port), port, min(max_concurrency or n, n), timeout_s)
    await pool.fill(max_concurrency or PREOPEN_CONNECTIONS)
    sweeper = loop.create_task(pool.sweep_every(SWEEP_S))
    tasks: List[asyncio.Task] = []
    all_started = loop.create_future()

    def start(i: int) -> None:
        tasks.append(loop.create_task(_one(pool, records[i], requests[i], cap, t0, texts)))
        if len(tasks) == n and not all_started.done():
            all_started.set_result(None)

    t0, t0_unix = time.monotonic(), time.time()
    # loop.time() is time.monotonic(): each send is a timer at its arrival time.
    timers = [loop.call_at(t0 + r.scheduled_s, start, r.index) for r in records]
    try:
        await all_started
        await asyncio.gather(*tasks)
    finally:
        for timer in timers:
            timer.cancel()
        sweeper.cancel()
        pending = [t for t in tasks if not t.done()]
        for task in pending:  # only when the load itself was cancelled or failed
            task.cancel()
        await asyncio.gather(sweeper, *pending, return_exceptions=True)
        pool.close()
    duration = max((r.end_s for r in records if r.end_s is not None), default=time.monotonic() - t0)
    return LoadResult(records=records, t0_monotonic=t0, t0_unix=t0_unix, duration_s=duration, texts=texts)


def run_load_sync(*args, **kwargs) -> LoadResult:
    """run_load in a fresh event loop, for callers that are not async."""
    return asyncio.run(run_load(*args, **kwargs))
