"""The open-loop client against a scripted server on a real socket: it sends on schedule without waiting
for earlier answers, honours only max_concurrency, times the chunks, records failures, reuses its
connections; and its HTTP/1.1 response parser, byte by byte."""

import asyncio
import json
import selectors
import socket
import threading
import time
import unittest

import helpers  # noqa: F401  (puts the harness on sys.path)
from lem_harness.serving.client import (HttpProtocolError, ResponseParser, fine_selector, request_body,
                                        request_bytes, run_load, run_load_sync)
from lem_harness.serving.metrics import summarize
from lem_harness.serving.server import free_port


def event(payload) -> bytes:
    return ("data: " + json.dumps(payload) + "\n\n").encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class ScriptedServer:
    """A transformers-serve-like server: for each POST it waits think_s, then streams max_tokens chunks
    gap_s apart and a finish chunk with usage (no [DONE]), in HTTP/1.1 chunked coding as uvicorn does.
    Logs (monotonic time received, body) and counts the connections it accepted."""

    def __init__(self, think_s=0.0, gap_s=0.02, status=200, cut_short=False, close_each=False):
        self.think_s, self.gap_s, self.status = think_s, gap_s, status
        self.cut_short, self.close_each = cut_short, close_each
        self.log = []
        self.connections = 0

    async def handle(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                received = time.monotonic()
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = json.loads(await reader.readexactly(length))
                self.log.append((received, body))
                await self.respond(writer, body)
                if self.close_each:
                    break
        # The client closed, or the test ended mid-answer (asyncio.run cancels the handler): both end it.
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def respond(self, writer, body):
        close = b"connection: close\r\n" if self.close_each else b""
        if self.status != 200:
            detail = json.dumps({"detail": "Unexpected fields in the request: {'ignore_eos'}"}).encode()
            writer.write(b"HTTP/1.1 %d Unprocessable Entity\r\ncontent-type: application/json\r\n%s"
                         b"content-length: %d\r\n\r\n%s" % (self.status, close, len(detail), detail))
            return
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n%stransfer-encoding: chunked\r\n\r\n"
                     % close)
        await asyncio.sleep(self.think_s)
        n = body["max_tokens"]
        for i in range(n):
            if i:
                await asyncio.sleep(self.gap_s)
            writer.write(chunk(event({"choices": [{"index": 0, "text": f" w{i}"}]})))
        if not self.cut_short:
            writer.write(chunk(event({"choices": [{"index": 0, "text": "", "finish_reason": "length"}],
                                      "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n}})))
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def load_against(server, prompts, arrivals, **kwargs):
    """run_load against server, listening on a free local port for the length of the load."""
    async def main():
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            return await run_load(f"http://127.0.0.1:{port}", prompts, arrivals, **kwargs)
        finally:
            listener.close()
    return asyncio.run(main())


def load_threads():
    return [t for t in threading.enumerate() if t.name == "lem-load"]


class RequestBodyTest(unittest.TestCase):
    def test_transformers_fixed_length_is_a_generation_config_string(self):
        body = request_body("hi", 8, "transformers")
        self.assertEqual(body, {"prompt": "hi", "max_tokens": 8, "stream": True,
                                "generation_config": '{"eos_token_id": -1}'})
        self.assertIsInstance(body["generation_config"], str)
        self.assertNotIn("ignore_eos", body)

    def test_transformers_generation_config_fields_are_merged(self):
        body = request_body("hi", 8, "transformers", generation_config={"do_sample": True, "temperature": 0.7})
        self.assertEqual(json.loads(body["generation_config"]),
                         {"do_sample": True, "temperature": 0.7, "eos_token_id": -1})
        free = request_body("hi", 8, "transformers", fixed_output_length=False)
        self.assertNotIn("generation_config", free)

    def test_vllm_fixed_length_is_ignore_eos_with_usage(self):
        body = request_body("hi", 8, "vllm", model="m")
        self.assertEqual(body, {"prompt": "hi", "max_tokens": 8, "stream": True, "model": "m",
                                "stream_options": {"include_usage": True}, "ignore_eos": True})
        with self.assertRaises(ValueError):
            request_body("hi", 8, "vllm", generation_config={"temperature": 0})

    def test_extra_body_last_and_bad_arguments(self):
        self.assertEqual(request_body("hi", 2, "vllm", extra_body={"temperature": 0})["temperature"], 0)
        for args in (("hi", 8, "tgi"), ("hi", 0, "vllm"), ("hi", True, "vllm")):
            with self.subTest(args=args), self.assertRaises(ValueError):
                request_body(*args)

    def test_request_bytes_are_one_post_with_the_utf8_length(self):
        raw = request_bytes("127.0.0.1:8000", "/v1/completions", {"prompt": "héllo ✓"})
        head, _, payload = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.assertEqual(lines[0], "POST /v1/completions HTTP/1.1")
        self.assertIn("Host: 127.0.0.1:8000", lines)
        self.assertIn(f"Content-Length: {len(payload)}", lines)
        self.assertEqual(json.loads(payload.decode("utf-8")), {"prompt": "héllo ✓"})


class ResponseParserTest(unittest.TestCase):
    CHUNKED = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")

    def body(self, parser, data, step=None):
        pieces = []
        for i in range(0, len(data), step or len(data)):
            pieces += parser.feed(data[i:i + (step or len(data))])
        return b"".join(pieces)

    def test_chunked_body_whatever_the_read_boundaries(self):
        for step in (None, 1, 2, 7):
            with self.subTest(step=step):
                parser = ResponseParser()
                self.assertEqual(self.body(parser, self.CHUNKED, step), b"hello world")
                self.assertTrue(parser.done and parser.keep_alive and parser.clean)
                self.assertEqual((parser.status, parser.headers["content-type"]), (200, "text/event-stream"))

    def test_content_length_body_and_what_follows_it(self):
        parser = ResponseParser()
        self.assertEqual(self.body(parser, b"HTTP/1.1 422 X\r\nContent-Length: 4\r\n\r\n{}{}EXTRA"), b"{}{}")
        self.assertTrue(parser.done)
        self.assertFalse(parser.clean)  # bytes after the response: the connection is not reused

    def test_body_until_close(self):
        parser = ResponseParser()
        self.assertEqual(self.body(parser, b"HTTP/1.1 200 OK\r\n\r\ndata: 1\n\n"), b"data: 1\n\n")
        self.assertFalse(parser.done)
        self.assertEqual(parser.eof(), [])
        self.assertTrue(parser.done)
        self.assertFalse(parser.keep_alive)

    def test_no_body_interim_responses_and_closing_connections(self):
        parser = ResponseParser()
        self.assertEqual(self.body(parser, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), b"")
        self.assertEqual(parser.status, 204)
        self.assertTrue(parser.done and parser.keep_alive)
        for head in (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                     b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"):
            with self.subTest(head=head):
                parser = ResponseParser()
                parser.feed(head)
                self.assertTrue(parser.done)
                self.assertFalse(parser.keep_alive)

    def test_broken_framing_is_an_error(self):
        for data in (b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
                     b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"):
            with self.subTest(data=data), self.assertRaises(HttpProtocolError):
                ResponseParser().feed(data)
        cut = ResponseParser()
        cut.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        with self.assertRaisesRegex(HttpProtocolError, "closed the connection before the response ended"):
            cut.eof()


class FineSelectorTest(unittest.TestCase):
    def test_ready_descriptors_come_back_at_once(self):
        a, b = socket.socketpair()
        selector = fine_selector()
        try:
            selector.register(a, selectors.EVENT_READ)
            b.send(b"x")
            started = time.monotonic()
            events = selector.select(timeout=5.0)
            self.assertLess(time.monotonic() - started, 1.0)
            self.assertEqual([key.fileobj for key, _ in events], [a])
        finally:
            selector.close()
            a.close()
            b.close()


class OpenLoopTest(unittest.TestCase):
    def test_requests_go_out_on_schedule_without_waiting_for_answers(self):
        server = ScriptedServer(think_s=0.3)
        arrivals = [0.0, 0.05, 0.10, 0.15]
        result = load_against(server, ["p"] * 4, arrivals, max_tokens=3)
        received = sorted(t for t, _ in server.log)
        for r, at in zip(sorted(result.records, key=lambda r: r.scheduled_s), received):
            self.assertIsNone(r.error)
            self.assertAlmostEqual(r.sent_s, r.scheduled_s, delta=0.04)
            self.assertAlmostEqual(at - result.t0_monotonic, r.sent_s, delta=0.04)  # sent_s is when it went out
            self.assertEqual(len(r.content_times_s), 3)
            self.assertEqual((r.output_tokens, r.prompt_tokens, r.finish_reason, r.status_code), (3, 3, "length", 200))
        # Each answer takes 0.3 s, so all four were in flight together.
        self.assertEqual(summarize(result.records)["peak_concurrency"], 4)
        self.assertEqual([json.loads(b["generation_config"]) for _, b in server.log], [{"eos_token_id": -1}] * 4)
        self.assertEqual(result.texts[0], " w0 w1 w2")

    def test_chunk_times_give_ttft_and_itl(self):
        result = load_against(ScriptedServer(think_s=0.1, gap_s=0.05), ["p"], [0.0], max_tokens=4)
        s = summarize(result.records)
        self.assertAlmostEqual(s["ttft_ms"]["mean"], 100, delta=40)
        self.assertEqual(s["itl_ms"]["n"], 3)
        self.assertAlmostEqual(s["itl_ms"]["mean"], 50, delta=25)
        self.assertLess(s["ttft_ms"]["mean"], s["e2el_ms"]["mean"])
        self.assertAlmostEqual(s["tpot_ms"]["mean"], 50, delta=25)

    def test_max_concurrency_is_the_only_brake(self):
        result = load_against(ScriptedServer(think_s=0.1), ["p"] * 3, [0.0, 0.0, 0.0], max_tokens=2,
                              max_concurrency=1)
        records = sorted(result.records, key=lambda r: r.sent_s)
        for before, after in zip(records, records[1:]):
            self.assertGreaterEqual(after.sent_s, before.end_s - 0.01)
        s = summarize(result.records)
        self.assertEqual(s["peak_concurrency"], 1)
        self.assertGreater(s["cap_wait_ms"]["p99"], 150)  # the last waited for two answers
        self.assertLess(s["dispatch_lag_ms"]["p99"], 50)  # ... but the client itself was on time

    def test_connections_opened_before_the_start_carry_every_request(self):
        server = ScriptedServer(gap_s=0.0)
        result = load_against(server, ["p"] * 6, [0.0, 0.0, 0.0, 0.05, 0.05, 0.1], max_tokens=2, max_concurrency=2)
        self.assertEqual(summarize(result.records)["requests"]["completed"], 6)
        self.assertEqual(server.connections, 2)

    def test_a_server_that_closes_each_connection_still_gets_every_request(self):
        server = ScriptedServer(gap_s=0.0, close_each=True)
        result = load_against(server, ["p"] * 5, [0.0, 0.02, 0.04, 0.06, 0.08], max_tokens=2, max_concurrency=1)
        self.assertEqual([r.error for r in result.records], [None] * 5)
        self.assertEqual(len(server.log), 5)

    def test_refused_request_is_recorded_not_dropped(self):
        result = load_against(ScriptedServer(status=422), ["p"] * 2, [0.0, 0.01], max_tokens=2)
        self.assertEqual(len(result.records), 2)
        for r in result.records:
            self.assertEqual(r.status_code, 422)
            self.assertTrue(r.error.startswith("HTTP 422: "), r.error)
            self.assertIn("ignore_eos", r.error)
        self.assertEqual(summarize(result.records)["requests"]["failed"], 2)

    def test_stream_cut_short_and_connection_errors_are_failures(self):
        cut = load_against(ScriptedServer(cut_short=True), ["p"], [0.0], max_tokens=2)
        self.assertIn("without a finish_reason", cut.records[0].error)
        self.assertEqual(len(cut.records[0].content_times_s), 2)  # what came is kept

        down = run_load_sync(f"http://127.0.0.1:{free_port()}", ["p"] * 2, [0.0, 0.0], max_tokens=2)
        for r in down.records:
            self.assertTrue(r.error.startswith("ConnectionRefusedError: "), r.error)
            self.assertIsNotNone(r.end_s)
            self.assertIsNone(r.status_code)

    def test_a_silent_server_times_out(self):
        started = time.monotonic()
        result = load_against(ScriptedServer(think_s=5.0), ["p"], [0.0], max_tokens=2, timeout_s=0.3)
        self.assertEqual(result.records[0].error, "TimeoutError: no data from the server for 0.3 s")
        self.assertLess(time.monotonic() - started, 3.0)

    def test_cancelling_the_load_stops_its_thread(self):
        async def main():
            server = ScriptedServer()
            listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
            port = listener.sockets[0].getsockname()[1]
            load = asyncio.ensure_future(run_load(f"http://127.0.0.1:{port}", ["p"] * 2, [0.0, 60.0], max_tokens=1))
            await asyncio.sleep(0.3)
            self.assertEqual(len(load_threads()), 1)
            load.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await load
            listener.close()
            return server
        started = time.monotonic()
        server = asyncio.run(main())
        self.assertLess(time.monotonic() - started, 5.0)  # not the 60 s of the second arrival
        self.assertEqual(load_threads(), [])
        self.assertEqual(len(server.log), 1)

    def test_argument_checks(self):
        for kwargs in ({"prompts": ["a"], "arrivals": [0, 1]}, {"prompts": [], "arrivals": []},
                       {"prompts": ["a"], "arrivals": [0], "max_concurrency": 0},
                       {"prompts": ["a", "b"], "arrivals": [0, 1], "max_tokens": [1]},
                       {"prompts": ["a"], "arrivals": [0], "base_url": "https://server"}):
            args = {"max_tokens": 2, "base_url": "http://127.0.0.1:9", **kwargs}
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError):
                run_load_sync(args.pop("base_url"), args.pop("prompts"), args.pop("arrivals"), **args)


if __name__ == "__main__":
    unittest.main()
