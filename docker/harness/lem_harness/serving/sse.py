"""Parse an OpenAI-style streaming response (/v1/completions, also /v1/chat/completions) as it arrives,
recording when each chunk with content came.

Two layers: SSEDecoder turns network reads (bytes) into the data of complete server-sent events, whatever
the reads' boundaries; CompletionStream interprets those events and times them.

What `transformers serve` 5.17 (--continuous-batching, /v1/completions, stream: true) actually sends,
seen against the real server and its source (transformers/cli/serving/completion.py):

- one event per decoded piece of text: `data: {"id", "choices": [{"index": 0, "text": "..."}], "created",
  "model": "<folder>@main", "object": "text_completion"}` followed by a blank line (LF line ends);
- several events can arrive in one network read: the server drains every piece already queued and writes
  them in one go (seen under load: 32 concurrent requests, 1 read in ~1000 carried two events); an event
  split across reads is handled too (any client read size may cut one);
- no `data: [DONE]`: the stream ends after a last chunk whose only choice has `"text": ""`,
  `"finish_reason": "length"` (or "stop") and which carries `"usage": {"prompt_tokens",
  "completion_tokens", "total_tokens"}`; the connection then closes;
- a token that decodes to no text (a skipped special token, a partial character) sends no event, so
  usage.completion_tokens may exceed the number of content chunks;
- a generation error mid-stream arrives as `data: {"error": "<message>"}` and the stream ends;
- a request with a field it does not know (`ignore_eos`, `min_tokens`) is refused with HTTP 422
  before any stream starts ("Unexpected fields in the request: {...}").

transformers serve's /v1/chat/completions opens every stream with an event carrying only
`"delta": {"role": "assistant"}` (cli/serving/chat_completion.py), and any server may send a chunk with
empty text, so time to first token runs to the first chunk with non-empty text, never the first event. vLLM
ends with `data: [DONE]` and, with stream_options.include_usage, sends usage in a chunk whose choices
are empty. Comments (lines starting with ':', used as keep-alive pings) are ignored.
"""

import codecs
import json
import re
from typing import List, Optional

_LINE_END = re.compile(r"\r\n|\n|\r")


class SSEDecoder:
    """Incremental text/event-stream decoder: feed() bytes as they are read, get the data of every event
    completed by them. Follows the WHATWG rules that matter here: CRLF, LF or CR line ends, `data:` lines
    of one event joined with newlines, comments and other fields ignored, UTF-8 split across reads."""

    def __init__(self):
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: List[str] = []

    def feed(self, chunk: bytes) -> List[str]:
        self._buffer += self._utf8.decode(chunk)
        return self._drain(final=False)

    def flush(self) -> List[str]:
        """At the end of the stream: an event the server did not close with a blank line is delivered
        anyway (the spec would drop it; a lenient client loses no final usage chunk this way)."""
        self._buffer += self._utf8.decode(b"", final=True)
        events = self._drain(final=True)
        if self._buffer:
            self._line(self._buffer, events)
            self._buffer = ""
        if self._data:
            events.append("\n".join(self._data))
            self._data = []
        return events

    def _drain(self, final: bool) -> List[str]:
        events: List[str] = []
        start = 0
        for match in _LINE_END.finditer(self._buffer):
            if match.group() == "\r" and match.end() == len(self._buffer) and not final:
                break  # a CR at the end of a read may be the first half of a CRLF
            self._line(self._buffer[start:match.start()], events)
            start = match.end()
        self._buffer = self._buffer[start:]
        return events

    def _line(self, line: str, events: List[str]) -> None:
        if line == "":
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        if line.startswith(":"):
            return
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)


def _error_text(payload) -> Optional[str]:
    """The message of an error event: transformers' {"error": "..."}, OpenAI's / vLLM's
    {"error": {"message": ...}} or {"object": "error", "message": ...}."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if error:
        if isinstance(error, dict):
            return str(error.get("message") or error)
        return str(error)
    if payload.get("object") == "error":
        return str(payload.get("message") or payload)
    return None


def _choice_text(choice: dict) -> Optional[str]:
    text = choice.get("text")
    if text is None and isinstance(choice.get("delta"), dict):
        text = choice["delta"].get("content")
    return text if isinstance(text, str) else None


class CompletionStream:
    """One streamed completion, fed network reads with the (monotonic) time each arrived.

    content_times[i] is when the i-th chunk with non-empty text arrived; content_texts[i] its text.
    Events from one read share that read's time. After close(), error is None for a stream that finished
    properly: a finish_reason or [DONE] seen and no error event."""

    def __init__(self):
        self._sse = SSEDecoder()
        self.content_times: List[float] = []
        self.content_texts: List[str] = []
        self.events = 0
        self.first_event_s: Optional[float] = None
        self.last_event_s: Optional[float] = None
        self.finish_reason: Optional[str] = None
        self.usage: Optional[dict] = None
        self.done = False  # saw `data: [DONE]`
        self.error: Optional[str] = None
        self.closed = False

    def feed(self, chunk: bytes, now: float) -> None:
        for data in self._sse.feed(chunk):
            self._event(data, now)

    def close(self, now: float) -> None:
        """The connection ended (normally or not): deliver a last unterminated event, then judge."""
        if self.closed:
            return
        for data in self._sse.flush():
            self._event(data, now)
        self.closed = True
        if self.error is None and self.finish_reason is None and not self.done:
            self.error = ("the stream ended without a finish_reason or [DONE] "
                          f"(after {self.events} events, {len(self.content_times)} with content)")

    @property
    def text(self) -> str:
        return "".join(self.content_texts)

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    def _event(self, data: str, now: float) -> None:
        if self.done:  # nothing counts after [DONE]
            return
        self.events += 1
        if self.first_event_s is None:
            self.first_event_s = now
        self.last_event_s = now
        if data.strip() == "[DONE]":
            self.done = True
            return
        try:
            payload = json.loads(data)
        except ValueError:
            self._fail(f"malformed event (not JSON): {data[:200]!r}")
            return
        message = _error_text(payload)
        if message is not None:
            self._fail(f"error event from the server: {message}")
            return
        if not isinstance(payload, dict):
            self._fail(f"unexpected event (not a JSON object): {data[:200]!r}")
            return
        for choice in payload.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            text = _choice_text(choice)
            if text:
                self.content_times.append(now)
                self.content_texts.append(text)
            if choice.get("finish_reason") is not None:
                self.finish_reason = str(choice["finish_reason"])
        if isinstance(payload.get("usage"), dict):
            self.usage = payload["usage"]
