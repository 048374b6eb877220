"""serving/job_worker.py: the worker of a Slurm job that runs the serving nodes of one server key on one server.
The worker runs as a process (python -m lem_harness.serving.job_worker) with a stand-in harness that takes its
key's "server" (a detached `sleep`, registered in LEM_SERVER_DIR as registry.py would) or reuses it:

- the queue's nodes run in seq order, each with its own exit marker; the second node reuses the first's server;
- `done` stops the servers, removes the job's registry folder and exits 0;
- a heartbeat that stops changing ends the worker (and a running node), servers stopped; one that changes does not;
- SIGTERM reaches the running harness, which writes its Interrupted payload; servers stopped; exit 143."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

# Run by discovery (-s tests) or by name (tests.test_serving_job_worker): helpers is beside this file either way.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helpers  # noqa: E402
from lem_harness import processes as process_group  # noqa: E402
from lem_harness.serving.job_worker import Heartbeat, next_node  # noqa: E402

FAKE_HARNESS = r'''
import json, os, signal, subprocess, sys, time
from lem_harness.serving.registry import entry_path, read_entries, write_entry

config = os.environ["LEM_CONFIG_PATH"]
folder = os.path.dirname(config)
envelope = json.load(open(config))
hash_ = envelope["hash"]

def on_term(signum, frame):
    with open(os.path.join(folder, f"{hash_}_error.json"), "w") as f:
        json.dump({"type": "Interrupted", "message": "SIGTERM"}, f)
    sys.exit(143)

signal.signal(signal.SIGTERM, on_term)
registry = os.environ["LEM_SERVER_DIR"]
key = envelope["server_key"]
path = entry_path(registry, key)
reused = path in dict(read_entries(registry))
if reused:
    server = json.load(open(path))["pid"]
else:
    server = subprocess.Popen(["sleep", "600"], start_new_session=True).pid
    write_entry(path, {"key": key, "pid": server, "pgid": server, "label": "fake serve"})
with open(os.path.join(folder, "seen.json"), "w") as f:
    json.dump({"reused": reused, "server": server, "registry": registry, "parent": os.environ.get("LEM_PARENT_PID"),
               "last": os.environ.get("LEM_SERVER_LAST")}, f)
print("fake harness ran", hash_, flush=True)
time.sleep(envelope.get("sleep", 0))
with open(os.path.join(folder, f"{hash_}_result.json"), "w") as f:
    json.dump({"hash": hash_}, f)
'''




class JobWorkerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lem-job-worker-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.queue = os.path.join(self.tmp, "queue")
        self.compute_tmp = os.path.join(self.tmp, "compute-tmp")
        os.makedirs(self.queue)
        os.makedirs(self.compute_tmp)
        self.fake = os.path.join(self.tmp, "fake_harness.py")
        with open(self.fake, "w") as f:
            f.write(FAKE_HARNESS)
        self.servers = []
        self.addCleanup(self.kill_servers)
        self.beat = 0
        self.heartbeat()

    def kill_servers(self):
        for pid in self.servers:
            process_group.signal_group(pid, signal.SIGKILL)

    def heartbeat(self):
        """What lem does every few seconds: new contents, written temp + rename."""
        self.beat += 1
        tmp = os.path.join(self.queue, "heartbeat.tmp")
        with open(tmp, "w") as f:
            f.write(str(self.beat))
        os.replace(tmp, os.path.join(self.queue, "heartbeat"))

    def start(self, heartbeat_timeout=30.0):
        env = dict(os.environ, PYTHONPATH=helpers.HARNESS_DIR, TMPDIR=self.compute_tmp)
        env.pop("LEM_SERVER_DIR", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "lem_harness.serving.job_worker", self.queue, "--harness", f"{sys.executable} {self.fake}",
             "--heartbeat-timeout", str(heartbeat_timeout), "--poll", "0.05", "--child-grace", "5"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def hand(self, seq, hash_, sleep=0.0, last=False):
        """A node as lem hands it over: its exchange dir and config, then node-<seq>.json (temp + rename)."""
        exchange = os.path.join(self.tmp, f"llem-{seq}")
        os.makedirs(exchange)
        config = os.path.join(exchange, f"{hash_}_config.json")
        with open(config, "w") as f:
            json.dump({"hash": hash_, "cycle": 1, "server_key": "k" * 16, "config": {}, "sleep": sleep}, f)
        tmp = os.path.join(self.queue, f"node-{seq}.json.tmp-1")
        with open(tmp, "w") as f:
            json.dump({"seq": seq, "config_path": config, "log_path": os.path.join(exchange, "harness.log"), "last": last}, f)
        os.replace(tmp, os.path.join(self.queue, f"node-{seq}.json"))
        return exchange

    def exit_of(self, seq, timeout=20.0):
        path = os.path.join(self.queue, f"node-{seq}.exit.json")
        self.assertTrue(helpers.wait_until(lambda: os.path.exists(path), timeout), f"no exit marker for node {seq}")
        with open(path) as f:
            return json.load(f)

    def seen(self, exchange):
        with open(os.path.join(exchange, "seen.json")) as f:
            seen = json.load(f)
        self.servers.append(seen["server"])
        return seen

    def registries(self):
        return [n for n in os.listdir(self.compute_tmp) if n.startswith("lem-servers-")]

    def test_nodes_run_in_order_on_one_server_then_done_stops_it(self):
        worker = self.start()
        second = self.hand(2, "b" * 16, last=True)
        first = self.hand(1, "a" * 16)
        self.assertEqual(self.exit_of(1), {"seq": 1, "exit_code": 0, "signal": None})
        self.assertEqual(self.exit_of(2), {"seq": 2, "exit_code": 0, "signal": None})
        one, two = self.seen(first), self.seen(second)
        self.assertFalse(one["reused"])
        self.assertTrue(two["reused"], "the key's second node runs on the first node's server")
        self.assertEqual(two["server"], one["server"])
        self.assertLess(os.path.getmtime(os.path.join(first, "seen.json")), os.path.getmtime(os.path.join(second, "seen.json")))
        # The job's own registry on the compute node's TMPDIR; the worker is the harness's parent there.
        self.assertEqual(os.path.dirname(one["registry"]), self.compute_tmp)
        self.assertTrue(os.path.basename(one["registry"]).startswith("lem-servers-"))
        self.assertEqual(one["parent"], str(worker.pid))
        self.assertEqual((one["last"], two["last"]), (None, "1"))
        with open(os.path.join(first, "harness.log")) as f:
            self.assertIn("fake harness ran", f.read())
        self.assertTrue(process_group.alive(one["server"]), "the server stays between nodes")

        open(os.path.join(self.queue, "done"), "w").close()
        self.assertEqual(worker.wait(20), 0, worker.stdout.read())
        self.assertFalse(process_group.alive(one["server"]), "done stops the server")
        self.assertEqual(self.registries(), [])

    def test_a_silent_heartbeat_ends_an_idle_worker_and_stops_its_server(self):
        worker = self.start(heartbeat_timeout=1.5)
        exchange = self.hand(1, "a" * 16)
        self.assertEqual(self.exit_of(1)["exit_code"], 0)
        server = self.seen(exchange)["server"]
        # While lem keeps beating the worker waits, past the timeout.
        for _ in range(8):
            self.heartbeat()
            time.sleep(0.4)
        self.assertIsNone(worker.poll(), "a changing heartbeat keeps the worker")
        # lem SIGKILLed: no more beats.
        self.assertEqual(worker.wait(20), 3)
        output = worker.stdout.read()
        self.assertIn("heartbeat has not changed", output)
        self.assertFalse(process_group.alive(server))
        self.assertEqual(self.registries(), [])

    def test_a_silent_heartbeat_stops_a_running_node(self):
        worker = self.start(heartbeat_timeout=1.0)
        exchange = self.hand(1, "a" * 16, sleep=60)
        self.assertEqual(worker.wait(30), 3, worker.stdout.read())
        self.assertEqual(self.exit_of(1, 1)["exit_code"], 143)
        self.assertTrue(os.path.exists(os.path.join(exchange, f"{'a' * 16}_error.json")))
        self.assertFalse(process_group.alive(self.seen(exchange)["server"]))
        self.assertEqual(self.registries(), [])

    def test_sigterm_reaches_the_running_harness_which_writes_interrupted_then_servers_stop(self):
        worker = self.start()
        exchange = self.hand(1, "a" * 16, sleep=60)
        self.assertTrue(helpers.wait_until(lambda: os.path.exists(os.path.join(exchange, "seen.json"))))
        server = self.seen(exchange)["server"]
        worker.send_signal(signal.SIGTERM)
        self.assertEqual(worker.wait(20), 143, worker.stdout.read())
        with open(os.path.join(exchange, f"{'a' * 16}_error.json")) as f:
            self.assertEqual(json.load(f)["type"], "Interrupted")
        self.assertEqual(self.exit_of(1, 1), {"seq": 1, "exit_code": 143, "signal": None})
        self.assertFalse(os.path.exists(os.path.join(exchange, f"{'a' * 16}_result.json")))
        self.assertFalse(process_group.alive(server))
        self.assertEqual(self.registries(), [])

    def test_an_unreadable_node_gets_an_exit_marker_and_the_next_one_runs(self):
        worker = self.start()
        with open(os.path.join(self.queue, "node-1.json"), "w") as f:
            f.write("{not json")
        exchange = self.hand(2, "b" * 16)
        self.assertIsNone(self.exit_of(1)["exit_code"])
        self.assertIn("could not start node-1.json", self.exit_of(1)["error"])
        self.assertEqual(self.exit_of(2)["exit_code"], 0)
        self.seen(exchange)
        open(os.path.join(self.queue, "done"), "w").close()
        self.assertEqual(worker.wait(20), 0)


class HeartbeatTest(unittest.TestCase):
    def test_stale_only_after_the_contents_stay_the_same_for_the_timeout(self):
        folder = tempfile.mkdtemp(prefix="lem-heartbeat-test-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "heartbeat")
        now = [100.0]
        beat = Heartbeat(path, 60.0, clock=lambda: now[0])  # no file yet: the clock starts now
        now[0] = 150.0
        self.assertFalse(beat.stale())
        with open(path, "w") as f:
            f.write("1")
        now[0] = 200.0
        self.assertFalse(beat.stale(), "new contents restart the clock")
        now[0] = 259.0
        self.assertFalse(beat.stale())
        now[0] = 261.0
        self.assertTrue(beat.stale(), "the same contents for over 60 s: lem is gone")

    def test_next_node_is_the_lowest_seq_not_yet_handled(self):
        folder = tempfile.mkdtemp(prefix="lem-queue-test-")
        self.addCleanup(shutil.rmtree, folder, True)
        for name in ("node-3.json", "node-10.json", "node-2.exit.json", "node-4.json.tmp-9", "heartbeat", "done"):
            open(os.path.join(folder, name), "w").close()
        self.assertEqual(next_node(folder, set()), 3)
        self.assertEqual(next_node(folder, {3}), 10)
        self.assertIsNone(next_node(folder, {3, 10}))


if __name__ == "__main__":
    unittest.main()
