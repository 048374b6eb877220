"""bench/serving: the serving path's own figures on this machine (issue 20), printed, never asserted.

1. Throughput against concurrency: one `transformers serve --continuous-batching` on a random-weight
   model (synthetic preset, saved as a Hugging Face folder), N requests at rate inf under a client cap
   of 1, 2, 4, 8: the continuous-batching gain is output tokens/s at cap c over cap 1.
2. The client against the real server: the open-loop client on the server of 1 at rising Poisson rates:
   arrival error p50/p99 (sent - scheduled), dispatch lag p99 (scheduled to the client's start of the
   request), the client's CPU time (user + system, all its threads) as a share of one core, and the
   timer floor: an event loop of the client's own kind with no requests, woken at the same times right
   after, whose lateness p99 is what this machine allows any client; with what the server made of the
   load (completed requests/s, peak in flight). Here the server shares the cores with the client.
3. The client alone: the same figures against a stand-in server that answers at once (STUB, a child
   process: in this process it would share the client's CPU), at higher rates.

Usage: bench/serving [--preset tiny|small] [--requests N] [--max-tokens T] [--stub-requests N]
[--server-requests N] [--only throughput|stub|server]   (needs torch, transformers with its serving
extra: lem's venv; PYTHON picks the interpreter)."""

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import List, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "docker", "harness"))

from lem_harness.models.hf_folder import save_random_llama  # noqa: E402
from lem_harness.serving.arrivals import arrival_times  # noqa: E402
from lem_harness.serving.client import fine_selector, run_load_sync  # noqa: E402
from lem_harness.serving.metrics import summarize  # noqa: E402
from lem_harness.serving.server import TransformersServer, free_port  # noqa: E402

STUB_RATES = (10, 50, 100, 200, 400)
SERVER_RATES = (5, 10, 20, 40)
PROMPT = "the quick brown fox jumps over the lazy dog " * 2

# The stand-in: answers every POST at once with a two-event SSE stream in HTTP/1.1 chunks, as uvicorn
# streams (transformers serve, vLLM); keep-alive; asyncio, so TCP_NODELAY is on and the listen backlog
# takes the client's pre-opened connections (http.server's 5 overflowed and its two writes per response
# met delayed ACKs: 40 ms per request).
STUB = r'''
import asyncio, json, sys
EVENTS = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in (
    {"choices": [{"text": "x", "index": 0, "finish_reason": None}]},
    {"choices": [{"text": "", "index": 0, "finish_reason": "length"}], "usage": {"prompt_tokens": 4, "completion_tokens": 1}})]
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
def chunk(data): return b"%x\r\n%s\r\n" % (len(data), data)
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            writer.write(HEAD + chunk(EVENTS[0]))
            writer.write(chunk(EVENTS[1]) + b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    await server.serve_forever()
asyncio.run(main())
'''


def cpu_seconds() -> float:
    """User + system CPU time of this process, every thread (the load runs on a thread of its own)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def timer_floor_ms(arrivals: Sequence[float]) -> float:
    """p99 lateness, in ms, of timers at the arrival times on an idle event loop like the client's."""
    async def wake_at_each() -> List[float]:
        loop = asyncio.get_running_loop()
        t0, late, done = loop.time() + 0.05, [], loop.create_future()

        def woke(at: float) -> None:
            late.append(loop.time() - at)
            if len(late) == len(arrivals) and not done.done():
                done.set_result(None)
        for a in arrivals:
            loop.call_at(t0 + a, woke, t0 + a)
        await done
        return late

    loop = asyncio.SelectorEventLoop(fine_selector())
    try:
        return 1000 * p99(loop.run_until_complete(wake_at_each()))
    finally:
        loop.close()


COLUMNS = ("rate/s", "done req/s", "peak in flight", "arrival error p50 / p99 ms", "dispatch lag p99 ms",
           "timer floor p99 ms", "client CPU %", "failed")
HEADER = "   " + "   ".join(COLUMNS)


def row(values: Sequence[str]) -> str:
    return "   " + "   ".join(v.rjust(len(title)) for v, title in zip(values, COLUMNS))


