"""A stand-in for `vllm serve` (vLLM's OpenAI-compatible server), for tests on machines without a GPU:
the same command line, GET /health, GET /metrics with vllm:num_requests_running, and streamed
POST /v1/completions as vLLM sends them (token-id prompts, ignore_eos, usage in a last chunk with no
choices, data: [DONE]). At most --max-num-seqs requests run at once; the others wait, as in vLLM's
scheduler. Each token takes FAKE_VLLM_TOKEN_S seconds.

    install(folder) -> the path of an executable `vllm` in folder that runs this file

Environment: FAKE_VLLM_MODE ok | crash (exits before listening, as a failed engine start does);
FAKE_VLLM_RECORD: a file each request body is appended to (one JSON per line).
"""

import json
import os
import sys
import threading
import time


def install(folder: str) -> str:
    path = os.path.join(folder, "vllm")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nexec "{sys.executable}" "{os.path.abspath(__file__)}" "$@"\n')
    os.chmod(path, 0o755)
    return path


def main(argv) -> int:
    import http.server

    if not argv or argv[0] != "serve":
        print(f"fake vllm: usage: vllm serve MODEL ... (got {argv})", flush=True)
        return 2
    model = argv[1]

    def flag(name, default=None):
        return argv[argv.index(name) + 1] if name in argv else default

    host, port = flag("--host", "127.0.0.1"), int(flag("--port", "8000"))
    served = flag("--served-model-name", model)
    max_seqs = int(flag("--max-num-seqs", "256"))
    token_s = float(os.environ.get("FAKE_VLLM_TOKEN_S", "0.02"))
    record = os.environ.get("FAKE_VLLM_RECORD")
    print("fake vllm serve", " ".join(argv), flush=True)
    if os.environ.get("FAKE_VLLM_MODE") == "crash":
        print("RuntimeError: CUDA error: out of memory (fake vllm: the engine failed to start)", flush=True)
        return 1
    slots = threading.BoundedSemaphore(max_seqs)
    lock = threading.Lock()
    state = {"running": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the connection closes after each response: a stream's end

        def send_json(self, code, payload):
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/health":
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()
            elif self.path == "/metrics":
                with lock:
                    running = state["running"]
                body = (f"# HELP vllm:num_requests_running Number of requests currently running.\n"
                        f"# TYPE vllm:num_requests_running gauge\n"
                        f'vllm:num_requests_running{{model_name="{served}"}} {float(running)}\n'
                        f'vllm:num_requests_running_total{{model_name="{served}"}} 99.0\n').encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_json(404, {"detail": "not found"})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
            if record:
                with lock, open(record, "a") as f:
                    f.write(json.dumps(body) + "\n")
            if self.path != "/v1/completions":
                return self.send_json(404, {"detail": "not found"})
            if body.get("model") != served:
                return self.send_json(404, {"object": "error", "message": f"The model `{body.get('model')}` does not exist."})
            prompt = body.get("prompt")
            if not (isinstance(prompt, list) and all(isinstance(t, int) for t in prompt)):
                return self.send_json(400, {"object": "error", "message": "fake vllm expects token ids"})
            max_tokens = int(body.get("max_tokens", 16))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            with slots:
                with lock:
                    state["running"] += 1
                try:
                    for i in range(max_tokens):
                        time.sleep(token_s)
                        last = i == max_tokens - 1
                        chunk = {"id": "cmpl-fake", "object": "text_completion", "model": served,
                                 "choices": [{"index": 0, "text": f" t{i}", "logprobs": None,
                                              "finish_reason": "length" if last else None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                finally:
                    with lock:
                        state["running"] -= 1
            usage = {"prompt_tokens": len(prompt), "completion_tokens": max_tokens,
                     "total_tokens": len(prompt) + max_tokens}
            self.wfile.write(f"data: {json.dumps({'id': 'cmpl-fake', 'choices': [], 'usage': usage})}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def log_message(self, fmt, *args):
            print("fake vllm:", fmt % args, flush=True)

    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"INFO: Uvicorn running on http://{host}:{port} (fake)", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
