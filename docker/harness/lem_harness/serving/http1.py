"""The load client's HTTP/1.1 (serving/client.py): a response parser (chunked, Content-Length or until
close), each request's bytes built ahead, and a pool of keep-alive connections over asyncio transports.
Only plain http:// to a local server; why not httpx: see client.py."""

import asyncio
import json
import time
from typing import Callable, Dict, List, Optional, Set

from .sse import CompletionStream

ERROR_BODY_CHARS = 500  # of an error answer's body, kept in the record
SPARE_CONNECTIONS = 1  # kept open and idle ahead of need, so that the next send does not wait to connect
FRESH_S = 2.0  # an idle connection older than this is replaced (uvicorn closes idle ones after 5 s)
MAX_HEAD_BYTES = 65536  # a response head (or chunk-size line) longer than this is refused


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
