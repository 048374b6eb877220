// Shared servers on --runner slurm end to end (issue 20 §2), against a real single-node Slurm
// (slurm-wlm + munge, brought up per file) and the real harness: the serving nodes of one server key
// run in one server job (lem_harness/serving/job_worker.py) on one `transformers serve`, started once;
// no server, job or registry is left after the build, a Ctrl-C mid-load, or a SIGKILLed lem.
//
// Needs Slurm (as root) and a Python with transformers' serving extra (lem's venv); skips loudly
// without them, unless LEM_REQUIRE_SLURM=1 / LEM_REQUIRE_TRANSFORMERS=1 (CI), where it fails.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TempProject } from "./helpers/project.js";
import { requireTransformers } from "./helpers/python.js";
import { requireSlurm, startCluster, type SlurmCluster } from "./helpers/slurm.js";
import { processesWith } from "./helpers/processes.js";
import { tempDir } from "./helpers/temp.js";
import { validators } from "../src/config/schemas.js";
import { PROBE_FILE } from "../src/exec/slurm/compute-hardware.js";

const FILE = "slurm-serving.e2e.test.ts";

function requireServe(): string | undefined {
  const python = requireTransformers(FILE);
  if (!python) return undefined;
  const check = spawnSync(python, ["-c", "from transformers.utils.import_utils import is_serve_available as a; raise SystemExit(0 if a() else 1)"], { stdio: "ignore" });
  if (check.status === 0) return python;
  if (process.env.LEM_REQUIRE_TRANSFORMERS === "1") throw new Error(`${FILE}: ${python} has no transformers serve, and LEM_REQUIRE_TRANSFORMERS=1`);
  console.warn(`\n!! SKIPPING ${FILE}: ${python} has no transformers serve (pip install 'transformers[serving]')\n`);
  return undefined;
}

const haveSlurm = requireSlurm(FILE);
const python = haveSlurm ? requireServe() : undefined;

interface ServerBlock { shared?: boolean; reused?: boolean; key?: string; startup_s: number; started_by?: { hash: string; cycle: number } }
interface Result { hash: string; cycle: number; effective_config: { runner_type: string }; config: { serving: { request_rate: number | "inf" } };
  serving: { server: ServerBlock; completed: number } }
type Build = { nodes: { name: string; state: string; error?: { type: string; message: string } }[]; summary: Record<string, number> };

const serving = (s: string) => `{ model: "synthetic:tiny", scenario: "serving", precision: "fp32", max_input_tokens: 16,
    max_output_tokens: 6, baseline: { enabled: false }, energy: { backend: "none" }, pytorch: { device: "cpu", num_threads: 1 },
    serving: ${s} }`;

/** A project that sends pytorch nodes to the test cluster; its jobs (--export=ALL) share lem's TMPDIR and model cache. */
function project(cluster: SlurmCluster, body: string, env: NodeJS.ProcessEnv = {}) {
  const root = tempDir("lem-slurm-serving-");
  const tmp = join(root, "tmp");
  const cache = join(root, "cache");
  mkdirSync(tmp);
  mkdirSync(cache);
  const p = new TempProject(body, { LEM_PYTHON: python, LEM_CACHE_DIR: cache, HF_HUB_CACHE: join(cache, "hub"), TMPDIR: tmp, ...cluster.env, ...env });
  writeFileSync(join(p.dir, ".lem-config.yaml"), `runners: { pytorch: slurm }\nslurm:\n  python: ${python}\n  shared_dir: .lem/slurm\n  poll_max_seconds: 1\n`);
  return { p, tmp, model: join(cache, "models", "tiny-42") };
}

/** Lines the jobcomp log gained since `before`. */
const jobsSince = (cluster: SlurmCluster, before: string) => readFileSync(cluster.jobcomp, "utf8").slice(before.length).split("\n").filter(Boolean);

function assertNothingLeft(cluster: SlurmCluster, p: TempProject, tmp: string, model: string, queueKept = false) {
  assert.is(cluster.squeue(), "", "a job outlived lem build");
  assert.equal(processesWith(model).filter((c) => c.includes("serve")), [], "a transformers serve process outlived lem build");
  assert.equal(processesWith(tmp), [], "a worker, watchdog or server outlived lem build");
  assert.equal(readdirSync(tmp).filter((n) => n.startsWith("lem-servers-")), [], "the job's registry folder was left");
  if (!queueKept) assert.equal(readdirSync(join(p.dir, ".lem/slurm")).filter((n) => n !== PROBE_FILE && !n.startsWith("llem-")), [], "a server job's queue folder was left");
}

/** The job's registry entry, once its server is up (the job shares lem's TMPDIR on this one-node cluster). */
async function waitForServer(tmp: string, timeoutMs = 240_000): Promise<{ pid: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const dir of readdirSync(tmp).filter((n) => n.startsWith("lem-servers-"))) {
      for (const name of readdirSync(join(tmp, dir)).filter((n) => /^server-.*\.json$/.test(n))) {
        try { return JSON.parse(readFileSync(join(tmp, dir, name), "utf8")) as { pid: number }; } catch { /* being written */ }
      }
    }
    await sleep(200);
  }
  throw new Error("no shared server was registered");
}

