"""TransformersServer's process handling against a fake `transformers serve` (a small HTTP server that
answers /health), so start-up, failures and teardown are checked fast and without transformers. The
real server is exercised by test_serving_e2e."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.request

import helpers  # noqa: F401  (puts the harness on sys.path)
from lem_harness.processes import group_alive  # a live (non-zombie) process is in the group
from lem_harness.serving.server import ServerStartError, TransformersServer

FAKE_SERVER = textwrap.dedent('''
    import http.server, json, os, signal, subprocess, sys, time
    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1])
    host = args[args.index("--host") + 1]
    mode = os.environ.get("FAKE_SERVE_MODE", "ok")
    print("fake serve", " ".join(args), flush=True)
    if mode == "crash":
        print("boom: cannot load the model", flush=True)
        sys.exit(3)
    if mode == "portrace":
        marker = os.environ["FAKE_SERVE_MARKER"]
        if not os.path.exists(marker):
            open(marker, "w").close()
            print("ERROR: [Errno 98] error while attempting to bind on address: address already in use", flush=True)
            sys.exit(1)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *a: os._exit(0))  # exits at once, leaving any child behind
    if os.environ.get("FAKE_SERVE_CHILD") == "1":
        subprocess.Popen([sys.executable, "-c",
                          "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
    if mode == "silent":
        time.sleep(120)
    time.sleep(float(os.environ.get("FAKE_SERVE_DELAY", "0.2")))

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ok"}).encode()
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer((host, port), Health).serve_forever()
''')




class FakeServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lem-fake-serve-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        server = os.path.join(cls.dir, "fake_server.py")
        with open(server, "w") as f:
            f.write(FAKE_SERVER)
        # Stands in for the Python that runs `-m transformers.cli.transformers serve`; `-c` (the launcher that
        # sets the parent-death signal) goes to the real one.
        cls.python = os.path.join(cls.dir, "python")
        with open(cls.python, "w") as f:
            f.write(f'#!/bin/sh\nif [ "$1" = "-c" ]; then exec "{sys.executable}" "$@"; fi\n'
                    f'exec "{sys.executable}" "{server}" "$@"\n')
        os.chmod(cls.python, 0o755)
        cls.model = os.path.join(cls.dir, "model")
        os.makedirs(cls.model)

    def server(self, mode="ok", **kwargs):
        env = {"FAKE_SERVE_MODE": mode, "HF_HUB_CACHE": os.path.join(self.dir, "hub"), **kwargs.pop("env", {})}
        log = os.path.join(self.dir, f"{self.id().rsplit('.', 1)[-1]}.log")
        return TransformersServer(self.model, log, device="cpu", num_blocks=8, block_size=32, env=env,
                                  python=self.python, **kwargs)

    def test_ready_on_health_and_nothing_left_after_exit(self):
        with self.server() as server:
            pgid = server.pid
            self.assertGreater(server.startup_s, 0.1)
            with urllib.request.urlopen(f"{server.base_url}/health", timeout=5) as response:
                self.assertEqual(response.status, 200)
            self.assertTrue(server.running)
        self.assertFalse(group_alive(pgid))
        with open(server.log_path) as f:
            log = f.read()
        self.assertIn("--continuous-batching", log)
        self.assertIn("--cb-num-blocks 8", log)
        self.assertIn("fake serve", log)

    def test_children_that_outlive_the_server_are_killed(self):
        with self.server(env={"FAKE_SERVE_CHILD": "1"}) as server:
            pgid = server.pid
        self.assertFalse(group_alive(pgid))

    def test_sigterm_ignored_means_sigkill(self):
        server = self.server("stubborn", stop_timeout_s=0.5).start()
        pgid = server.pid
        t0 = time.monotonic()
        server.stop()
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(server.returncode, -signal.SIGKILL)
        self.assertFalse(group_alive(pgid))
        server.stop()  # twice is fine

    def test_exit_before_ready_fails_fast_with_the_log_tail(self):
        server = self.server("crash")
        t0 = time.monotonic()
        with self.assertRaises(ServerStartError) as caught:
            server.start()
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn("exited with code 3", caught.exception.message)
        self.assertIn("boom: cannot load the model", caught.exception.message)
        self.assertFalse(group_alive(server.pid))

    def test_never_ready_times_out_and_is_killed(self):
        server = self.server("silent", startup_timeout_s=1.0, stop_timeout_s=2.0)
        with self.assertRaises(ServerStartError) as caught:
            server.start()
        self.assertIn("not ready after 1 s", caught.exception.message)
        self.assertFalse(group_alive(server.pid))

    def test_exception_inside_the_block_still_stops_the_server(self):
        with self.assertRaises(RuntimeError):
            with self.server() as server:
                pgid = server.pid
                raise RuntimeError("the load failed")
        self.assertFalse(group_alive(pgid))

    def test_a_port_lost_between_pick_and_bind_is_retried(self):
        marker = os.path.join(self.dir, "port-marker")
        with self.server("portrace", env={"FAKE_SERVE_MARKER": marker}) as server:
            self.assertTrue(server.running)
        with open(server.log_path) as f:
            self.assertIn("address already in use", f.read())

    def test_server_dies_with_the_process_that_started_it(self):
        script = textwrap.dedent(f'''
            import os, sys
            sys.path.insert(0, {helpers.HARNESS_DIR!r})
            from lem_harness.serving.server import TransformersServer
            server = TransformersServer({self.model!r}, {os.path.join(self.dir, "orphan.log")!r}, device="cpu",
                                        num_blocks=8, python={self.python!r},
                                        env={{"HF_HUB_CACHE": {os.path.join(self.dir, "hub")!r}}}).start()
            print(server.pid, flush=True)
            os._exit(0)  # no stop(), no atexit: as if killed
        ''')
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        pgid = int(out.stdout.strip())
        deadline = time.monotonic() + 10
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(group_alive(pgid), "the orphaned server outlived its parent")


class ConfigurationTest(unittest.TestCase):
    def test_the_kv_cache_must_be_capped(self):
        with self.assertRaises(ValueError) as caught:
            TransformersServer("/m", "/tmp/log")
        self.assertIn("cap the KV cache", str(caught.exception))
        TransformersServer("/m", "/tmp/log", max_memory_percent=0.3)
        for kwargs in ({"max_memory_percent": 1.5}, {"max_memory_percent": 0}, {"num_blocks": 0},
                       {"num_blocks": 4, "block_size": 2.5}):
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError):
                TransformersServer("/m", "/tmp/log", **kwargs)

    def test_command_carries_the_caps(self):
        server = TransformersServer("/models/x", "/tmp/log", device="cuda:0", num_blocks=64, block_size=128,
                                    max_batch_tokens=512, max_memory_percent=0.5, dtype="bfloat16",
                                    extra_args=["--default-seed", "1"])
        cmd = server.command(8123)
        self.assertEqual(cmd[1:6], ["-m", "transformers.cli.transformers", "serve", "/models/x",
                                    "--continuous-batching"])
        joined = " ".join(cmd)
        for part in ("--port 8123", "--host 127.0.0.1", "--device cuda:0", "--cb-num-blocks 64",
                     "--cb-block-size 128", "--cb-max-batch-tokens 512", "--cb-max-memory-percent 0.5",
                     "--dtype bfloat16", "--log-level info"):
            self.assertIn(part, joined)
        self.assertEqual(cmd[-2:], ["--default-seed", "1"])

    def test_environment_is_offline_and_creates_the_hub_cache(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root, True)
        cache = os.path.join(root, "a", "hub")
        env = TransformersServer("/m", "/tmp/log", num_blocks=4, env={"HF_HUB_CACHE": cache}).environment()
        self.assertTrue(os.path.isdir(cache))
        self.assertEqual((env["HF_HUB_OFFLINE"], env["HF_HUB_DISABLE_UPDATE_CHECK"]), ("1", "1"))
        online = TransformersServer("/m", "/tmp/log", num_blocks=4, offline=False,
                                    env={"HF_HUB_CACHE": cache, "HF_HUB_OFFLINE": "0"}).environment()
        self.assertEqual(online["HF_HUB_OFFLINE"], "0")

    def test_unstarted_server(self):
        server = TransformersServer("/m", "/tmp/log", num_blocks=4)
        server.stop()
        with self.assertRaises(RuntimeError):
            server.base_url
        missing = TransformersServer("/no/such/folder", os.path.join(tempfile.gettempdir(), "lem-x.log"),
                                     num_blocks=4, python="/bin/false")
        with self.assertRaises(ServerStartError) as caught:
            missing.start()
        self.assertIn("does not exist", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
