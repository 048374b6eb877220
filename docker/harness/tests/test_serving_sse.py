"""The SSE layer on scripted byte streams: any split of the bytes into reads gives the same events, and
CompletionStream times content chunks as transformers serve and vLLM send them."""

import json
import unittest

import helpers  # noqa: F401  (puts the harness on sys.path)
from lem_harness.serving.sse import CompletionStream, SSEDecoder


def chunk(text="", finish=None, usage=None, rid="r1"):
    """An event as transformers serve 5.17 writes it (compact JSON, `data: ` prefix, blank line)."""
    choice = {"index": 0, "text": text}
    if finish is not None:
        choice["finish_reason"] = finish
    payload = {"id": rid, "choices": [choice], "created": 1, "model": "/m@main", "object": "text_completion"}
    if usage is not None:
        payload["usage"] = usage
    return ("data: " + json.dumps(payload, separators=(",", ":")) + "\n\n").encode()


USAGE = {"completion_tokens": 3, "prompt_tokens": 5, "total_tokens": 8}
# What the real server sent for max_tokens 3: three text chunks, then the finish chunk with usage, no [DONE].
TRANSFORMERS_STREAM = chunk("fox") + chunk(" fox") + chunk(" fox") + chunk("", "length", USAGE)


def decode_in_reads(data: bytes, sizes) -> list:
    decoder, events, i = SSEDecoder(), [], 0
    for size in sizes:
        events += decoder.feed(data[i:i + size])
        i += size
    events += decoder.feed(data[i:])
    return events + decoder.flush()


