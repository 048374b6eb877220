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
  time; that loop's selector waits to the microsecond (_FineEpollSelector: asyncio's epoll waits whole
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
import concurrent.futures
import json
import select
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple, Union
from urllib.parse import urlsplit

from .metrics import RequestRecord
from .sse import CompletionStream

SERVER_KINDS = ("transformers", "vllm")
ERROR_BODY_CHARS = 500
PREOPEN_CONNECTIONS = 16  # opened before t = 0 without a cap (with one: that many); more open as needed
SPARE_CONNECTIONS = 1  # kept open and idle ahead of need, so that the next send does not wait to connect
FRESH_S = 2.0  # an idle connection older than this is replaced (uvicorn closes idle ones after 5 s)
SWEEP_S = 0.25  # how often stale idle connections are replaced and stalled responses timed out
FINAL_WAIT_S = 0.001  # a timer's last stretch is waited for on its own (_FineEpollSelector)
MAX_HEAD_BYTES = 65536  # a response head (or chunk-size line) longer than this is refused

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


# ----- HTTP/1.1 -----

class HttpProtocolError(Exception):
    """The server's response broke HTTP/1.1's framing."""


class ResponseParser:
    """An incremental HTTP/1.1 response parser: feed() the bytes as they are read, get back the pieces
    of the body they complete (the chunked coding removed). status and headers (names lower-case) are
    set once the head is in, done at the end of the body. The body is framed as RFC 9112 §6.3 says:
    none for 204 and 304, chunked, Content-Length, else until the connection closes (eof()).
    keep_alive: the connection can carry another request; clean: nothing came after the response."""

    def __init__(self):
        self._buffer = bytearray()
        self._state = "head"
        self._remaining = 0
        self.status: Optional[int] = None
        self.headers: Dict[str, str] = {}
        self.keep_alive = False
        self.done = False

    @property
    def clean(self) -> bool:
        return self.done and not self._buffer

    def feed(self, data: bytes) -> List[bytes]:
        self._buffer += data
        pieces: List[bytes] = []
        while not self.done and self._step(pieces):
            pass
        return pieces

    def eof(self) -> List[bytes]:
        """The server closed the connection: the end of a body read until close, an error otherwise."""
        if self.done:
            return []
        if self._state != "close":
            raise HttpProtocolError("the server closed the connection before the response ended"
                                    + ("" if self.status is None else f" (status {self.status}, {self._state})"))
        pieces = [bytes(self._buffer)] if self._buffer else []
        self._buffer.clear()
        self.done = True
        return pieces

    def _step(self, pieces: List[bytes]) -> bool:
        """One step of the parse; False when it needs more bytes."""
        state = self._state
        if state == "head":
            head = self._line(b"\r\n\r\n", "response head")
            if head is not None:
                self._head(head.decode("latin-1"))
            return head is not None
        if state in ("length", "chunk"):
            return self._body(pieces)
        if state == "close":
            if self._buffer:
                pieces.append(bytes(self._buffer))
                self._buffer.clear()
            return False
        line = self._line(b"\r\n", "chunk line")
        if line is None:
            return False
        if state == "chunk_size":
            self._chunk_size(line)
        elif state == "chunk_end":
            if line:
                raise HttpProtocolError("a chunk did not end where its size said")
            self._state = "chunk_size"
        elif not line:  # trailer: its fields are ignored, an empty line ends it
            self.done = True
        return True

    def _line(self, end: bytes, what: str) -> Optional[bytes]:
        at = self._buffer.find(end)
        if at < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise HttpProtocolError(f"{what} longer than {MAX_HEAD_BYTES} bytes")
            return None
        line = bytes(self._buffer[:at])
        del self._buffer[:at + len(end)]
        return line

    def _head(self, head: str) -> None:
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            if status == 101:
                raise HttpProtocolError("the server switched protocols")
            return  # an interim response (100 Continue): the real head follows
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self.status, self.headers = status, headers
        self.keep_alive = parts[0] == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        coding = headers.get("transfer-encoding", "").lower()
        if status in (204, 304):
            self.done = True
        elif coding:
            if coding.rsplit(",", 1)[-1].strip() == "chunked":
                self._state = "chunk_size"
            else:
                self._until_close()
        elif "content-length" in headers:
            length = headers["content-length"].split(",")[0].strip()
            if not length.isdigit():
                raise HttpProtocolError(f"bad Content-Length {length[:40]!r}")
            self._remaining = int(length)
            self._state = "length"
            self.done = self._remaining == 0
        else:
            self._until_close()

    def _until_close(self) -> None:
        self._state = "close"
        self.keep_alive = False

    def _chunk_size(self, line: bytes) -> None:
        size = line.split(b";", 1)[0].strip()
        try:
            self._remaining = int(size, 16)
        except ValueError:
            raise HttpProtocolError(f"bad chunk size {size[:40]!r}") from None
        if self._remaining < 0:
            raise HttpProtocolError(f"bad chunk size {size[:40]!r}")
        self._state = "chunk" if self._remaining else "trailer"

    def _body(self, pieces: List[bytes]) -> bool:
        if not self._buffer:
            return False
        piece = bytes(self._buffer[:self._remaining])
        del self._buffer[:len(piece)]
        self._remaining -= len(piece)
        pieces.append(piece)
        if self._remaining == 0:
            if self._state == "length":
                self.done = True
            else:
                self._state = "chunk_end"
        return True


