"""serving/registry.py and serving/watchdog.py: servers shared by the serving nodes of one server key,
with tests/fake_vllm.py as the server (a real process that answers /health, no GPU, no torch).

- acquire starts a server detached from its caller and records it; the same key reuses it, even after
  the process that started it has exited; another key stops it first; a dead server is replaced;
- release(ok=False) stops it; the watchdog stops it when its entry is removed or lem is gone;
- through the harness (python -m lem_harness, backend vllm against the stand-in): two nodes of one key
  share one server, and the result says so."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import fake_vllm
import helpers
from lem_harness import processes as process_group
from lem_harness.serving.registry import Registry, entry_path, read_entries
from lem_harness.serving.vllm_server import VllmServer


def read_entry(folder, key):
    with open(entry_path(folder, key)) as f:
        return json.load(f)




class RegistryTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lem-registry-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.vllm = fake_vllm.install(self.tmp)
        self.folder = os.path.join(self.tmp, "lem-servers-test")
        os.makedirs(self.folder)
        self.addCleanup(self.stop_everything)

    def stop_everything(self):
        for _, entry in read_entries(self.folder):
            process_group.stop_group(entry.get("pgid"), 2.0)
            process_group.signal_group(entry.get("watchdog_pid"), signal.SIGKILL)

    def make(self, log_path):
        return VllmServer("fake-model", log_path, executable=self.vllm, die_with_parent=False, startup_timeout_s=30,
                          stop_timeout_s=5)


class RegistryTest(RegistryTestCase):
    def test_one_key_is_started_once_then_reused(self):
        registry = Registry(self.folder)
        first = registry.acquire("a" * 16, self.make, {"hash": "h1", "cycle": 1})
        self.assertFalse(first.reused)
        self.assertTrue(first.running)
        entry = read_entry(self.folder, "a" * 16)
        self.assertEqual((entry["key"], entry["pid"], entry["pgid"]), ("a" * 16, first.pid, first.pid))
        self.assertEqual(entry["started_by"], {"hash": "h1", "cycle": 1})
        self.assertTrue(process_group.alive(entry["watchdog_pid"]))
        self.assertTrue(entry["log_path"].startswith(self.folder))
        second = registry.acquire("a" * 16, self.make, {"hash": "h2", "cycle": 1})
        self.assertTrue(second.reused)
        self.assertEqual((second.pid, second.startup_s, second.base_url), (first.pid, first.startup_s, first.base_url))
        self.assertEqual(second.started_by, {"hash": "h1", "cycle": 1})
        self.assertIn("fake vllm serve", second.log_tail())
        registry.release(second, ok=True)
        self.assertTrue(first.running, "a server that served its load stays for the next node")

    def test_another_key_stops_the_first_server_before_starting(self):
        registry = Registry(self.folder)
        a = registry.acquire("a" * 16, self.make, {})
        watchdog = read_entry(self.folder, "a" * 16)["watchdog_pid"]
        b = registry.acquire("b" * 16, self.make, {})
        self.assertFalse(b.reused)
        self.assertFalse(process_group.group_alive(a.pgid), "two servers at once")
        self.assertEqual([e["key"] for _, e in read_entries(self.folder)], ["b" * 16])
        self.assertTrue(helpers.wait_until(lambda: not process_group.alive(watchdog)), "the old watchdog outlived its server")

    def test_a_dead_server_is_replaced(self):
        registry = Registry(self.folder)
        a = registry.acquire("a" * 16, self.make, {})
        os.killpg(a.pgid, signal.SIGKILL)
        self.assertTrue(helpers.wait_until(lambda: not a.running))
        again = registry.acquire("a" * 16, self.make, {})
        self.assertFalse(again.reused)
        self.assertNotEqual(again.pid, a.pid)
        self.assertTrue(again.running)

    def test_release_after_a_failure_stops_the_server(self):
        registry = Registry(self.folder)
        a = registry.acquire("a" * 16, self.make, {})
        registry.release(a, ok=False)
        self.assertFalse(process_group.group_alive(a.pgid))
        self.assertEqual(read_entries(self.folder), [])

    def test_release_keeps_the_server_for_the_next_node_unless_it_was_the_keys_last(self):
        registry = Registry(self.folder)
        a = registry.acquire("a" * 16, self.make, {})
        registry.release(a, ok=True)
        self.assertTrue(process_group.group_alive(a.pgid), "kept for the key's next node")
        self.assertEqual(len(read_entries(self.folder)), 1)
        registry.release(a, ok=True, last=True)
        self.assertFalse(process_group.group_alive(a.pgid), "the key's last node (LEM_SERVER_LAST) stops it")
        self.assertEqual(read_entries(self.folder), [])

    def test_stop_command_stops_every_server_a_folder_names(self):
        a = Registry(self.folder).acquire("a" * 16, self.make, {})
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([helpers.HARNESS_DIR, os.environ.get("PYTHONPATH", "")]))
        done = subprocess.run([sys.executable, "-m", "lem_harness.serving.registry", "stop", self.folder,
                               os.path.join(self.folder, "missing")], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("stopped 1 shared server(s)", done.stderr)
        self.assertFalse(process_group.group_alive(a.pgid))
        self.assertEqual(read_entries(self.folder), [])

    def test_the_server_outlives_the_process_that_started_it_and_is_reused(self):
        # The harness that starts a server exits after its node: no parent-death signal, no stop at exit.
        code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])\n"
                "from lem_harness.serving.registry import Registry\n"
                "from lem_harness.serving.vllm_server import VllmServer\n"
                "s = Registry(sys.argv[3]).acquire('c' * 16, lambda p: VllmServer('m', p, executable=sys.argv[4], "
                "die_with_parent=False), {'hash': 'h', 'cycle': 2})\n"
                "print(s.pid)\n")
        tests = os.path.dirname(os.path.abspath(__file__))
        done = subprocess.run([sys.executable, "-c", code, helpers.HARNESS_DIR, tests, self.folder, self.vllm],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        pid = int(done.stdout.strip())
        time.sleep(0.5)
        self.assertTrue(process_group.alive(pid), "the server died with the process that started it")
        shared = Registry(self.folder).acquire("c" * 16, self.make, {})
        self.assertTrue(shared.reused)
        self.assertEqual(shared.pid, pid)
        self.assertTrue(shared.running)
        self.assertIsNone(shared.returncode)
        os.killpg(pid, signal.SIGKILL)
        self.assertTrue(helpers.wait_until(lambda: not shared.running), "a gone server that is no child is seen as gone")


class SharedRegistryChoiceTest(unittest.TestCase):
    def test_the_registry_is_used_only_with_lem_server_dir_and_a_server_key(self):
        from lem_harness.serving.run import shared_registry

        self.assertIsNone(shared_registry({"server_key": "a" * 16}, {}), "Docker, Slurm: a server per node")
        self.assertIsNone(shared_registry({}, {"LEM_SERVER_DIR": "/tmp/x"}), "no key: a server of its own")
        registry = shared_registry({"server_key": "a" * 16}, {"LEM_SERVER_DIR": "/tmp/x", "LEM_PARENT_PID": "42"})
        self.assertEqual((registry.folder, registry.parent), ("/tmp/x", 42))
        self.assertEqual(registry.log_of("a" * 16), "/tmp/x/server-aaaaaaaaaaaaaaaa.log")


class WatchdogTest(RegistryTestCase):
    def test_removing_the_entry_stops_the_server(self):
        a = Registry(self.folder).acquire("a" * 16, self.make, {})
        watchdog = read_entry(self.folder, "a" * 16)["watchdog_pid"]
        os.unlink(entry_path(self.folder, "a" * 16))
        self.assertTrue(helpers.wait_until(lambda: not process_group.group_alive(a.pgid), 20), "the watchdog left the server")
        self.assertTrue(helpers.wait_until(lambda: not process_group.alive(watchdog)))

    def test_lem_gone_stops_the_server_and_removes_the_folder(self):
        lem = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        self.addCleanup(lambda: lem.poll() is None and lem.kill())
        a = Registry(self.folder, str(lem.pid)).acquire("a" * 16, self.make, {})
        time.sleep(1.5)
        self.assertTrue(a.running, "the watchdog stopped the server while lem was alive")
        lem.kill()
        lem.wait()
        self.assertTrue(helpers.wait_until(lambda: not process_group.group_alive(a.pgid), 20), "the watchdog left the server")
        self.assertTrue(helpers.wait_until(lambda: not os.path.exists(self.folder), 10), "the registry folder was left")


@helpers.needs_transformers
class SharedServerThroughTheHarnessTest(unittest.TestCase):
    """Two nodes of one server key through python -m lem_harness (backend vllm, the stand-in server)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lem-shared-fake-vllm-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        fake_vllm.install(cls.dir)

    def config(self, rate):
        config = helpers.tiny_config(
            backend="vllm", scenario="serving", max_input_tokens=16, max_output_tokens=4, precision="bf16",
            baseline={"enabled": False}, energy={"backend": "none", "sample_interval_ms": 100},
            serving={"request_rate": rate, "num_requests": 6, "warmup_requests": 1},
            vllm={"engine": {"max_num_seqs": 4, "gpu_memory_utilization": 0.9, "tensor_parallel_size": 1,
                             "enforce_eager": False, "max_model_len": None, "enable_prefix_caching": False},
                  "sampling": {"min_tokens": None, "presence_penalty": 0, "frequency_penalty": 0}})
        del config["pytorch"]
        return config

    def run_node(self, config, folder, key, fail=False):
        exchange = helpers.ExchangeDir(config)
        self.addCleanup(exchange.cleanup)
        with open(exchange.config_path) as f:
            envelope = json.load(f)
        envelope["server_key"] = key
        with open(exchange.config_path, "w") as f:
            json.dump(envelope, f)
        env = dict(PATH=f"{self.dir}{os.pathsep}{os.environ.get('PATH', '')}", LEM_CACHE_DIR=self.dir,
                   FAKE_VLLM_TOKEN_S="0.01", LEM_SERVER_DIR=folder, LEM_PARENT_PID=str(os.getpid()))
        return exchange, exchange.run(timeout=180, **env)

    def test_two_nodes_share_one_server(self):
        folder = tempfile.mkdtemp(prefix="lem-servers-", dir=self.dir)
        self.addCleanup(lambda: [process_group.stop_group(e.get("pgid"), 2.0) for _, e in read_entries(folder)])
        key = "d" * 16
        first, proc = self.run_node(self.config(50), folder, key)
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        self.assertIn("starting the server (shared", proc.stderr)
        second, proc2 = self.run_node(self.config("inf"), folder, key)
        self.assertEqual(proc2.returncode, 0, proc2.stderr[-3000:])
        self.assertNotIn("starting the server", proc2.stderr)
        a, b = first.read(first.result_path), second.read(second.result_path)
        self.assertEqual(helpers.result_schema_errors(a), [])
        self.assertEqual(helpers.result_schema_errors(b), [])
        sa, sb = a["serving"]["server"], b["serving"]["server"]
        self.assertEqual((sa["shared"], sa["reused"], sa["key"]), (True, False, key))
        self.assertEqual((sb["shared"], sb["reused"], sb["key"]), (True, True, key))
        self.assertEqual(sb["startup_s"], sa["startup_s"])
        self.assertEqual(sb["started_by"], {"hash": helpers.HASH, "cycle": 2})
        [(_, entry)] = read_entries(folder)
        self.assertTrue(process_group.alive(entry["pid"]), "the server stays for the next node")


if __name__ == "__main__":
    unittest.main()