def keeping_up(url: str, rate: float, n: int, max_tokens: int, prompt: str) -> str:
    """One open-loop Poisson load at rate; its row of figures (COLUMNS)."""
    arrivals = arrival_times(n, rate, 1.0, 0)
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    load = run_load_sync(url, [prompt] * n, arrivals, max_tokens)
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    s = summarize(load.records, load.duration_s)
    error, lag = s["arrival_error_ms"], s["dispatch_lag_ms"]
    return row([f"{rate:g}", f"{s['request_throughput_per_s'] or 0:.1f}", str(s["peak_concurrency"]),
                f"{error['p50']:.2f} / {error['p99']:.2f}", f"{lag['p99']:.2f}", f"{timer_floor_ms(arrivals):.2f}",
                f"{100 * cpu / wall:.1f}", str(s["requests"]["failed"])])


def client_against_stub(n: int) -> None:
    port = free_port()
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(port)])
    try:
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        run_load_sync(url, ["warm"] * 4, [0.0] * 4, 1)
        print(f"3. the client alone: a stand-in server that answers at once, {n} Poisson requests per rate")
        print(HEADER)
        for rate in STUB_RATES:
            print(keeping_up(url, rate, n, 1, "hello"), flush=True)
    finally:
        stub.terminate()
        stub.wait()


def throughput_by_concurrency(server: TransformersServer, preset: str, n: int, max_tokens: int) -> None:
    print(f"1. throughput against concurrency: synthetic:{preset}, {n} requests of {max_tokens} tokens, rate inf, CPU")
    prompts = [PROMPT] * n
    base = None
    print("   cap   out tok/s   gain   TTFT p50 ms   TPOT p50 ms   peak concurrency")
    for cap in (1, 2, 4, 8):
        load = run_load_sync(server.base_url, prompts, [0.0] * n, max_tokens, max_concurrency=cap)
        s = summarize(load.records, load.duration_s)
        tps = s["output_token_throughput_per_s"]
        base = base or tps
        print(f"   {cap:>3}   {tps:>9.1f}   {tps / base:>4.2f}   {s['ttft_ms']['p50']:>11.1f}   "
              f"{(s['tpot_ms']['p50'] or 0):>11.2f}   {s['peak_concurrency']:>16}", flush=True)


def client_against_server(server: TransformersServer, preset: str, n: int, max_tokens: int) -> None:
    print(f"2. the client against transformers serve (synthetic:{preset}, {max_tokens} tokens a request, "
          f"{n} Poisson requests per rate; the server shares the cores)")
    print(HEADER)
    for rate in SERVER_RATES:
        print(keeping_up(server.base_url, rate, n, max_tokens, PROMPT), flush=True)


def with_server(preset: str, sections, args) -> None:
    folder = save_random_llama(tempfile.mkdtemp(prefix="bench-serving-"), preset=preset, seed=0)
    log = os.path.join(tempfile.mkdtemp(prefix="bench-serving-log-"), "server.log")
    with TransformersServer(folder, log, device="cpu", num_blocks=256, block_size=32, max_batch_tokens=2048) as server:
        print(f"server ready in {server.startup_s:.1f} s")
        # The first completion builds the batching manager and its KV cache: outside the figures.
        run_load_sync(server.base_url, [PROMPT] * 2, [0.0, 0.0], args.max_tokens)
        for section in sections:
            section(server, preset, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--requests", type=int, default=32, help="requests per cap in 1")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--stub-requests", type=int, default=400, help="requests per rate in 3")
    parser.add_argument("--server-requests", type=int, default=100, help="requests per rate in 2")
    parser.add_argument("--only", choices=["throughput", "stub", "server"])
    args = parser.parse_args()
    sections = []
    if args.only in (None, "throughput"):
        sections.append(lambda server, preset, a: throughput_by_concurrency(server, preset, a.requests, a.max_tokens))
    if args.only in (None, "server"):
        sections.append(lambda server, preset, a: client_against_server(server, preset, a.server_requests, a.max_tokens))
    if sections:
        with_server(args.preset, sections, args)
    if args.only in (None, "stub"):
        client_against_stub(args.stub_requests)