def request_bytes(host: str, path: str, body: dict) -> bytes:
    """A whole POST of body as JSON, ready to be written in one go."""
    payload = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: lem-harness\r\nAccept: text/event-stream\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode("latin-1") + payload


class _Exchange:
    """One request's response as it arrives: a 200's body goes to the CompletionStream (times in seconds
    from t0), another status's is kept for the error; done resolves when the response ends and fails
    when the connection does."""

    def __init__(self, stream: CompletionStream, t0: float, loop: asyncio.AbstractEventLoop):
        self.parser = ResponseParser()
        self.stream = stream
        self.t0 = t0
        self.detail = bytearray()
        self.done = loop.create_future()

    def received(self, data: bytes, now: float) -> None:
        if self.done.done():
            return
        try:
            pieces = self.parser.feed(data)
        except HttpProtocolError as e:
            self.fail(e)
            return
        self._deliver(pieces, now)
        if self.parser.done:
            self.done.set_result(None)

    def ended(self, exc: Optional[BaseException], now: float) -> None:
        """The connection closed; exc None when the server closed it cleanly."""
        if self.done.done():
            return
        if exc is not None:
            self.fail(exc)
            return
        try:
            self._deliver(self.parser.eof(), now)
        except HttpProtocolError as e:
            self.fail(e)
            return
        self.done.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)

    def _deliver(self, pieces: List[bytes], now: float) -> None:
        for piece in pieces:
            if self.parser.status == 200:
                self.stream.feed(piece, now - self.t0)
            elif len(self.detail) < 4 * ERROR_BODY_CHARS:  # UTF-8: at most 4 bytes a character
                self.detail += piece


class _Connection(asyncio.Protocol):
    """One keep-alive connection, carrying one exchange at a time."""

    def __init__(self, on_lost: Callable[["_Connection"], None]):
        self._on_lost = on_lost
        self.transport: Optional[asyncio.Transport] = None
        self.exchange: Optional[_Exchange] = None
        self.closed = False
        self.last_io = time.monotonic()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()  # one read, one time: every event in it arrived then
        self.last_io = now
        if self.exchange is None:  # bytes nobody asked for: this connection cannot be trusted again
            self.transport.abort()
            return
        self.exchange.received(data, now)

    def eof_received(self) -> bool:
        if self.exchange is not None:
            self.exchange.ended(None, time.monotonic())
        return False  # close our side too

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        if self.exchange is not None:
            self.exchange.ended(exc or ConnectionResetError("the connection closed"), time.monotonic())
        self._on_lost(self)

    def send(self, exchange: _Exchange, data: bytes) -> None:
        self.exchange = exchange
        self.last_io = time.monotonic()
        self.transport.write(data)

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.abort()