async function until(what: string, ok: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(250);
  }
}

const slowLoad = serving("{ request_rate: 2, num_requests: 24, warmup_requests: 2 }");

if (haveSlurm && python) {
  const cluster = startCluster();
  test.after(() => cluster.stop());

  test("2 engine configs × 2 request rates: one server job and one server start per config, valid results, nothing left", async () => {
    const { p, tmp, model } = project(cluster, `{
  defaults: ${serving("{ request_rate: 8, num_requests: 8, warmup_requests: 2 }")},
  experiments: sweep("s", { "serving.engine.num_blocks": [16, 24], "serving.request_rate": [8, "inf"] }),
}`);
    const before = readFileSync(cluster.jobcomp, "utf8");
    const build = await p.json<Build>("build");
    assert.equal(build.summary, { ran: 4, cached: 0, failed: 0, skipped: 0 }, JSON.stringify(build.nodes.filter((n) => n.error)));
    const stored = p.resultFiles().map((f) => JSON.parse(readFileSync(join(p.dir, "results", f), "utf8")) as Result);
    assert.is(stored.length, 4);
    const byKey = new Map<string, Result[]>();
    for (const r of stored) {
      assert.ok(validators.result(r), JSON.stringify(validators.result.errors));
      assert.is(r.effective_config.runner_type, "slurm");
      assert.is(r.serving.completed, 8);
      assert.is(r.serving.server.shared, true);
      byKey.set(r.serving.server.key!, [...(byKey.get(r.serving.server.key!) ?? []), r]);
    }
    assert.is(byKey.size, 2);
    // Per key one server start: one node started it, the other reused it (the harness's registry says so).
    for (const list of byKey.values()) {
      const [starter, ...reusers] = [...list].sort((a, b) => Number(a.serving.server.reused) - Number(b.serving.server.reused));
      assert.equal([starter.serving.server.reused, reusers.map((r) => r.serving.server.reused)], [false, [true]]);
      assert.equal(reusers[0].serving.server.started_by, { hash: starter.hash, cycle: starter.cycle });
      assert.is(reusers[0].serving.server.startup_s, starter.serving.server.startup_s);
    }
    // The nodes ran in server jobs only, one per key (named for its key and lane), each ended cleanly.
    const jobs = jobsSince(cluster, before).filter((l) => / Name=lem-/.test(l) && !/ Name=lem-probe /.test(l));
    assert.is(jobs.length, 2, jobs.join("\n"));
    const names = jobs.map((l) => / Name=(\S+) /.exec(l)![1]);
    assert.equal(names.map((n) => /^lem-srv-([0-9a-f]{16})-l\d+$/.exec(n)?.[1]).sort(), [...byKey.keys()].sort(), names.join(" "));
    assert.ok(jobs.every((l) => /JobState=COMPLETED /.test(l)), jobs.join("\n"));
    assertNothingLeft(cluster, p, tmp, model);
    assert.equal(readdirSync(join(p.dir, ".lem/slurm")), [PROBE_FILE]);
  });

  test("Ctrl-C mid-load cancels the server job: exit 130, no job, no server, nothing stored", async () => {
    const { p, tmp, model } = project(cluster, `{ defaults: ${slowLoad}, experiments: [{ name: "slow" }] }`);
    const build = p.run("build");
    const server = await waitForServer(tmp);
    await sleep(3000); // inside a 12 s load
    assert.ok(processesWith(model).length > 0, "the server is up");
    build.child.kill("SIGINT");
    const done = await build;
    assert.is(done.code, 130, done.stdout + done.stderr);
    assert.equal(p.resultFiles(), []);
    await until(`the server (pid ${server.pid}) is gone`, () => processesWith(model).length === 0, 30_000);
    assertNothingLeft(cluster, p, tmp, model);
  });

  test("a SIGKILLed lem: its heartbeat stops, the worker stops the server and the job leaves the queue", async () => {
    // The worker gives up after 15 s without a beat (60 s by default; lem beats every 5 s); the job sees lem's environment.
    const { p, tmp, model } = project(cluster, `{ defaults: ${slowLoad}, experiments: [{ name: "slow" }] }`, { LEM_JOB_HEARTBEAT_TIMEOUT_S: "15" });
    const before = readFileSync(cluster.jobcomp, "utf8");
    const build = p.run("build");
    await waitForServer(tmp);
    await sleep(2000);
    build.child.kill("SIGKILL");
    await build;
    await until("the server job has left the queue", () => cluster.squeue() === "");
    const job = jobsSince(cluster, before).find((l) => / Name=lem-srv-/.test(l));
    assert.ok(job, "the server job ran");
    // The job's queue folder stays on the shared folder (its output says why it ended): nobody was left to remove it.
    assertNothingLeft(cluster, p, tmp, model, true);
  });
}

test.run();
