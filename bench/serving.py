"""bench/serving: the serving path's own figures on this machine (issue 20), printed, never asserted.

1. Throughput against concurrency: one `transformers serve --continuous-batching` on a random-weight
   model (synthetic preset, saved as a Hugging Face folder), N requests at rate inf under a client cap
   of 1, 2, 4, 8: the continuous-batching gain is output tokens/s at cap c over cap 1.
2. The client keeps up: the same open-loop client against a stand-in server that answers at once
   (a tiny asyncio SSE responder in this process's own thread would share the client's CPU, so it
   runs as a child process), at rising rates: arrival error p99 (sent - scheduled) and the client's
   CPU time as a share of one core.

Usage: bench/serving [--preset tiny|small] [--requests N] [--max-tokens T]   (needs torch, transformers
with its serving extra, httpx: lem's venv; PYTHON picks the interpreter)."""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "docker", "harness"))

from lem_harness.models.hf_folder import save_random_llama  # noqa: E402
from lem_harness.serving.arrivals import arrival_times  # noqa: E402
from lem_harness.serving.client import run_load_sync  # noqa: E402
from lem_harness.serving.metrics import summarize  # noqa: E402
from lem_harness.serving.server import TransformersServer, free_port  # noqa: E402

STUB = r'''
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        chunks = [{"choices": [{"text": "x", "index": 0, "finish_reason": None}]},
                  {"choices": [{"text": "", "index": 0, "finish_reason": "length"}], "usage": {"prompt_tokens": 4, "completion_tokens": 1}}]
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode()
        self.send_response(200); self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def throughput_by_concurrency(preset: str, n: int, max_tokens: int) -> None:
    folder = save_random_llama(tempfile.mkdtemp(prefix="bench-serving-"), preset=preset, seed=0)
    log = os.path.join(tempfile.mkdtemp(prefix="bench-serving-log-"), "server.log")
    print(f"1. throughput against concurrency: synthetic:{preset}, {n} requests of {max_tokens} tokens, rate inf, CPU")
    with TransformersServer(folder, log, device="cpu", num_blocks=256, block_size=32, max_batch_tokens=2048) as server:
        print(f"   server ready in {server.startup_s:.1f} s")
        prompts = ["the quick brown fox jumps over the lazy dog " * 2] * n
        # The first completion builds the batching manager and its KV cache: outside the figures.
        run_load_sync(server.base_url, prompts[:2], [0.0, 0.0], max_tokens)
        base = None
        print("   cap   out tok/s   gain   TTFT p50 ms   TPOT p50 ms   peak concurrency")
        for cap in (1, 2, 4, 8):
            load = run_load_sync(server.base_url, prompts, [0.0] * n, max_tokens, max_concurrency=cap)
            s = summarize(load.records, load.duration_s)
            tps = s["output_token_throughput_per_s"]
            base = base or tps
            print(f"   {cap:>3}   {tps:>9.1f}   {tps / base:>4.2f}   {s['ttft_ms']['p50']:>11.1f}   "
                  f"{(s['tpot_ms']['p50'] or 0):>11.2f}   {s['peak_concurrency']:>16}")


def client_keeps_up(n: int) -> None:
    port = free_port()
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(port)])
    try:
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        run_load_sync(url, ["warm"] * 4, [0.0] * 4, 1)
        print(f"2. the client against a stand-in server that answers at once, {n} requests per rate, Poisson arrivals")
        print("   rate req/s   arrival error p99 ms   client CPU % of a core   failed")
        for rate in (10, 50, 100, 200, 400):
            arrivals = arrival_times(n, rate, 1.0, 0)
            cpu0, wall0 = time.process_time(), time.monotonic()
            load = run_load_sync(url, ["hello"] * n, arrivals, 1)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            s = summarize(load.records, load.duration_s)
            print(f"   {rate:>11}   {s['arrival_error_ms']['p99']:>20.2f}   {100 * cpu / wall:>22.1f}   {s['requests']['failed']:>6}")
    finally:
        stub.terminate()
        stub.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    throughput_by_concurrency(args.preset, args.requests, args.max_tokens)
    client_keeps_up(400)