class SSEDecoderTest(unittest.TestCase):
    def test_several_events_in_one_read(self):
        events = SSEDecoder().feed(TRANSFORMERS_STREAM)
        self.assertEqual(len(events), 4)
        self.assertEqual(json.loads(events[0])["choices"][0]["text"], "fox")

    def test_every_split_into_two_reads_gives_the_same_events(self):
        whole = decode_in_reads(TRANSFORMERS_STREAM, [])
        for cut in range(1, len(TRANSFORMERS_STREAM)):
            self.assertEqual(decode_in_reads(TRANSFORMERS_STREAM, [cut]), whole, f"cut at byte {cut}")

    def test_byte_by_byte_reads(self):
        self.assertEqual(decode_in_reads(TRANSFORMERS_STREAM, [1] * len(TRANSFORMERS_STREAM)),
                         decode_in_reads(TRANSFORMERS_STREAM, []))

    def test_an_event_is_delivered_only_when_its_blank_line_arrives(self):
        decoder = SSEDecoder()
        self.assertEqual(decoder.feed(b'data: {"a": 1}\n'), [])
        self.assertEqual(decoder.feed(b"\n"), ['{"a": 1}'])

    def test_crlf_and_cr_line_ends_even_split_between_reads(self):
        self.assertEqual(decode_in_reads(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n", [8, 1, 1]), ["a", "b", "c"])
        decoder = SSEDecoder()
        self.assertEqual(decoder.feed(b"data: x\r"), [])
        self.assertEqual(decoder.feed(b"\n\r\n"), ["x"])  # the \r\n pair was one line end, not two

    def test_comments_and_other_fields_are_ignored_and_data_lines_join(self):
        stream = b": ping\n\nevent: message\nid: 7\ndata: line one\ndata:line two\nretry: 10\n\n"
        self.assertEqual(decode_in_reads(stream, []), ["line one\nline two"])

    def test_utf8_character_split_across_reads(self):
        stream = 'data: {"text": "caf\u00e9 \u2603"}\n\n'.encode()
        cut = stream.index("\u2603".encode()) + 1  # inside the three-byte snowman
        self.assertEqual(decode_in_reads(stream, [cut]), ['{"text": "caf\u00e9 \u2603"}'])

    def test_flush_delivers_an_unterminated_last_event(self):
        decoder = SSEDecoder()
        self.assertEqual(decoder.feed(b"data: [DONE]"), [])
        self.assertEqual(decoder.flush(), ["[DONE]"])


class CompletionStreamTest(unittest.TestCase):
    def feed(self, reads, close_at=None):
        stream = CompletionStream()
        for t, data in reads:
            stream.feed(data, t)
        stream.close(close_at if close_at is not None else (reads[-1][0] if reads else 0.0))
        return stream

    def test_transformers_stream_without_done_ends_at_the_usage_chunk(self):
        s = self.feed([(1.0, chunk("fox")), (1.1, chunk(" fox")), (1.2, chunk(" fox")),
                       (1.2, chunk("", "length", USAGE))])
        self.assertIsNone(s.error)
        self.assertFalse(s.done)
        self.assertEqual(s.content_times, [1.0, 1.1, 1.2])
        self.assertEqual(s.text, "fox fox fox")
        self.assertEqual(s.finish_reason, "length")
        self.assertEqual(s.usage, USAGE)
        self.assertEqual(s.events, 4)
        self.assertEqual(s.last_event_s, 1.2)

    def test_events_of_one_read_share_its_time(self):
        s = self.feed([(2.0, chunk("a") + chunk("b")), (2.5, chunk("c") + chunk("", "length", USAGE))])
        self.assertEqual(s.content_times, [2.0, 2.0, 2.5])

    def test_an_event_split_across_reads_is_timed_when_it_completes(self):
        data = chunk("hello")
        s = self.feed([(1.0, data[:10]), (1.4, data[10:]), (1.5, chunk("", "stop", USAGE))])
        self.assertEqual(s.content_times, [1.4])

    def test_first_event_without_content_is_not_the_first_token(self):
        role_only = b'data: {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}\n\n'
        empty_text = chunk("")
        s = self.feed([(0.5, role_only), (0.6, empty_text), (0.9, chunk("hi")), (1.0, chunk("", "stop", USAGE))])
        self.assertIsNone(s.error)
        self.assertEqual(s.first_event_s, 0.5)
        self.assertEqual(s.content_times, [0.9])

    def test_chat_deltas_count_as_content(self):
        delta = b'data: {"choices": [{"index": 0, "delta": {"content": "yo"}}]}\n\n'
        end = b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
        s = self.feed([(1.0, delta), (1.1, end)])
        self.assertEqual((s.text, s.finish_reason, s.error), ("yo", "stop", None))

    def test_vllm_stream_with_done_and_a_usage_only_chunk(self):
        usage = b'data: {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}\n\n'
        s = self.feed([(1.0, chunk("a")), (1.1, chunk("b", "length")), (1.2, usage), (1.2, b"data: [DONE]\n\n")])
        self.assertIsNone(s.error)
        self.assertTrue(s.done)
        self.assertEqual(s.usage["completion_tokens"], 2)
        self.assertEqual(s.content_times, [1.0, 1.1])

    def test_nothing_after_done_counts(self):
        s = self.feed([(1.0, chunk("a") + b"data: [DONE]\n\n" + chunk("late"))])
        self.assertEqual(s.text, "a")

    def test_error_event_fails_the_stream(self):
        s = self.feed([(1.0, chunk("a")), (1.1, b'data: {"error": "CB worker died"}\n\n')])
        self.assertIn("CB worker died", s.error)
        vllm = self.feed([(1.0, b'data: {"object": "error", "message": "too long", "code": 400}\n\n')])
        self.assertIn("too long", vllm.error)

    def test_a_stream_cut_short_is_an_error(self):
        s = self.feed([(1.0, chunk("a")), (1.1, chunk("b"))], close_at=1.3)
        self.assertIn("without a finish_reason", s.error)
        self.assertEqual(s.content_times, [1.0, 1.1])

    def test_malformed_event_is_an_error(self):
        s = self.feed([(1.0, b"data: {not json\n\n"), (1.1, chunk("", "stop", USAGE))])
        self.assertIn("malformed", s.error)

    def test_close_is_idempotent(self):
        s = self.feed([(1.0, chunk("", "stop", USAGE))])
        s.close(9.0)
        self.assertIsNone(s.error)


if __name__ == "__main__":
    unittest.main()