class _Pool:
    """Keep-alive connections to one server: idle ones reused most recent first, SPARE_CONNECTIONS kept
    idle ahead of need (while fewer than `most` are open), stale ones replaced, stalled responses failed
    after timeout_s without a byte."""

    def __init__(self, loop: asyncio.AbstractEventLoop, host: str, port: int, most: int, timeout_s: float):
        self.loop, self.host, self.port = loop, host, port
        self.most, self.timeout_s = most, timeout_s
        self.idle: List[_Connection] = []
        self.busy: Set[_Connection] = set()
        self.opening = 0
        self.closing = False
        self._spares: Set[asyncio.Task] = set()

    async def fill(self, count: int) -> None:
        """Opens up to count connections before the load; one that fails is left to the sends to retry
        (and to record why)."""
        count = min(count, self.most)
        self.opening += count
        try:
            opened = await asyncio.gather(*(self._connect() for _ in range(count)), return_exceptions=True)
        finally:
            self.opening -= count
        self.idle.extend(c for c in opened if isinstance(c, _Connection))

    async def take(self) -> _Connection:
        conn = None
        while self.idle and conn is None:
            candidate = self.idle.pop()
            conn = None if candidate.closed else candidate
        if conn is None:
            self.opening += 1
            try:
                conn = await self._connect()
            finally:
                self.opening -= 1
        self.busy.add(conn)
        self._keep_spare()
        return conn

    def give_back(self, conn: _Connection, reusable: bool) -> None:
        self.busy.discard(conn)
        conn.exchange = None
        if reusable and not conn.closed and not self.closing:
            conn.last_io = time.monotonic()
            self.idle.append(conn)
        else:
            conn.close()

    def sweep(self) -> None:
        """Replaces idle connections older than FRESH_S; fails responses silent for timeout_s."""
        now = time.monotonic()
        for conn in [c for c in self.idle if now - c.last_io > FRESH_S]:
            self.idle.remove(conn)
            conn.close()
        self._keep_spare()
        for conn in list(self.busy):
            if conn.exchange is not None and now - conn.last_io > self.timeout_s:
                conn.exchange.fail(TimeoutError(f"no data from the server for {self.timeout_s:g} s"))
                conn.close()

    async def sweep_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.sweep()

    def close(self) -> None:
        self.closing = True
        for task in self._spares:
            task.cancel()
        for conn in self.idle + list(self.busy):
            conn.close()
        self.idle.clear()

    def _lost(self, conn: _Connection) -> None:
        if conn in self.idle:  # the server closed an idle connection
            self.idle.remove(conn)

    def _keep_spare(self) -> None:
        while (not self.closing and len(self.idle) + self.opening < SPARE_CONNECTIONS
               and len(self.idle) + len(self.busy) + self.opening < self.most):
            self.opening += 1
            task = self.loop.create_task(self._spare())
            self._spares.add(task)
            task.add_done_callback(self._spares.discard)

    async def _spare(self) -> None:
        try:
            conn = await self._connect()
        except Exception:  # a send that finds no spare opens its own connection and records any failure
            return
        finally:
            self.opening -= 1
        if self.closing:
            conn.close()
        else:
            self.idle.insert(0, conn)  # under the recently used ones: taken when they are all busy

    async def _connect(self) -> _Connection:
        _, conn = await asyncio.wait_for(
            self.loop.create_connection(lambda: _Connection(self._lost), self.host, self.port), self.timeout_s)
        return conn


# ----- the event loop -----

class _FineEpollSelector(getattr(selectors, "EpollSelector", selectors.DefaultSelector)):
    """epoll waits in whole milliseconds, rounded up, so asyncio's timers fire up to 1 ms late. select() on
    the epoll descriptor itself (readable while an event is pending) waits to the microsecond; epoll then
    collects the events without waiting. A wait longer than 2 × FINAL_WAIT_S ends FINAL_WAIT_S early and
    the loop waits again for the rest: a short wait ends closer to its time (the kernel lets a timer run
    late by 0.1 % of its length, and an idle virtual CPU sleeps deeper the longer it idles)."""

    def select(self, timeout=None):
        if timeout is not None and timeout > 0:
            wait = timeout - FINAL_WAIT_S if timeout > 2 * FINAL_WAIT_S else timeout
            try:
                select.select([self.fileno()], [], [], wait)
            except (ValueError, OSError):  # a descriptor past select()'s FD_SETSIZE: whole milliseconds then
                return super().select(timeout)
            timeout = 0
        return super().select(timeout)


def fine_selector() -> selectors.BaseSelector:
    # kqueue (macOS, BSD) already waits to the nanosecond; only epoll needs the detour.
    return _FineEpollSelector() if hasattr(selectors, "EpollSelector") else selectors.DefaultSelector()


class _LoadThread(threading.Thread):
    """Runs a load on an event loop of its own whose timers fire to the microsecond (fine_selector),
    so that a send is one wake-up of one thread whatever loop the caller runs; the caller only waits
    for `result`. cancel() stops the load from any thread."""

    def __init__(self, coroutine):
        super().__init__(name="lem-load", daemon=True)
        self.result: concurrent.futures.Future = concurrent.futures.Future()
        self._loop = asyncio.SelectorEventLoop(fine_selector())
        self._task = self._loop.create_task(coroutine)

    def run(self) -> None:
        loop = self._loop
        try:
            try:
                value = loop.run_until_complete(self._task)
            except BaseException as e:  # cancelled, or the load failed: the caller gets it
                self._settle(lambda: self.result.set_exception(e))
            else:
                self._settle(lambda: self.result.set_result(value))
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())  # getaddrinfo's thread
            loop.close()

    def _settle(self, settle) -> None:
        try:
            settle()
        except concurrent.futures.InvalidStateError:  # the caller cancelled its wait first
            pass

    def cancel(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._task.cancel)
        except RuntimeError:  # the loop is closed: the load is over
            pass


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
